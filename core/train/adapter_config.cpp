// Adapter specs, layer / target lists, validation and the adapter JSON files (see adapter_config.h).
// Every field is read with its type and range checked, so a malformed file is a CheckpointError naming the file
// and the field, never a JSON library message or a silently truncated number.
#include "core/train/adapter_config.h"

#include <algorithm>
#include <climits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/base/json_file.h"

namespace layerscope::core {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

[[noreturn]] void bad(const fs::path& file, const std::string& field, const std::string& what) {
  throw CheckpointError(file.string() + ": '" + field + "' " + what);
}

const json* find(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const json& required(const json& obj, const char* key, const fs::path& file) {
  const json* v = find(obj, key);
  if (!v) bad(file, key, "is missing");
  return *v;
}

int intValue(const json& v, const fs::path& file, const std::string& field) {
  if (!v.is_number_integer()) bad(file, field, std::string("must be an integer, found ") + v.type_name());
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(INT_MAX)
                                           : v.get<int64_t>() >= INT_MIN && v.get<int64_t>() <= INT_MAX;
  if (!fits) bad(file, field, "is out of range (" + v.dump() + ")");
  return int(v.get<int64_t>());
}

double numberValue(const json& v, const fs::path& file, const std::string& field) {
  if (!v.is_number()) bad(file, field, std::string("must be a number, found ") + v.type_name());
  return v.get<double>();
}

std::string stringOrNull(const json* v, const fs::path& file, const std::string& field) {
  if (!v || v->is_null()) return "";
  if (!v->is_string()) bad(file, field, std::string("must be a string, found ") + v->type_name());
  return v->get<std::string>();
}

std::vector<int> intList(const json& v, const fs::path& file, const std::string& field) {
  if (!v.is_array()) bad(file, field, std::string("must be a list of layer indices, found ") + v.type_name());
  std::vector<int> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(intValue(v[i], file, field + "[" + std::to_string(i) + "]"));
  return out;
}

void readPeft(const fs::path& p, const ModelConfig& config, AdapterSpec& spec) {
  const json j = readJsonFile<CheckpointError>(p);
  if (!j.is_object()) throw CheckpointError(p.string() + ": expected a JSON object, found " + j.type_name());
  const std::string type = stringOrNull(find(j, "peft_type"), p, "peft_type");
  if (type != "LORA") bad(p, "peft_type", "is '" + type + "', expected LORA");
  spec.lora.rank = intValue(required(j, "r", p), p, "r");
  spec.lora.alpha = numberValue(required(j, "lora_alpha", p), p, "lora_alpha");
  if (const json* d = find(j, "lora_dropout"); d && !d->is_null()) spec.lora.dropout = numberValue(*d, p, "lora_dropout");
  else spec.lora.dropout = 0.0;
  const json& modules = required(j, "target_modules", p);
  if (modules.is_string()) bad(p, "target_modules", "as a regular expression is not supported; list the modules");
  if (!modules.is_array()) bad(p, "target_modules", std::string("must be a list of module names, found ") + modules.type_name());
  spec.lora.targets.clear();
  for (const auto& m : modules) {
    if (!m.is_string()) bad(p, "target_modules", std::string("entries must be strings, found ") + m.type_name());
    auto pr = parseProj(m.get<std::string>());
    if (!pr) bad(p, "target_modules", "entry '" + m.get<std::string>() + "' is not a Llama projection");
    spec.lora.targets.push_back(*pr);
  }
  // PEFT: an int, a list, or null / absent for every layer.
  const json* ltt = find(j, "layers_to_transform");
  spec.lora.layers.clear();
  if (!ltt || ltt->is_null()) {
    for (int l = 0; l < config.numLayers; ++l) spec.lora.layers.push_back(l);
  } else if (ltt->is_number()) {
    spec.lora.layers = {intValue(*ltt, p, "layers_to_transform")};
  } else {
    spec.lora.layers = intList(*ltt, p, "layers_to_transform");
  }
  spec.baseModel = stringOrNull(find(j, "base_model_name_or_path"), p, "base_model_name_or_path");
}

void readGarfa(const fs::path& p, const ModelConfig& config, AdapterSpec& spec) {
  const json j = readJsonFile<CheckpointError>(p);
  if (!j.is_object()) throw CheckpointError(p.string() + ": expected a JSON object, found " + j.type_name());
  spec.garfa.layers = intList(required(j, "layers", p), p, "layers");
  const int G = intValue(required(j, "num_key_value_heads", p), p, "num_key_value_heads");
  if (G != config.numKvHeads)
    throw CheckpointError(p.string() + ": made for " + std::to_string(G) + " KV heads, the model has " +
                          std::to_string(config.numKvHeads));
  if (const json* c = find(j, "clamp_alpha"); c && !c->is_null()) {
    if (!c->is_array() || c->size() != 2) bad(p, "clamp_alpha", "must be null or [min, max]");
    spec.garfa.clamp = true;
    spec.garfa.minAlpha = numberValue((*c)[0], p, "clamp_alpha[0]");
    spec.garfa.maxAlpha = numberValue((*c)[1], p, "clamp_alpha[1]");
  }
  if (spec.baseModel.empty()) spec.baseModel = stringOrNull(find(j, "base_model_name_or_path"), p, "base_model_name_or_path");
}

}  // namespace

std::vector<int> parseLayerList(const std::string& text, const std::string& what) {
  std::vector<int> out;
  if (text == "none" || text.empty()) return out;
  std::stringstream ss(text);
  std::string item;
  auto num = [&](const std::string& s) {
    try {
      size_t used = 0;
      const int v = std::stoi(s, &used);
      if (used != s.size() || v < 0) throw std::invalid_argument(s);
      return v;
    } catch (const std::exception&) {
      throw InvalidArgument(what + ": '" + s + "' is not a layer index (expected e.g. 23-31, 0,2,5-7 or none)");
    }
  };
  while (std::getline(ss, item, ',')) {
    if (item.empty()) throw InvalidArgument(what + ": empty entry in '" + text + "'");
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      out.push_back(num(item));
    } else {
      const int lo = num(item.substr(0, dash)), hi = num(item.substr(dash + 1));
      if (hi < lo) throw InvalidArgument(what + ": range '" + item + "' is empty (write low-high)");
      for (int l = lo; l <= hi; ++l) out.push_back(l);
    }
  }
  std::set<int> seen;
  for (int l : out)
    if (!seen.insert(l).second) throw InvalidArgument(what + ": layer " + std::to_string(l) + " is listed twice");
  return out;
}

