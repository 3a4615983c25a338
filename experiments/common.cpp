#include "experiments/common.h"

#include "core/base/error.h"
#include "core/data/benchmarks.h"
#include "core/train/adapter_training.h"
#include "core/train/adapters.h"

namespace layerscope::experiments {
namespace fs = std::filesystem;

ModelHandle loadModel(const fs::path& dir, const std::string& dtype, const std::string& device) {
  ModelHandle h;
  h.dir = dir;
  h.dtype = core::parseComputeDtype(dtype);
  h.device = core::parseDevice(device);  // before the load: an unavailable device fails fast
  h.model = core::LlamaModel::load(dir, h.dtype, h.device);
  h.tokenizer = std::make_shared<const core::Tokenizer>(core::Tokenizer::fromFile(dir));
  return h;
}

bool ModelHandle::matches(const fs::path& other, const std::string& otherDtype, const std::string& otherDevice) const {
  if (!*this || this->dtype != core::parseComputeDtype(otherDtype) || this->device != core::parseDevice(otherDevice))
    return false;
  std::error_code ec;
  return dir == other || fs::equivalent(dir, other, ec);
}

ModelHandle modelFor(const fs::path& dir, const std::string& dtype, const ModelHandle& preloaded,
                     const std::string& device) {
  return preloaded.matches(dir, dtype, device) ? preloaded : loadModel(dir, dtype, device);
}

std::vector<int> parseLayerSet(const std::string& text, int numLayers, const std::string& what) {
  if (text == "all") {
    std::vector<int> v(static_cast<size_t>(numLayers));
    for (int l = 0; l < numLayers; ++l) v[size_t(l)] = l;
    return v;
  }
  auto layers = core::parseLayerList(text.empty() ? std::string("none") : text, what);
  for (int l : layers)
    if (l >= numLayers)
      throw InvalidArgument(what + ": layer " + std::to_string(l) + " is out of range 0.." + std::to_string(numLayers - 1));
  return layers;
}

core::Task loadTrainingTask(const std::string& spec, std::uint64_t seed) {
  if (auto t = core::demoTrainingTask(spec, seed)) return *t;
  return core::readTask(spec);
}

EvalTask loadEvalTask(const core::Tokenizer& tok, const fs::path& file, const std::string& format, std::uint64_t seed) {
  core::BenchmarkOptions bo;
  bo.format = format == "auto" ? core::detectBenchmarkFormat(file) : core::parseBenchmarkFormat(format);
  bo.seed = seed;
  EvalTask e;
  e.file = file;
  e.task = core::loadBenchmark(file, bo);
  e.prepared = core::prepareTask(tok, e.task);
  if (e.task.kind() == core::TaskKind::ShortAnswer) {
    // The layout's usual extraction (last number for MGSM, \boxed{} for MATH); native files have none.
    try {
      e.scoring.extraction = core::parseAnswerExtraction(core::defaultExtractionName(core::detectBenchmarkFormat(file)));
    } catch (const Error&) {
    }
  }
  return e;
}

nlohmann::json itemJson(const core::ItemResult& it, core::TaskKind kind) {
  nlohmann::json j = {{"id", it.id}, {"prediction", it.prediction}, {"gold", it.gold}, {"correct", it.correct},
                      {"loglik", it.loglik}};
  if (kind == core::TaskKind::MultipleChoice) j["correct_norm"] = it.correctNorm;
  if (kind == core::TaskKind::ShortAnswer) j["generated"] = it.generated;
  return j;
}

}  // namespace layerscope::experiments
