// What an adapter is, without its tensors: the LS-LoRA / GARFA specs, layer and target lists, the PEFT /
// GARFA file keys, validation against a model configuration and the reading of adapter_config.json /
// garfa_config.json. Torch-free (only config.h and names.h from core/model), so the fuzz targets and the
// sanitizer build compile it without LibTorch (docs/fuzzing.md): never include torch here.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/model/names.h"

namespace layerscope::core {

/// LS-LoRA: W + (alpha / r) B A on chosen layers and projections. Empty `layers` = no LoRA.
struct LoraSpec {
  std::vector<int> layers;                                   ///< layer indices (0..L-1), any order, no duplicates
  std::vector<Proj> targets{kAllProj.begin(), kAllProj.end()};  ///< projections that get a slot
  int rank = 16;                                             ///< r
  double alpha = 32;                                         ///< lora_alpha; scale = alpha / r
  double dropout = 0.05;                                     ///< on the slot input, training only
};

/// GARFA: alpha_{l,g} = exp(beta_{l,g}) multiplying layer l's inverse frequencies for KV head g (docs/methods.md section 3).
struct GarfaSpec {
  std::vector<int> layers;  ///< empty = no GARFA
  bool clamp = false;       ///< keep alpha in [minAlpha, maxAlpha] after every update (option, default off)
  double minAlpha = 0.25;
  double maxAlpha = 4.0;
};

struct AdapterSpec {
  LoraSpec lora;
  GarfaSpec garfa;
  std::string baseModel;  ///< base_model_name_or_path recorded in the files
};

/// File names of an adapter directory: the PEFT layout for LoRA and the LayerScope sidecar for GARFA.
inline constexpr const char* kPeftConfigFile = "adapter_config.json";
inline constexpr const char* kPeftWeightsFile = "adapter_model.safetensors";
inline constexpr const char* kGarfaConfigFile = "garfa_config.json";
inline constexpr const char* kGarfaWeightsFile = "garfa.safetensors";

/// Parses a layer list "23-31", "0,2,5-7" or "none" (empty); throws InvalidArgument naming `what`.
std::vector<int> parseLayerList(const std::string& text, const std::string& what);
/// "q,k,v,o,gate,up,down" (short or HF module names); an unknown name is an InvalidArgument.
std::vector<Proj> parseTargets(const std::string& text);
/// Compact text form of a layer list ("0-3,7"; "none" when empty).
std::string formatLayerList(const std::vector<int>& layers);

/// PEFT key of a LoRA matrix: base_model.model.model.layers.{l}.self_attn.q_proj.lora_A.weight (`which` "A"/"B").
std::string peftLoraKey(int layer, Proj p, char which);
/// GARFA key: layers.{l}.beta.
std::string garfaKey(int layer);

/// Throws InvalidArgument on a layer out of range, a duplicate layer, an empty or duplicate target list,
/// rank < 1 or above the model's largest dimension, alpha <= 0, dropout outside [0, 1) or a bad clamp range.
void validateAdapterSpec(const ModelConfig& config, const AdapterSpec& spec);

/// True if `dir` holds adapter_config.json or garfa_config.json.
bool isAdapterDirectory(const std::filesystem::path& dir);

/// Reads the JSON files of an adapter directory and validates the spec against `config`. Throws
/// CheckpointError naming the file and the field (missing, mistyped, out of range) or the misfit.
AdapterSpec readAdapterSpec(const std::filesystem::path& dir, const ModelConfig& config);

}  // namespace layerscope::core
