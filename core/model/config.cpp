// config.json parsing with errors that name the file and the field (see config.h).
#include "core/model/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/base/error.h"

namespace layerscope::core {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw ConfigError(source + ": " + what);
}

std::string typeName(const json& v) { return v.type_name(); }

// Upper bounds far above any released model, checked before anything is allocated or looped over: a config
// with num_hidden_layers = 1e9 fails here at once instead of building a billion-entry tensor list.
constexpr long long kMaxLayers = 4096, kMaxWidth = 1LL << 20, kMaxHeads = 4096, kMaxVocab = 1LL << 24,
                    kMaxPositions = 1LL << 30;

int requireInt(const json& j, const char* key, const std::string& src, int minValue = 1, long long maxValue = 1LL << 30) {
  if (!j.contains(key)) fail(src, std::string("missing required field '") + key + "'");
  const json& v = j.at(key);
  if (!v.is_number_integer()) fail(src, std::string("field '") + key + "' must be an integer, found " + typeName(v));
  // Unsigned values above INT64_MAX are out of range too (get<long long> would wrap them).
  const bool huge = v.is_number_unsigned() && v.get<unsigned long long>() > (unsigned long long)maxValue;
  long long x = huge ? maxValue + 1 : v.get<long long>();
  if (x < minValue || x > maxValue)
    fail(src, std::string("field '") + key + "' = " + v.dump() + " is out of range (expected " +
                  std::to_string(minValue) + ".." + std::to_string(maxValue) + ")");
  return int(x);
}

double numberOr(const json& j, const char* key, double fallback, const std::string& src) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  const json& v = j.at(key);
  if (!v.is_number()) fail(src, std::string("field '") + key + "' must be a number, found " + typeName(v));
  const double x = v.get<double>();
  if (!std::isfinite(x)) fail(src, std::string("field '") + key + "' must be finite");
  return x;
}

bool boolOr(const json& j, const char* key, bool fallback, const std::string& src) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  const json& v = j.at(key);
  if (!v.is_boolean()) fail(src, std::string("field '") + key + "' must be true or false, found " + typeName(v));
  return v.get<bool>();
}

// Where the RoPE scaling is described. transformers < 5 writes `rope_scaling` (null for none) beside `rope_theta`;
// transformers >= 5 writes `rope_parameters` = {rope_type, rope_theta, factor, ...} and neither of the old fields.
// As transformers does (`rope_scaling or rope_parameters`), a non-null `rope_scaling` wins. Per-layer-type RoPE
// (`rope_parameters` keyed by layer type, Gemma 3 style) is not a Llama-family layout and is refused.
const char* ropeScalingField(const json& j, const std::string& src) {
  if (j.contains("rope_scaling") && !j.at("rope_scaling").is_null()) return "rope_scaling";
  if (!j.contains("rope_parameters") || j.at("rope_parameters").is_null()) return nullptr;
  const json& rp = j.at("rope_parameters");
  if (!rp.is_object()) fail(src, "field 'rope_parameters' must be an object or null, found " + typeName(rp));
  for (const auto& [key, value] : rp.items())
    if (value.is_object())
      fail(src, "field 'rope_parameters." + key + "' is an object: per-layer-type RoPE parameters are not supported "
                "(LayerScope reads one RoPE for every layer, as Llama, Mistral and Qwen2 have)");
  return "rope_parameters";
}

double parseRopeTheta(const json& j, const std::string& src) {
  if (j.contains("rope_theta") && !j.at("rope_theta").is_null()) return numberOr(j, "rope_theta", 10000.0, src);
  if (j.contains("rope_parameters") && j.at("rope_parameters").is_object()) {
    const json& rp = j.at("rope_parameters");
    if (rp.contains("rope_theta") && !rp.at("rope_theta").is_null()) {
      if (!rp.at("rope_theta").is_number())
        fail(src, "field 'rope_parameters.rope_theta' must be a number, found " + typeName(rp.at("rope_theta")));
      const double x = rp.at("rope_theta").get<double>();
      if (!std::isfinite(x)) fail(src, "field 'rope_parameters.rope_theta' must be finite");
      return x;
    }
  }
  return 10000.0;
}

