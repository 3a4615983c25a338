// Checkpoint directory opening and validation (see checkpoint.h).
#include "core/model/checkpoint.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/base/error.h"
#include "core/model/names.h"

namespace layerscope::core {
namespace fs = std::filesystem;

namespace {

std::string shapeText(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Shard file names come from a JSON file the user may not have written: never let them escape the directory.
void checkShardName(const std::string& name, const fs::path& index) {
  if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
      name.find("..") != std::string::npos || name.find('\0') != std::string::npos)
    throw CheckpointError(index.string() + ": shard name '" + name +
                          "' is not a plain file name (path separators and '..' are not allowed)");
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> Checkpoint::expectedTensors(const ModelConfig& c) {
  const int64_t D = c.hiddenSize, F = c.intermediateSize, H = c.numHeads, G = c.numKvHeads, Dh = c.headDim,
                V = c.vocabSize;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({kHfEmbed, {V, D}});
  for (int l = 0; l < c.numLayers; ++l) {
    out.push_back({hfInputNorm(l), {D}});
    out.push_back({hfPostAttentionNorm(l), {D}});
    for (Proj p : kAllProj) {
      int64_t outDim = 0, inDim = 0;
      bool bias = false;
      switch (p) {
        case Proj::Q: outDim = H * Dh, inDim = D, bias = c.qkvBias; break;
        case Proj::K:
        case Proj::V: outDim = G * Dh, inDim = D, bias = c.qkvBias; break;
        case Proj::O: outDim = D, inDim = H * Dh, bias = c.oBias; break;
        case Proj::Gate:
        case Proj::Up: outDim = F, inDim = D, bias = c.mlpBias; break;
        case Proj::Down: outDim = D, inDim = F, bias = c.mlpBias; break;
      }
      out.push_back({hfProjPrefix(l, p) + ".weight", {outDim, inDim}});
      if (bias) out.push_back({hfProjPrefix(l, p) + ".bias", {outDim}});
    }
  }
  out.push_back({kHfFinalNorm, {D}});
  if (!c.tieWordEmbeddings) out.push_back({kHfLmHead, {V, D}});
  return out;
}

Checkpoint Checkpoint::open(const fs::path& dir) {
  Checkpoint ck;
  ck.dir_ = dir;
  if (!fs::is_directory(dir))
    throw CheckpointError(dir.string() + ": not a directory (expected a Hugging Face model folder with config.json)");
  ck.config_ = loadModelConfig(dir / "config.json");

  const fs::path index = dir / "model.safetensors.index.json";
  const fs::path single = dir / "model.safetensors";
  std::map<std::string, std::string> shardOf;  // tensor -> shard file name (index only)
  std::vector<std::string> shardNames;
  if (fs::exists(index)) {
    nlohmann::json j;
    try {
      std::ifstream in(index);
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw CheckpointError(index.string() + ": invalid JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j.at("weight_map").is_object())
      throw CheckpointError(index.string() + ": missing object 'weight_map'");
    std::set<std::string> seen;
    for (auto it = j.at("weight_map").begin(); it != j.at("weight_map").end(); ++it) {
      if (!it.value().is_string()) throw CheckpointError(index.string() + ": weight_map['" + it.key() + "'] is not a string");
      const std::string shard = it.value().get<std::string>();
      checkShardName(shard, index);
      shardOf[it.key()] = shard;
      if (seen.insert(shard).second) shardNames.push_back(shard);
    }
  } else if (fs::exists(single)) {
    shardNames.push_back("model.safetensors");
  } else {
    throw CheckpointError(dir.string() + ": no model.safetensors or model.safetensors.index.json found");
  }
  for (const auto& name : shardNames) {
    const fs::path p = dir / name;
    if (!fs::exists(p)) throw CheckpointError(index.string() + ": lists shard '" + name + "', which does not exist");
    auto file = SafetensorsFile::open(p);
    const size_t idx = ck.files_.size();
    for (const auto& [tname, entry] : file->entries()) {
      if (ck.where_.count(tname))
        throw CheckpointError(p.string() + ": tensor '" + tname + "' also appears in " +
                              ck.files_[ck.where_[tname]]->path().filename().string());
      if (!shardOf.empty()) {
        auto it = shardOf.find(tname);
        if (it == shardOf.end() || it->second != name)
          throw CheckpointError(p.string() + ": tensor '" + tname + "' is not listed for this shard in " +
                                index.filename().string());
      }
      ck.where_[tname] = idx;
    }
    ck.files_.push_back(std::move(file));
  }
  for (const auto& [tname, shard] : shardOf)
    if (!ck.where_.count(tname))
      throw CheckpointError(index.string() + ": lists tensor '" + tname + "' in '" + shard + "', which does not contain it");

  std::set<std::string> expectedNames;
  for (const auto& [name, shape] : expectedTensors(ck.config_)) {
    expectedNames.insert(name);
    auto it = ck.where_.find(name);
    if (it == ck.where_.end())
      throw CheckpointError(dir.string() + ": missing tensor '" + name + "' (expected shape " + shapeText(shape) +
                            " from config.json)");
    const StEntry& e = ck.files_[it->second]->entry(name);
    if (e.shape != shape)
      throw CheckpointError(ck.files_[it->second]->path().string() + ": tensor '" + name + "' has shape " +
                            shapeText(e.shape) + ", expected " + shapeText(shape) + " from config.json");
    if (e.dtype != StDtype::F32 && e.dtype != StDtype::F16 && e.dtype != StDtype::BF16)
      throw CheckpointError(ck.files_[it->second]->path().string() + ": tensor '" + name + "' has dtype " +
                            dtypeName(e.dtype) + ", expected F32, F16 or BF16");
  }
  for (const auto& [tname, idx] : ck.where_)
    if (!expectedNames.count(tname) && !(ck.config_.tieWordEmbeddings && tname == kHfLmHead))
      ck.unexpected_.push_back(tname);
  return ck;
}

torch::Tensor Checkpoint::tensor(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw CheckpointError(dir_.string() + ": no tensor named '" + name + "'");
  return files_[it->second]->tensor(name);
}

std::string Checkpoint::storedDtype() const {
  std::set<std::string> kinds;
  for (const auto& [name, shape] : expectedTensors(config_)) kinds.insert(dtypeName(files_[where_.at(name)]->entry(name).dtype));
  return kinds.size() == 1 ? *kinds.begin() : "mixed";
}

uint64_t Checkpoint::fileBytes() const {
  uint64_t n = 0;
  for (const auto& f : files_) n += f->fileSize();
  return n;
}

}  // namespace layerscope::core
