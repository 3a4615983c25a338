// The torch-free half of a Hugging Face checkpoint directory: config.json, the shard index, every safetensors
// header, and their validation against each other (the symbolic-link rule, sizes in the config against the
// tensors present, every expected tensor with its shape and a float dtype). Reads headers only, never the
// weights, and links no LibTorch, so `layerscope-cli info` runs in the launcher (docs/design.md, "CLI start-up").
// Checkpoint (checkpoint.h) adds the memory mapping and the tensors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/model/config.h"
#include "core/model/safetensors_header.h"

namespace layerscope::core {

/// One safetensors file's validated header.
struct SafetensorsHeader {
  std::filesystem::path path;
  std::map<std::string, StEntry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t fileSize = 0;
};

/// Reads and validates the header of `path` (the length prefix and the JSON, with the data section's size taken
/// from the file's size) without reading the tensor bytes. Throws CheckpointError naming the file.
SafetensorsHeader readSafetensorsHeader(const std::filesystem::path& path);

class CheckpointLayout {
 public:
  /// Opens `dir`; throws ConfigError / CheckpointError naming the file and the problem. Every expected tensor
  /// must be present with the expected shape and a float dtype; extra tensors are listed in `unexpected()`.
  static CheckpointLayout open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  /// The safetensors files, in index order (one for an unsharded checkpoint).
  const std::vector<SafetensorsHeader>& shards() const { return shards_; }
  /// Index in shards() of the file holding `name`; throws CheckpointError when there is none.
  std::size_t shardOf(const std::string& name) const;
  const StEntry& entry(const std::string& name) const { return shards_[shardOf(name)].entries.at(name); }
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  const std::vector<std::string>& unexpected() const { return unexpected_; }
  /// The stored dtype of the weights ("BF16", "F32", "F16", or "mixed").
  std::string storedDtype() const;
  /// Total bytes of the safetensors files.
  uint64_t fileBytes() const;
  /// Expected tensor names and shapes for a config (embeddings, layers, final norm, lm_head unless tied).
  static std::vector<std::pair<std::string, std::vector<int64_t>>> expectedTensors(const ModelConfig& c);

 private:
  std::filesystem::path dir_;
  ModelConfig config_;
  std::vector<SafetensorsHeader> shards_;
  std::map<std::string, std::size_t> where_;  // tensor name -> index in shards_
  std::vector<std::string> unexpected_;
};

}  // namespace layerscope::core
