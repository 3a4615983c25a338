// The naming table (see names.h).
#include "core/model/names.h"

namespace layerscope::core {
namespace {
constexpr const char* kSiteNames[kNumSites] = {"resid_pre", "resid_mid", "resid_post", "attn_out",
                                               "mlp_out",   "q",         "k",          "attn_pattern"};
constexpr const char* kProjShort[kNumProj] = {"q", "k", "v", "o", "gate", "up", "down"};
constexpr const char* kProjModule[kNumProj] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
}  // namespace

const char* siteName(Site s) { return kSiteNames[int(s)]; }
std::optional<Site> parseSite(const std::string& name) {
  for (int i = 0; i < kNumSites; ++i)
    if (name == kSiteNames[i]) return Site(i);
  return std::nullopt;
}
const char* projShortName(Proj p) { return kProjShort[int(p)]; }
const char* projModuleName(Proj p) { return kProjModule[int(p)]; }
std::optional<Proj> parseProj(const std::string& name) {
  for (int i = 0; i < kNumProj; ++i)
    if (name == kProjShort[i] || name == kProjModule[i]) return Proj(i);
  return std::nullopt;
}
const char* projParent(Proj p) { return int(p) <= int(Proj::O) ? "self_attn" : "mlp"; }
std::string hfProjPrefix(int layer, Proj p) {
  return "model.layers." + std::to_string(layer) + "." + projParent(p) + "." + projModuleName(p);
}
std::string hfInputNorm(int layer) { return "model.layers." + std::to_string(layer) + ".input_layernorm.weight"; }
std::string hfPostAttentionNorm(int layer) {
  return "model.layers." + std::to_string(layer) + ".post_attention_layernorm.weight";
}

}  // namespace layerscope::core
