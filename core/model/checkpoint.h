// A Hugging Face checkpoint directory: config.json plus one safetensors file or shards listed in
// model.safetensors.index.json. Opening validates every file and the tensor set against the config
// (CheckpointLayout, torch-free) and maps the files; tensors are views of the mappings.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model/checkpoint_layout.h"
#include "core/model/config.h"
#include "core/model/safetensors.h"

namespace layerscope::core {

class Checkpoint {
 public:
  /// Opens `dir`; throws ConfigError / CheckpointError naming the file and the problem. Every expected tensor
  /// must be present with the expected shape and a float dtype; extra tensors are listed in `unexpected()`.
  static Checkpoint open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return layout_.dir(); }
  const ModelConfig& config() const { return layout_.config(); }
  const CheckpointLayout& layout() const { return layout_; }
  /// Zero-copy view of a stored tensor.
  torch::Tensor tensor(const std::string& name) const;
  /// A stored tensor in `dtype` on `device`: the view itself when that is the stored dtype on the host, else a
  /// copy made from the mapping for this tensor alone (narrowing dtypes convert before the transfer, widening
  /// ones after it), after which the tensor's pages of the mapping are released. Loading a model tensor by
  /// tensor so keeps host memory near the size of the largest tensor, not the model.
  torch::Tensor load(const std::string& name, torch::ScalarType dtype, c10::Device device) const;
  bool contains(const std::string& name) const { return layout_.contains(name); }
  const std::vector<std::string>& unexpected() const { return layout_.unexpected(); }
  /// The stored dtype of the weights ("BF16", "F32", "F16", or "mixed").
  std::string storedDtype() const { return layout_.storedDtype(); }
  /// Total bytes of the safetensors files.
  uint64_t fileBytes() const { return layout_.fileBytes(); }
  /// Expected tensor names and shapes for a config (embeddings, layers, final norm, lm_head unless tied).
  static std::vector<std::pair<std::string, std::vector<int64_t>>> expectedTensors(const ModelConfig& c) {
    return CheckpointLayout::expectedTensors(c);
  }

 private:
  CheckpointLayout layout_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;  // mapped, in layout_.shards() order
};

}  // namespace layerscope::core
