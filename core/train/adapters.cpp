// LS-LoRA / GARFA adapter state, PEFT files, merging (see adapters.h).
#include "core/train/adapters.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/base/atomic_file.h"
#include "core/model/checkpoint.h"
#include "core/base/error.h"
#include "core/model/safetensors.h"
#include "layerscope/version.h"

namespace layerscope::core {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kPeftWeights = kPeftWeightsFile;
constexpr const char* kGarfaWeights = kGarfaWeightsFile;
constexpr const char* kPeftConfig = kPeftConfigFile;
constexpr const char* kGarfaConfig = kGarfaConfigFile;

// [out, in] of a projection, from the config alone (the legend of model.h).
std::pair<int64_t, int64_t> projShape(const ModelConfig& c, Proj p) {
  const int64_t D = c.hiddenSize, F = c.intermediateSize, HDh = int64_t(c.numHeads) * c.headDim,
                GDh = int64_t(c.numKvHeads) * c.headDim;
  switch (p) {
    case Proj::Q: return {HDh, D};
    case Proj::K:
    case Proj::V: return {GDh, D};
    case Proj::O: return {D, HDh};
    case Proj::Gate:
    case Proj::Up: return {F, D};
    case Proj::Down: return {D, F};
  }
  return {0, 0};
}

std::vector<int> sortedLayers(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

AdapterSet AdapterSet::create(const ModelConfig& config, const AdapterSpec& spec, uint64_t seed) {
  validateAdapterSpec(config, spec);
  AdapterSet a;
  a.spec_ = spec;
  a.spec_.lora.layers = sortedLayers(spec.lora.layers);
  a.spec_.garfa.layers = sortedLayers(spec.garfa.layers);
  a.config_ = config;
  a.lora_.resize(size_t(config.numLayers));
  a.beta_.resize(size_t(config.numLayers));
  // Drawn on the host from a seeded CPU generator: the same adapters whatever device the model runs on. Adapters
  // stay host tensors; the forward copies them to the model's device (differentiably).
  auto gen = at::detail::createCPUGenerator(seed);
  const auto hostF32 = torch::TensorOptions().dtype(torch::kFloat32).device(hostDevice());
  const int r = spec.lora.rank;
  for (int l : a.spec_.lora.layers)
    for (Proj p : a.spec_.lora.targets) {
      const auto [out, in] = projShape(config, p);
      const double bound = 1.0 / std::sqrt(double(in));  // kaiming_uniform_(a = sqrt(5)) as PEFT initialises A
      auto A = at::empty({r, in}, hostF32).uniform_(-bound, bound, gen);
      auto& s = a.lora_[size_t(l)][size_t(p)];
      s.A = A.requires_grad_(true);
      s.B = torch::zeros({out, int64_t(r)}, hostF32).requires_grad_(true);
      s.scale = spec.lora.alpha / double(r);
      s.dropout = spec.lora.dropout;
    }
  for (int l : a.spec_.garfa.layers) a.beta_[size_t(l)] = torch::zeros({config.numKvHeads}, hostF32).requires_grad_(true);
  return a;
}

json AdapterSet::peftConfigJson() const {
  std::vector<std::string> modules;
  for (Proj p : spec_.lora.targets) modules.push_back(projModuleName(p));
  return {{"peft_type", "LORA"},
          {"task_type", "CAUSAL_LM"},
          {"r", spec_.lora.rank},
          {"lora_alpha", spec_.lora.alpha},
          {"lora_dropout", spec_.lora.dropout},
          {"target_modules", modules},
          {"layers_to_transform", spec_.lora.layers},
          {"layers_pattern", "layers"},
          {"bias", "none"},
          {"fan_in_fan_out", false},
          {"inference_mode", true},
          {"init_lora_weights", true},
          {"base_model_name_or_path", spec_.baseModel},
          {"layerscope", {{"method", "LS-LoRA (LayerScope operationalisation, see docs/adapters.md)"},
                          {"version", kVersion}}}};
}

json AdapterSet::garfaConfigJson() const {
  json j = {{"format", "layerscope.garfa/1"},
            {"method", "GARFA per-KV-head RoPE frequency multipliers (LayerScope operationalisation, see docs/adapters.md)"},
            {"parametrisation", "alpha = exp(beta), multiplies the layer's inverse frequencies for KV head g and its query heads"},
            {"layers", spec_.garfa.layers},
            {"num_key_value_heads", config_.numKvHeads},
            {"clamp_alpha", spec_.garfa.clamp ? json::array({spec_.garfa.minAlpha, spec_.garfa.maxAlpha}) : json(nullptr)},
            {"base_model_name_or_path", spec_.baseModel},
            {"version", kVersion}};
  return j;
}

void AdapterSet::save(const fs::path& dir) const {
  fs::create_directories(dir);
  if (hasLora()) {
    std::vector<std::pair<std::string, torch::Tensor>> t;
    for (int l : spec_.lora.layers)
      for (Proj p : spec_.lora.targets) {
        const auto& s = slot(l, p);
        t.emplace_back(peftLoraKey(l, p, 'A'), s.A.detach().contiguous());
        t.emplace_back(peftLoraKey(l, p, 'B'), s.B.detach().contiguous());
      }
    writeSafetensors(dir / kPeftWeights, t, {{"format", "pt"}});
    writeFileAtomically(dir / kPeftConfig, peftConfigJson().dump(2));
  }
  if (hasGarfa()) {
    std::vector<std::pair<std::string, torch::Tensor>> t;
    for (int l : spec_.garfa.layers) t.emplace_back(garfaKey(l), beta(l).detach().contiguous());
    writeSafetensors(dir / kGarfaWeights, t, {{"format", "pt"}});
    writeFileAtomically(dir / kGarfaConfig, garfaConfigJson().dump(2));
  }
}

AdapterSet AdapterSet::load(const fs::path& dir, const ModelConfig& config) {
  const AdapterSpec spec = readAdapterSpec(dir, config);  // JSON files, validated (adapter_config.cpp)
  AdapterSet a = create(config, spec, 0);
  torch::NoGradGuard ng;
  auto restore = [](const std::shared_ptr<SafetensorsFile>& f, const std::string& key, torch::Tensor& dst) {
    if (!f->contains(key)) throw CheckpointError(f->path().string() + ": missing tensor '" + key + "'");
    auto src = f->tensor(key);
    if (src.sizes() != dst.sizes()) {
      std::ostringstream os;
      os << f->path().string() << ": '" << key << "' has shape " << src.sizes() << ", expected " << dst.sizes();
      throw CheckpointError(os.str());
    }
    dst.copy_(src.to(torch::kFloat32));
  };
  if (a.hasLora()) {
    auto f = SafetensorsFile::open(dir / kPeftWeights);
    for (int l : a.spec_.lora.layers)
      for (Proj p : a.spec_.lora.targets) {
        auto& s = a.lora_[size_t(l)][size_t(p)];
        restore(f, peftLoraKey(l, p, 'A'), s.A);
        restore(f, peftLoraKey(l, p, 'B'), s.B);
      }
  }
  if (a.hasGarfa()) {
    auto f = SafetensorsFile::open(dir / kGarfaWeights);
    for (int l : a.spec_.garfa.layers) restore(f, garfaKey(l), a.beta_[size_t(l)]);
  }
  return a;
}

Interventions AdapterSet::interventions(bool training) const {
  Interventions iv;
  iv.training = training;
  if (hasLora()) iv.lora = lora_;
  if (hasGarfa()) {
    iv.ropeAlpha.resize(size_t(config_.numLayers));
    for (int l : spec_.garfa.layers) iv.ropeAlpha[size_t(l)] = torch::exp(beta_[size_t(l)]);
  }
  return iv;
}

std::vector<NamedParam> AdapterSet::loraParameters() const {
  std::vector<NamedParam> out;
  for (int l : spec_.lora.layers)
    for (Proj p : spec_.lora.targets) {
      const auto& s = slot(l, p);
      out.push_back({peftLoraKey(l, p, 'A'), s.A});
      out.push_back({peftLoraKey(l, p, 'B'), s.B});
    }
  return out;
}

std::vector<NamedParam> AdapterSet::garfaParameters() const {
  std::vector<NamedParam> out;
  for (int l : spec_.garfa.layers) out.push_back({garfaKey(l), beta(l)});
  return out;
}

int64_t AdapterSet::loraParameterCount() const {
  int64_t n = 0;
  for (const auto& p : loraParameters()) n += p.value.numel();
  return n;
}

int64_t AdapterSet::garfaParameterCount() const { return int64_t(spec_.garfa.layers.size()) * config_.numKvHeads; }

std::function<void(torch::Tensor&)> AdapterSet::garfaProjection() const {
  if (!spec_.garfa.clamp) return {};
  const double lo = std::log(spec_.garfa.minAlpha), hi = std::log(spec_.garfa.maxAlpha);
  return [lo, hi](torch::Tensor& beta) { beta.clamp_(lo, hi); };
}

std::vector<std::pair<std::string, torch::Tensor>> AdapterSet::mergedWeights(const LlamaModel& model) const {
  torch::NoGradGuard ng;
  std::map<std::string, std::pair<int, Proj>> folded;
  for (int l : spec_.lora.layers)
    for (Proj p : spec_.lora.targets) folded[hfProjPrefix(l, p) + ".weight"] = {l, p};
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto [name, t] : model.namedWeights()) {
    auto it = folded.find(name);
    if (it != folded.end()) {
      const auto& s = slot(it->second.first, it->second.second);
      t = (t.to(torch::kFloat32) + s.scale * torch::matmul(s.B.detach(), s.A.detach()).to(t.device())).to(t.scalar_type());
    }
    out.emplace_back(name, t.contiguous());
  }
  return out;
}

Interventions LoadedModel::interventions() const {
  if (!adapter) return {};
  torch::NoGradGuard ng;
  return adapter->interventions(false);
}

std::shared_ptr<const LlamaModel> bakeAdapter(const LlamaModel& model, const AdapterSet& adapter) {
  torch::NoGradGuard noGrad;
  std::map<std::string, torch::Tensor> weights;
  for (auto& [name, t] : adapter.mergedWeights(model)) weights[name] = t;
  auto baked = LlamaModel::fromTensors(model.config(), weights, model.computeDtype());
  if (!adapter.hasGarfa()) return baked;
  std::vector<torch::Tensor> alpha(size_t(model.config().numLayers));
  for (int l = 0; l < model.config().numLayers; ++l)
    if (adapter.beta(l).defined()) alpha[size_t(l)] = torch::exp(adapter.beta(l).detach());
  return baked->withRopeMultipliers(std::move(alpha));
}

LoadedModel loadModelWithAdapter(const fs::path& modelDir, const fs::path& adapterDir, torch::ScalarType dtype,
                                 c10::Device device) {
  LoadedModel m;
  m.model = LlamaModel::load(modelDir, dtype, device);
  if (!adapterDir.empty()) m.adapter = std::make_shared<const AdapterSet>(AdapterSet::load(adapterDir, m.model->config()));
  return m;
}

void mergeAdapter(const fs::path& baseDir, const fs::path& adapterDir, const fs::path& out, c10::Device device,
                  bool overwrite) {
  // Refused before any work: an existing output without `overwrite`, and an output that is one of the inputs
  // (replacing the base model or the adapter by the merge would destroy what the user merged from).
  std::error_code ec;
  for (const auto& [input, what] : {std::pair{baseDir, "the base model"}, std::pair{adapterDir, "the adapter"}})
    if (fs::exists(out) && fs::equivalent(out, input, ec))
      throw InvalidArgument("merge: --out '" + out.string() + "' is " + what + " folder; write the merge elsewhere");
  if (fs::exists(out) && !overwrite)
    throw InvalidArgument("merge: '" + out.string() + "' already exists (pass --overwrite to replace it)");
  auto ck = Checkpoint::open(baseDir);
  auto model = LlamaModel::fromCheckpoint(ck, torch::kFloat32, device);
  auto adapter = AdapterSet::load(adapterDir, model->config());
  // Built in a staging folder of its own and moved into place complete (docs/hardening.md): a failed or killed
  // merge leaves `out` as it was.
  writeDirectoryAtomically(out, overwrite, [&](const fs::path& tmp) {
    ModelConfig c = model->config();
    c.torchDtype = "float32";
    writeFileAtomically(tmp / "config.json", toHfJson(c).dump(2));
    writeSafetensors(tmp / "model.safetensors", adapter.mergedWeights(*model),
                     {{"format", "pt"}, {"generator", "layerscope merge"}});
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"})
      if (fs::exists(baseDir / f)) fs::copy_file(baseDir / f, tmp / f, fs::copy_options::overwrite_existing);
    for (const char* f : {kGarfaConfig, kGarfaWeights})
      if (fs::exists(adapterDir / f)) fs::copy_file(adapterDir / f, tmp / f, fs::copy_options::overwrite_existing);
    json info = {{"format", "layerscope.merge/1"},
                 {"base_model", baseDir.string()},
                 {"adapter", adapterDir.string()},
                 {"lora_layers", adapter.spec().lora.layers},
                 {"garfa_sidecar", adapter.hasGarfa()},
                 {"note", adapter.hasGarfa() ? "GARFA cannot be folded into weights: load this directory with --adapter "
                                               "pointing at itself to apply garfa.safetensors"
                                             : "LoRA folded in; no GARFA"}};
    writeFileAtomically(tmp / "layerscope_merge.json", info.dump(2));
  });
}

}  // namespace layerscope::core
