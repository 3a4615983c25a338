// The one naming table: capture sites, projections, and Hugging Face / PEFT checkpoint keys
// (cf. llama.cpp's LLM_TENSOR_NAMES). Every name that reaches a file or the CLI comes from here.
#pragma once

#include <array>
#include <optional>
#include <string>

namespace layerscope::core {

/// Named capture sites of one layer (docs/methods.md notation).
enum class Site { ResidPre, ResidMid, ResidPost, AttnOut, MlpOut, Q, K, AttnPattern };
inline constexpr int kNumSites = 8;
/// "resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "q", "k", "attn_pattern".
const char* siteName(Site s);
std::optional<Site> parseSite(const std::string& name);

/// Linear projections of a layer that can carry a LoRA slot.
enum class Proj { Q, K, V, O, Gate, Up, Down };
inline constexpr int kNumProj = 7;
inline constexpr std::array<Proj, kNumProj> kAllProj = {Proj::Q, Proj::K, Proj::V, Proj::O, Proj::Gate, Proj::Up, Proj::Down};
/// Short names used on the command line: q, k, v, o, gate, up, down.
const char* projShortName(Proj p);
/// Hugging Face module names: q_proj ... down_proj.
const char* projModuleName(Proj p);
std::optional<Proj> parseProj(const std::string& name);  ///< accepts "q" or "q_proj"
/// "self_attn" or "mlp".
const char* projParent(Proj p);

/// model.layers.{l}.self_attn.q_proj (no suffix).
std::string hfProjPrefix(int layer, Proj p);
std::string hfInputNorm(int layer);         ///< model.layers.{l}.input_layernorm.weight
std::string hfPostAttentionNorm(int layer); ///< model.layers.{l}.post_attention_layernorm.weight
inline const char* kHfEmbed = "model.embed_tokens.weight";
inline const char* kHfFinalNorm = "model.norm.weight";
inline const char* kHfLmHead = "lm_head.weight";

}  // namespace layerscope::core