RopeScaling parseRopeScaling(const json& j, const std::string& src) {
  RopeScaling r;
  const char* field = ropeScalingField(j, src);
  if (!field) return r;
  const json& rs = j.at(field);
  if (!rs.is_object()) fail(src, std::string("field '") + field + "' must be an object or null, found " + typeName(rs));
  std::string type;
  // Newer configs use `rope_type`, older ones `type`; accept both (HF does the same).
  for (const char* key : {"rope_type", "type"}) {
    if (rs.contains(key)) {
      if (!rs.at(key).is_string()) fail(src, std::string("field '") + field + "." + key + "' must be a string");
      type = rs.at(key).get<std::string>();
      break;
    }
  }
  if (type.empty()) fail(src, std::string("field '") + field + "' has neither 'rope_type' nor 'type'");
  const std::string where = field;
  auto num = [&](const char* key, std::optional<double> fallback) {
    if (!rs.contains(key)) {
      if (fallback) return *fallback;
      fail(src, "field '" + where + "." + key + "' is required for rope type '" + type + "'");
    }
    if (!rs.at(key).is_number()) fail(src, "field '" + where + "." + key + "' must be a number");
    return rs.at(key).get<double>();
  };
  if (type == "default") return r;
  if (type == "linear") {
    r.kind = RopeScaling::Kind::Linear;
    r.factor = num("factor", std::nullopt);
  } else if (type == "llama3") {
    r.kind = RopeScaling::Kind::Llama3;
    r.factor = num("factor", std::nullopt);
    r.lowFreqFactor = num("low_freq_factor", std::nullopt);
    r.highFreqFactor = num("high_freq_factor", std::nullopt);
    r.originalMaxPositions = num("original_max_position_embeddings", std::nullopt);
    if (!(r.highFreqFactor > r.lowFreqFactor))
      fail(src, where + ": high_freq_factor must exceed low_freq_factor");
  } else {
    fail(src, "unsupported " + where + " type '" + type + "' (supported: none, default, linear, llama3)");
  }
  if (!(r.factor > 0)) fail(src, where + ".factor must be positive");
  return r;
}

// Which layers use a sliding window, per architecture, as Hugging Face transformers decides it:
//  - llama (and any type not listed): never; LlamaConfig has no sliding_window and ignores the field.
//  - mistral: every layer when sliding_window is not null (MistralConfig default 4096; modeling_mistral.py
//    picks create_sliding_window_causal_mask for the whole model when config.sliding_window is set).
//  - qwen2: configuration_qwen2.py keeps sliding_window (default 4096) only when use_sliding_window (default
//    false) is true, then layer_types (when given) or "layer i >= max_window_layers (default 28)" picks the
//    sliding layers.
// The window rule itself is masking_utils.sliding_window_overlay: key k is visible from query q if k > q - W.
void parseSlidingWindow(const json& j, const std::string& src, ModelConfig& c) {
  const auto window = [&]() -> std::optional<int> {
    if (!j.contains("sliding_window")) return 4096;  // the config classes' default
    if (j.at("sliding_window").is_null()) return std::nullopt;
    return requireInt(j, "sliding_window", src, 1, kMaxPositions);
  };
  std::optional<int> w;
  std::vector<bool> layers;
  if (c.modelType == "mistral") {
    w = window();
    if (w) layers.assign(size_t(c.numLayers), true);
  } else if (c.modelType == "qwen2" && boolOr(j, "use_sliding_window", false, src)) {
    w = window();
    if (w && j.contains("layer_types") && !j.at("layer_types").is_null()) {
      const json& t = j.at("layer_types");
      if (!t.is_array() || t.size() != size_t(c.numLayers))
        fail(src, "field 'layer_types' must be a list of " + std::to_string(c.numLayers) + " entries (num_hidden_layers)");
      for (const json& e : t) {
        if (e == "sliding_attention") layers.push_back(true);
        else if (e == "full_attention") layers.push_back(false);
        else fail(src, "field 'layer_types' has entry " + e.dump() + " (expected \"full_attention\" or \"sliding_attention\")");
      }
    } else if (w) {
      const int first = j.contains("max_window_layers") && !j.at("max_window_layers").is_null()
                            ? requireInt(j, "max_window_layers", src, 0, kMaxLayers)
                            : 28;
      for (int l = 0; l < c.numLayers; ++l) layers.push_back(l >= first);
    }
  }
  if (std::find(layers.begin(), layers.end(), true) == layers.end()) return;  // no layer uses it
  c.slidingWindow = w;
  c.slidingLayers = std::move(layers);
}

}  // namespace

std::optional<int> ModelConfig::windowFor(int layer) const {
  if (!slidingWindow || layer < 0 || size_t(layer) >= slidingLayers.size() || !slidingLayers[size_t(layer)])
    return std::nullopt;
  return slidingWindow;
}

