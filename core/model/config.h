// Model configuration read from a Hugging Face config.json (Llama family, docs/methods.md section 1).
// Architecture is decided by fields, not by model names; unsupported values are ConfigErrors naming the field.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerscope::core {

/// RoPE frequency scaling (`rope_scaling` in config.json).
struct RopeScaling {
  enum class Kind { None, Linear, Llama3 };
  Kind kind = Kind::None;
  double factor = 1.0;                  ///< linear and llama3: frequency divisor
  double lowFreqFactor = 1.0;           ///< llama3 only
  double highFreqFactor = 4.0;          ///< llama3 only
  double originalMaxPositions = 8192;   ///< llama3: original_max_position_embeddings
};

/// Everything the forward pass needs from config.json. Shapes use the legend of model.h.
struct ModelConfig {
  std::string modelType = "llama";  ///< informational (`model_type`); behaviour follows the fields below
  int hiddenSize = 0;               ///< D
  int intermediateSize = 0;         ///< F
  int numLayers = 0;                ///< L
  int numHeads = 0;                 ///< H query heads
  int numKvHeads = 0;               ///< G key/value heads; H % G == 0
  int headDim = 0;                  ///< Dh; `head_dim` or D / H
  int vocabSize = 0;                ///< V
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  RopeScaling ropeScaling;
  bool tieWordEmbeddings = false;   ///< no lm_head tensor: logits use the embedding matrix
  bool qkvBias = false;             ///< q/k/v projections have biases (attention_bias, or Qwen2)
  bool oBias = false;               ///< o_proj has a bias (Llama attention_bias=true)
  bool mlpBias = false;             ///< gate/up/down have biases (Llama mlp_bias=true)
  int maxPositionEmbeddings = 0;    ///< informational
  /// Sliding-window attention as Hugging Face transformers applies it per architecture (docs/hardening.md):
  /// Mistral on every layer, Qwen2 only with use_sliding_window on layers >= max_window_layers (or as
  /// layer_types says), Llama never. In a windowed layer query q sees keys k with q - W < k <= q.
  std::optional<int> slidingWindow;  ///< W, set when at least one layer uses it
  std::vector<bool> slidingLayers;   ///< [L]: true where the layer uses the window (empty: none)
  std::string torchDtype;           ///< `torch_dtype` as stored (informational)
  std::optional<int> bosTokenId, eosTokenId;

  int nRep() const { return numHeads / numKvHeads; }
  /// The window of `layer`, or nullopt for full causal attention.
  std::optional<int> windowFor(int layer) const;
  /// Parameter count implied by the shapes (embeddings counted once when tied).
  long long parameterCount() const;
  /// JSON summary used by `layerscope-cli info` and result files.
  nlohmann::json summary() const;
};

/// Parses a config.json object. `source` names the file in error messages.
ModelConfig parseModelConfig(const nlohmann::json& j, const std::string& source);
/// Reads and parses `path` (a config.json file).
ModelConfig loadModelConfig(const std::filesystem::path& path);
/// Writes the config back in Hugging Face form (used by the checkpoint writer and `merge`).
nlohmann::json toHfJson(const ModelConfig& c);

std::string ropeScalingName(RopeScaling::Kind k);

}  // namespace layerscope::core
