// safetensors reading (memory-mapped, validated like the reference implementation) and writing (atomic).
// Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the tensor bytes. The validation
// itself is torch-free and lives in safetensors_header.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/model/safetensors_header.h"

namespace layerscope::core {

/// A validated, memory-mapped safetensors file. Tensors returned by `tensor()` alias the mapping (zero copy)
/// and keep it alive; they must never be written to (the mapping is read-only).
class SafetensorsFile {
 public:
  /// Maps and validates `path`; throws CheckpointError naming the file and the problem.
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, StEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  const StEntry& entry(const std::string& name) const;
  /// Zero-copy view (copied only if the bytes are misaligned for the type). F32/F16/BF16/I32/I64/U8/BOOL/F64.
  torch::Tensor tensor(const std::string& name) const;
  uint64_t fileSize() const { return size_; }

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  std::map<std::string, StEntry> entries_;
  std::map<std::string, std::string> metadata_;
  const uint8_t* base_ = nullptr;  // start of mapping
  uint64_t size_ = 0;
  uint64_t dataStart_ = 0;
  std::weak_ptr<SafetensorsFile> self_;
};

/// Writes tensors (made contiguous, on CPU) to `path` atomically, in name order. F32/F16/BF16/I64/I32/U8/BOOL/F64.
void writeSafetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// One tensor of a streamed file: name, stored dtype and shape, and `make`, which produces it when its turn comes.
struct StreamedTensor {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;
  std::function<torch::Tensor()> make;  ///< called once, in list order; converted to `dtype` if needed
  uint64_t bytes() const;                ///< stored size: the product of `shape` x the size of `dtype`
};

/// Writes a file whose tensors are made one at a time, each written and released before the next is made, so the
/// peak memory is about one tensor, not the file (a 16 GB checkpoint on a 24 GiB machine). The data section
/// follows the list's order (safetensors allows any order without gaps or overlaps); written atomically like
/// writeSafetensors. A tensor whose shape differs from the declared one is an Error naming it.
void writeSafetensorsStreaming(const std::filesystem::path& path, const std::vector<StreamedTensor>& tensors,
                               const std::map<std::string, std::string>& metadata = {});

}  // namespace layerscope::core