std::vector<Proj> parseTargets(const std::string& text) {
  std::vector<Proj> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto p = parseProj(item);
    if (!p) throw InvalidArgument("LoRA target '" + item + "' matches no projection (expected q,k,v,o,gate,up,down or q_proj ...)");
    if (std::find(out.begin(), out.end(), *p) != out.end())
      throw InvalidArgument("LoRA target '" + item + "' is listed twice");
    out.push_back(*p);
  }
  if (out.empty()) throw InvalidArgument("LoRA targets: the list is empty");
  return out;
}

std::string formatLayerList(const std::vector<int>& layersIn) {
  if (layersIn.empty()) return "none";
  auto layers = layersIn;
  std::sort(layers.begin(), layers.end());
  std::string out;
  for (size_t i = 0; i < layers.size();) {
    size_t j = i;
    while (j + 1 < layers.size() && layers[j + 1] == layers[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(layers[i]);
    if (j > i) (out += '-') += std::to_string(layers[j]);  // not "-" + ...: g++ 12 false -Warray-bounds
    i = j + 1;
  }
  return out;
}

std::string peftLoraKey(int layer, Proj p, char which) {
  return "base_model.model." + hfProjPrefix(layer, p) + ".lora_" + std::string(1, which) + ".weight";
}

std::string garfaKey(int layer) { return "layers." + std::to_string(layer) + ".beta"; }

void validateAdapterSpec(const ModelConfig& c, const AdapterSpec& s) {
  auto checkLayers = [&](const std::vector<int>& layers, const char* what) {
    std::set<int> seen;
    for (int l : layers) {
      if (l < 0 || l >= c.numLayers)
        throw InvalidArgument(std::string(what) + " layer " + std::to_string(l) + " is out of range 0.." +
                              std::to_string(c.numLayers - 1) + " (the model has " + std::to_string(c.numLayers) + " layers)");
      if (!seen.insert(l).second) throw InvalidArgument(std::string(what) + " layer " + std::to_string(l) + " is listed twice");
    }
  };
  checkLayers(s.lora.layers, "LoRA");
  checkLayers(s.garfa.layers, "GARFA");
  if (!s.lora.layers.empty()) {
    if (s.lora.targets.empty()) throw InvalidArgument("LoRA targets: the list is empty, so the adapter would change nothing");
    std::set<Proj> seen;
    for (Proj p : s.lora.targets)
      if (!seen.insert(p).second) throw InvalidArgument(std::string("LoRA target '") + projShortName(p) + "' is listed twice");
    if (s.lora.rank < 1) throw InvalidArgument("LoRA rank must be >= 1, got " + std::to_string(s.lora.rank));
    // Above min(in, out) a rank adds parameters but no expressiveness; far above, it only exhausts memory.
    const long long largest = std::max({(long long)c.hiddenSize, (long long)c.intermediateSize,
                                        (long long)c.numHeads * c.headDim, 1LL});
    if (s.lora.rank > largest)
      throw InvalidArgument("LoRA rank " + std::to_string(s.lora.rank) + " exceeds the model's largest dimension (" +
                            std::to_string(largest) + ")");
    if (!(s.lora.alpha > 0)) throw InvalidArgument("lora_alpha must be > 0");
    if (!(s.lora.dropout >= 0 && s.lora.dropout < 1)) throw InvalidArgument("LoRA dropout must be in [0, 1)");
  }
  if (s.garfa.clamp && !(s.garfa.minAlpha > 0 && s.garfa.maxAlpha > s.garfa.minAlpha))
    throw InvalidArgument("GARFA clamp range must satisfy 0 < min < max");
}

bool isAdapterDirectory(const fs::path& dir) {
  return fs::exists(dir / kPeftConfigFile) || fs::exists(dir / kGarfaConfigFile);
}

AdapterSpec readAdapterSpec(const fs::path& dir, const ModelConfig& config) {
  if (!isAdapterDirectory(dir))
    throw CheckpointError(dir.string() + ": not an adapter directory (expected adapter_config.json and/or garfa_config.json)");
  AdapterSpec spec;
  if (fs::exists(dir / kPeftConfigFile)) readPeft(dir / kPeftConfigFile, config, spec);
  if (fs::exists(dir / kGarfaConfigFile)) readGarfa(dir / kGarfaConfigFile, config, spec);
  try {
    validateAdapterSpec(config, spec);
  } catch (const InvalidArgument& e) {
    throw CheckpointError(dir.string() + ": adapter does not fit the model: " + e.what());
  }
  return spec;
}

}  // namespace layerscope::core
