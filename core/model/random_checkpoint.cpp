// Random-weight checkpoints (see random_checkpoint.h).
#include "core/model/random_checkpoint.h"

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
  } else {
    throw InvalidArgument("unknown preset '" + name + "' (expected tiny, small or 1b)");
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
  torch::ScalarType type;
  switch (opt.storedDtype) {
    case StDtype::F32: type = torch::kFloat32; break;
    case StDtype::F16: type = torch::kFloat16; break;
    case StDtype::BF16: type = torch::kBFloat16; break;
    default: throw InvalidArgument("random checkpoints are stored as F32, F16 or BF16");
  }
  if (opt.shards < 1) throw InvalidArgument("shards must be >= 1");
  fs::create_directories(dir);
  torch::manual_seed(opt.seed);
  ModelConfig c = config;
  c.torchDtype = opt.storedDtype == StDtype::BF16 ? "bfloat16" : opt.storedDtype == StDtype::F16 ? "float16" : "float32";
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  // Drawn on the host from the seeded host generator (the same files whatever devices the machine has).
  const auto host = torch::TensorOptions().dtype(torch::kFloat32).device(hostDevice());
  for (const auto& [name, shape] : Checkpoint::expectedTensors(c)) {
    torch::Tensor t;
    if (name.find("norm") != std::string::npos) {
      t = 1.0 + (torch::rand(shape, host) * 2 - 1) * opt.normJitter;
    } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      t = torch::randn(shape, host) * opt.weightStd;
    } else {
      t = torch::randn(shape, host) * opt.weightStd;
    }
    tensors.emplace_back(name, t.to(type));
  }
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"generator", "layerscope random checkpoint"}};
  if (opt.shards == 1) {
    writeSafetensors(dir / "model.safetensors", tensors, meta);
  } else {
    const size_t n = size_t(opt.shards), per = (tensors.size() + n - 1) / n;
    nlohmann::json weightMap = nlohmann::json::object();
    for (size_t s = 0; s < n; ++s) {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, n);
      std::vector<std::pair<std::string, torch::Tensor>> part;
      for (size_t i = s * per; i < std::min(tensors.size(), (s + 1) * per); ++i) {
        part.push_back(tensors[i]);
        weightMap[tensors[i].first] = name;
      }
      writeSafetensors(dir / name, part, meta);
    }
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", weightMap}};
    writeFileAtomically(dir / "model.safetensors.index.json", index.dump(2));
  }
  writeFileAtomically(dir / "config.json", toHfJson(c).dump(2));
}

}  // namespace layerscope::core