ModelConfig parseModelConfig(const json& j, const std::string& src) {
  if (!j.is_object()) fail(src, "expected a JSON object at the top level, found " + typeName(j));
  ModelConfig c;
  if (j.contains("model_type") && j.at("model_type").is_string()) c.modelType = j.at("model_type").get<std::string>();
  c.hiddenSize = requireInt(j, "hidden_size", src, 1, kMaxWidth);
  c.intermediateSize = requireInt(j, "intermediate_size", src, 1, kMaxWidth);
  c.numLayers = requireInt(j, "num_hidden_layers", src, 1, kMaxLayers);
  c.numHeads = requireInt(j, "num_attention_heads", src, 1, kMaxHeads);
  c.numKvHeads = j.contains("num_key_value_heads") && !j.at("num_key_value_heads").is_null()
                     ? requireInt(j, "num_key_value_heads", src, 1, kMaxHeads)
                     : c.numHeads;
  c.vocabSize = requireInt(j, "vocab_size", src, 1, kMaxVocab);
  if (c.numHeads % c.numKvHeads != 0)
    fail(src, "num_attention_heads (" + std::to_string(c.numHeads) + ") must be a multiple of num_key_value_heads (" +
                  std::to_string(c.numKvHeads) + ")");
  if (j.contains("head_dim") && !j.at("head_dim").is_null()) {
    c.headDim = requireInt(j, "head_dim", src, 1, kMaxHeads);
  } else {
    if (c.hiddenSize % c.numHeads != 0)
      fail(src, "hidden_size must be divisible by num_attention_heads when head_dim is absent");
    c.headDim = c.hiddenSize / c.numHeads;
  }
  if (c.headDim % 2 != 0) fail(src, "head_dim = " + std::to_string(c.headDim) + " must be even for RoPE");
  c.rmsNormEps = numberOr(j, "rms_norm_eps", 1e-6, src);
  // HF adds eps under the square root without checking it; a negative or zero eps gives NaN or inf for an
  // all-zero row, so it is a broken file, not a choice.
  if (!(c.rmsNormEps > 0) || c.rmsNormEps > 1)
    fail(src, "field 'rms_norm_eps' = " + j.at("rms_norm_eps").dump() + " is out of range (expected 0 < eps <= 1)");
  c.ropeTheta = parseRopeTheta(j, src);
  if (!(c.ropeTheta > 1.0)) fail(src, "field 'rope_theta' must be > 1");
  c.ropeScaling = parseRopeScaling(j, src);
  c.tieWordEmbeddings = boolOr(j, "tie_word_embeddings", false, src);
  // Qwen2 always has q/k/v biases (and no o bias); Llama's attention_bias puts biases on q, k, v and o.
  const bool attentionBias = boolOr(j, "attention_bias", false, src);
  if (c.modelType == "qwen2") {
    c.qkvBias = true;
  } else {
    c.qkvBias = attentionBias;
    c.oBias = attentionBias;
  }
  c.mlpBias = boolOr(j, "mlp_bias", false, src);
  if (j.contains("hidden_act")) {
    const json& act = j.at("hidden_act");
    if (!act.is_string() || act.get<std::string>() != "silu")
      fail(src, "unsupported hidden_act " + act.dump() + " (only \"silu\", the Llama family's SwiGLU, is implemented)");
  }
  // pretraining_tp (> 1 in some Llama 2 configs) only changes how HF splits the matmuls, not the maths: not read.
  c.maxPositionEmbeddings =
      j.contains("max_position_embeddings") ? requireInt(j, "max_position_embeddings", src, 1, kMaxPositions) : 0;
  parseSlidingWindow(j, src, c);
  if (j.contains("torch_dtype") && j.at("torch_dtype").is_string()) c.torchDtype = j.at("torch_dtype").get<std::string>();
  // Informational (the tokenizer decides BOS and EOS): a single id in 0..kMaxVocab-1, else none (Llama 3.1 lists
  // several EOS ids; get<int>() would have truncated 4294967297 to 1).
  auto tokenId = [&j](const char* key) -> std::optional<int> {
    if (!j.contains(key) || !j.at(key).is_number_integer()) return std::nullopt;
    const json& v = j.at(key);
    if (v.is_number_unsigned() ? v.get<unsigned long long>() >= (unsigned long long)kMaxVocab
                               : (v.get<long long>() < 0 || v.get<long long>() >= kMaxVocab))
      return std::nullopt;
    return int(v.get<long long>());
  };
  c.bosTokenId = tokenId("bos_token_id");
  c.eosTokenId = tokenId("eos_token_id");
  return c;
}

ModelConfig loadModelConfig(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path.string() + ": cannot open (expected a Hugging Face config.json)");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw ConfigError(path.string() + ": invalid JSON: " + e.what());
  }
  return parseModelConfig(j, path.string());
}

std::string ropeScalingName(RopeScaling::Kind k) {
  switch (k) {
    case RopeScaling::Kind::None: return "none";
    case RopeScaling::Kind::Linear: return "linear";
    case RopeScaling::Kind::Llama3: return "llama3";
  }
  return "?";
}

