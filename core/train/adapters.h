// LS-LoRA and GARFA adapters (docs/methods.md section 7): per-run trainable state on top of an immutable LlamaModel,
// turned into core::Interventions for the forward. Files: the PEFT layout for LoRA (adapter_config.json +
// adapter_model.safetensors) and a LayerScope sidecar for GARFA (garfa_config.json + garfa.safetensors).
// Adapters are float32 whatever the base compute dtype. Layer targeting is validated, never a silent no-op.
// The specs and the JSON files are adapter_config.h (torch-free); this file adds the tensors.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/model/config.h"
#include "core/model/model.h"
#include "core/model/names.h"
#include "core/train/adapter_config.h"
#include "core/train/trainer.h"

namespace layerscope::core {

/// Trainable adapter state for one model configuration.
class AdapterSet {
 public:
  /// Fresh adapters: A Kaiming-uniform (PEFT's kaiming_uniform_(a = sqrt 5): U(-1/sqrt(in), 1/sqrt(in))) from
  /// `seed`, B = 0, beta = 0 (so the adapted model equals the base). Throws InvalidArgument on a layer out of
  /// range, a duplicate layer, an empty target list, rank < 1, dropout outside [0, 1) or a bad clamp range.
  static AdapterSet create(const ModelConfig& config, const AdapterSpec& spec, uint64_t seed);
  /// Loads an adapter directory (LoRA files, GARFA files or both). Throws CheckpointError on a missing or
  /// malformed file, a missing key or a shape that does not match `config`.
  static AdapterSet load(const std::filesystem::path& dir, const ModelConfig& config);
  /// True if `dir` holds adapter_config.json or garfa_config.json.
  static bool isAdapterDir(const std::filesystem::path& dir) { return isAdapterDirectory(dir); }

  /// Writes the PEFT LoRA files (if any LoRA) and the GARFA sidecar (if any GARFA) into `dir`, each file
  /// atomically (weights before their config, so a config never names tensors that are not there yet).
  void save(const std::filesystem::path& dir) const;

  /// Interventions for the forward: LoRA slots and ropeAlpha = exp(beta) (recomputed per call, so gradients
  /// reach beta). `training` enables LoRA dropout.
  Interventions interventions(bool training = false) const;

  /// Trainable parameters with stable names (the PEFT / GARFA keys), for the Trainer's groups.
  std::vector<NamedParam> loraParameters() const;
  std::vector<NamedParam> garfaParameters() const;
  int64_t loraParameterCount() const;
  int64_t garfaParameterCount() const;

  /// Projection that keeps exp(beta) in the clamp range (empty function when clamping is off).
  std::function<void(torch::Tensor&)> garfaProjection() const;

  /// The model's weights under HF names with LoRA folded in (W + scale B A, computed in float32 and cast back
  /// to the weight's dtype). GARFA cannot be folded (it is not a weight) and stays a sidecar.
  std::vector<std::pair<std::string, torch::Tensor>> mergedWeights(const LlamaModel& model) const;

  const AdapterSpec& spec() const { return spec_; }
  const ModelConfig& config() const { return config_; }
  bool hasLora() const { return !spec_.lora.layers.empty(); }
  bool hasGarfa() const { return !spec_.garfa.layers.empty(); }
  const LoraSlot& slot(int layer, Proj p) const { return lora_.at(size_t(layer))[size_t(p)]; }
  const torch::Tensor& beta(int layer) const { return beta_.at(size_t(layer)); }

  /// adapter_config.json / garfa_config.json contents.
  nlohmann::json peftConfigJson() const;
  nlohmann::json garfaConfigJson() const;

 private:
  AdapterSpec spec_;
  ModelConfig config_;
  std::vector<std::array<LoraSlot, kNumProj>> lora_;  // [L]; inactive slots undefined
  std::vector<torch::Tensor> beta_;                   // [L]; undefined or [G] float32 leaf
};

/// Writes a full HF checkpoint to `out`: config.json (torch_dtype of the merged weights), model.safetensors with
/// LoRA folded in, the base directory's tokenizer files, and the GARFA sidecar files copied beside it (they are
/// then loadable with `--adapter out`). Written into a staging sibling and moved into place complete, so `out` is
/// all or nothing. An existing `out` is an InvalidArgument unless `overwrite` (then swapped in one step), and so
/// is an `out` that is the base or adapter folder, both before any work. The products B A are computed on
/// `device`; the file is written from the host.
void mergeAdapter(const std::filesystem::path& baseDir, const std::filesystem::path& adapterDir,
                  const std::filesystem::path& out, c10::Device device = hostDevice(), bool overwrite = false);

/// Loads a model and, if `adapterDir` is non-empty, its adapter (the one "model + adapter" entry point the CLI
/// and GUI use).
struct LoadedModel {
  std::shared_ptr<const LlamaModel> model;
  std::shared_ptr<const AdapterSet> adapter;  ///< null without an adapter
  /// Interventions to pass to every forward (empty without an adapter). Built once, inference only.
  Interventions interventions() const;
};
/// The adapted model as an immutable model: LoRA folded into the weights (mergedWeights) and GARFA's
/// alpha = exp(beta) baked in as fixed RoPE multipliers, so code that runs a plain model (the layer analyses)
/// runs the adapted one unchanged. Same compute dtype as `model`.
std::shared_ptr<const LlamaModel> bakeAdapter(const LlamaModel& model, const AdapterSet& adapter);

LoadedModel loadModelWithAdapter(const std::filesystem::path& modelDir, const std::filesystem::path& adapterDir,
                                 torch::ScalarType dtype, c10::Device device = hostDevice());

}  // namespace layerscope::core
