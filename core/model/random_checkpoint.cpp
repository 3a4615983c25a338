// Random-weight checkpoints (see random_checkpoint.h).
#include "core/model/random_checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/model/checkpoint.h"
#include "core/base/error.h"
#include "core/model/runtime.h"

namespace layerscope::core {

namespace fs = std::filesystem;

ModelConfig presetConfig(const std::string& name) {
  ModelConfig c;
  c.modelType = "llama";
  c.rmsNormEps = 1e-5;
  c.ropeTheta = 500000.0;
  c.maxPositionEmbeddings = 2048;
  if (name == "tiny") {
    c.hiddenSize = 64, c.intermediateSize = 172, c.numLayers = 2, c.numHeads = 8, c.numKvHeads = 2, c.vocabSize = 512;
  } else if (name == "small") {
    c.hiddenSize = 256, c.intermediateSize = 688, c.numLayers = 4, c.numHeads = 8, c.numKvHeads = 2, c.vocabSize = 2048;
  } else if (name == "1b") {
    c.hiddenSize = 2048, c.intermediateSize = 8192, c.numLayers = 16, c.numHeads = 32, c.numKvHeads = 8,
    c.vocabSize = 32000;
  } else if (name == "llama31-8b") {
    // Meta-Llama-3.1-8B's config.json (shapes, RoPE, special ids): random weights, the real architecture.
    c.hiddenSize = 4096, c.intermediateSize = 14336, c.numLayers = 32, c.numHeads = 32, c.numKvHeads = 8,
    c.vocabSize = 128256;
    c.maxPositionEmbeddings = 131072;
    c.bosTokenId = 128000, c.eosTokenId = 128001;
  } else {
    throw InvalidArgument("unknown preset '" + name + "' (expected tiny, small, 1b or llama31-8b)");
  }
  c.headDim = c.hiddenSize / c.numHeads;
  c.ropeScaling.kind = RopeScaling::Kind::Llama3;
  c.ropeScaling.factor = 8.0;
  c.ropeScaling.lowFreqFactor = 1.0;
  c.ropeScaling.highFreqFactor = 4.0;
  c.ropeScaling.originalMaxPositions = 8192;
  return c;
}

void writeRandomCheckpoint(const fs::path& dir, const ModelConfig& config, const RandomCheckpointOptions& opt) {
  torch::NoGradGuard noGrad;
  if (opt.storedDtype != StDtype::F32 && opt.storedDtype != StDtype::F16 && opt.storedDtype != StDtype::BF16)
    throw InvalidArgument("random checkpoints are stored as F32, F16 or BF16");
  if (opt.shards < 1) throw InvalidArgument("shards must be >= 1");
  fs::create_directories(dir);
  torch::manual_seed(opt.seed);
  ModelConfig c = config;
  c.torchDtype = opt.storedDtype == StDtype::BF16 ? "bfloat16" : opt.storedDtype == StDtype::F16 ? "float16" : "float32";
  // Streamed (docs/scale.md): each tensor is drawn, converted and written before the next is drawn, so making the
  // 16 GB Llama 3.1 8B-shaped checkpoint holds about one tensor (the 2 GB float32 draw of the embedding) in
  // memory. Drawn on the host from the seeded host generator, in Checkpoint::expectedTensors order (the same
  // values whatever the sharding and whatever devices the machine has).
  const auto host = torch::TensorOptions().dtype(torch::kFloat32).device(hostDevice());
  std::vector<StreamedTensor> tensors;
  uint64_t totalBytes = 0;
  for (const auto& [name, shape] : Checkpoint::expectedTensors(c)) {
    const bool norm = name.find("norm") != std::string::npos;
    tensors.push_back({name, opt.storedDtype, shape, [shape = shape, norm, host, &opt] {
                         // In place (same arithmetic, same values): one float32 buffer per tensor at a time.
                         if (norm) return torch::rand(shape, host).mul_(2).sub_(1).mul_(opt.normJitter).add_(1.0);
                         return torch::randn(shape, host).mul_(opt.weightStd);
                       }});
    totalBytes += tensors.back().bytes();
  }
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"generator", "layerscope random checkpoint"}};
  if (opt.shards == 1) {
    writeSafetensorsStreaming(dir / "model.safetensors", tensors, meta);
  } else {
    // Consecutive tensors per shard, cut at equal shares of the bytes (as Hugging Face's max_shard_size does);
    // every shard gets at least one tensor.
    const size_t n = std::min(size_t(opt.shards), tensors.size());
    std::vector<std::vector<StreamedTensor>> parts(n);
    uint64_t seen = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      size_t s = std::min(n - 1, size_t(double(seen) / double(std::max<uint64_t>(totalBytes, 1)) * double(n)));
      s = std::max(s, n - std::min(n, tensors.size() - i));  // leave one tensor for each remaining shard
      parts[s].push_back(tensors[i]);
      seen += tensors[i].bytes();
    }
    std::erase_if(parts, [](const auto& p) { return p.empty(); });  // one huge tensor can span several shares
    nlohmann::json weightMap = nlohmann::json::object();
    for (size_t s = 0; s < parts.size(); ++s) {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, parts.size());
      for (const auto& t : parts[s]) weightMap[t.name] = name;
      writeSafetensorsStreaming(dir / name, parts[s], meta);
    }
    nlohmann::json index = {{"metadata", {{"total_size", totalBytes}}}, {"weight_map", weightMap}};
    writeFileAtomically(dir / "model.safetensors.index.json", index.dump(2));
  }
  writeFileAtomically(dir / "config.json", toHfJson(c).dump(2));
}

}  // namespace layerscope::core