long long ModelConfig::parameterCount() const {
  const long long D = hiddenSize, F = intermediateSize, H = numHeads, G = numKvHeads, Dh = headDim, V = vocabSize;
  long long perLayer = D * H * Dh + 2 * D * G * Dh + H * Dh * D  // q, k, v, o
                       + 3 * D * F                               // gate, up, down
                       + 2 * D;                                  // two RMSNorms
  if (qkvBias) perLayer += H * Dh + 2 * G * Dh;
  if (oBias) perLayer += D;
  if (mlpBias) perLayer += 2 * F + D;
  return V * D * (tieWordEmbeddings ? 1 : 2) + D + numLayers * perLayer;
}

nlohmann::json ModelConfig::summary() const {
  json rope = {{"theta", ropeTheta}, {"scaling", ropeScalingName(ropeScaling.kind)}};
  if (ropeScaling.kind != RopeScaling::Kind::None) rope["factor"] = ropeScaling.factor;
  if (ropeScaling.kind == RopeScaling::Kind::Llama3) {
    rope["low_freq_factor"] = ropeScaling.lowFreqFactor;
    rope["high_freq_factor"] = ropeScaling.highFreqFactor;
    rope["original_max_position_embeddings"] = ropeScaling.originalMaxPositions;
  }
  json s = {{"model_type", modelType}, {"layers", numLayers}, {"heads", numHeads}, {"kv_heads", numKvHeads},
            {"head_dim", headDim}, {"hidden", hiddenSize}, {"intermediate", intermediateSize}, {"vocab", vocabSize},
            {"parameters", parameterCount()}, {"tie_word_embeddings", tieWordEmbeddings},
            {"qkv_bias", qkvBias}, {"rms_norm_eps", rmsNormEps}, {"rope", rope}};
  if (slidingWindow) {
    json layers = json::array();
    for (int l = 0; l < numLayers; ++l)
      if (windowFor(l)) layers.push_back(l);
    s["sliding_window"] = {{"window", *slidingWindow}, {"layers", layers}};
  }
  return s;
}

nlohmann::json toHfJson(const ModelConfig& c) {
  const char* arch = c.modelType == "qwen2" ? "Qwen2ForCausalLM" : c.modelType == "mistral" ? "MistralForCausalLM"
                                                                                             : "LlamaForCausalLM";
  json j = {{"architectures", json::array({arch})},
            {"model_type", c.modelType},
            {"hidden_size", c.hiddenSize},
            {"intermediate_size", c.intermediateSize},
            {"num_hidden_layers", c.numLayers},
            {"num_attention_heads", c.numHeads},
            {"num_key_value_heads", c.numKvHeads},
            {"head_dim", c.headDim},
            {"vocab_size", c.vocabSize},
            {"rms_norm_eps", c.rmsNormEps},
            {"rope_theta", c.ropeTheta},
            {"tie_word_embeddings", c.tieWordEmbeddings},
            {"hidden_act", "silu"},
            {"max_position_embeddings", c.maxPositionEmbeddings > 0 ? c.maxPositionEmbeddings : 2048}};
  if (c.modelType != "qwen2") {
    j["attention_bias"] = c.qkvBias;
    j["mlp_bias"] = c.mlpBias;
  }
  if (c.modelType == "mistral") j["sliding_window"] = c.slidingWindow ? json(*c.slidingWindow) : json(nullptr);
  if (c.modelType == "qwen2") {  // written so that both older (max_window_layers) and newer (layer_types) HF read it
    j["use_sliding_window"] = c.slidingWindow.has_value();
    j["sliding_window"] = c.slidingWindow ? json(*c.slidingWindow) : json(nullptr);
    if (c.slidingWindow) {
      json types = json::array();
      int first = c.numLayers;
      for (int l = c.numLayers - 1; l >= 0 && c.windowFor(l); --l) first = l;
      for (int l = 0; l < c.numLayers; ++l) types.push_back(c.windowFor(l) ? "sliding_attention" : "full_attention");
      j["max_window_layers"] = first;
      j["layer_types"] = types;
    }
  }
  if (!c.torchDtype.empty()) j["torch_dtype"] = c.torchDtype;
  if (c.bosTokenId) j["bos_token_id"] = *c.bosTokenId;
  if (c.eosTokenId) j["eos_token_id"] = *c.eosTokenId;
  switch (c.ropeScaling.kind) {
    case RopeScaling::Kind::None: j["rope_scaling"] = nullptr; break;
    case RopeScaling::Kind::Linear: j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.ropeScaling.factor}}; break;
    case RopeScaling::Kind::Llama3:
      j["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", c.ropeScaling.factor},
                           {"low_freq_factor", c.ropeScaling.lowFreqFactor},
                           {"high_freq_factor", c.ropeScaling.highFreqFactor},
                           {"original_max_position_embeddings", c.ropeScaling.originalMaxPositions}};
      break;
  }
  return j;
}

}  // namespace layerscope::core
