#include "experiments/evaluation.h"

#include <algorithm>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/train/adapter_training.h"
#include "core/train/adapters.h"

namespace layerscope::experiments {
namespace {

// Every field of a per-item result, for the gather (doubles round-trip exactly through nlohmann's dump).
nlohmann::json fullItemJson(const core::ItemResult& it) {
  return {{"id", it.id},           {"prediction", it.prediction}, {"gold", it.gold},
          {"correct", it.correct}, {"correct_norm", it.correctNorm}, {"predicted", it.predicted},
          {"predicted_norm", it.predictedNorm}, {"loglik", it.loglik}, {"generated", it.generated}};
}

core::ItemResult itemFromJson(const nlohmann::json& j) {
  core::ItemResult it;
  it.id = j.at("id").get<std::string>();
  it.prediction = j.at("prediction").get<std::string>();
  it.gold = j.at("gold").get<std::string>();
  it.correct = j.at("correct").get<bool>();
  it.correctNorm = j.at("correct_norm").get<bool>();
  it.predicted = j.at("predicted").get<int>();
  it.predictedNorm = j.at("predicted_norm").get<int>();
  it.loglik = j.at("loglik").get<std::vector<double>>();
  it.generated = j.at("generated").get<std::string>();
  return it;
}

}  // namespace

core::EvalResult evaluateDataParallel(const core::LlamaModel& model, const core::AdapterSet* adapter,
                                      const core::Tokenizer& tok, const core::PreparedTask& task,
                                      const core::ScoringOptions& so, const core::DataParallel& dp,
                                      const core::JobControl* job) {
  if (!dp.distributed()) return core::evaluateWithAdapter(model, adapter, tok, task, so, job);
  if (!dp.allGather) throw InvalidArgument("data-parallel evaluation needs the all-gather of the process group");
  // This rank's contiguous share (core::dist::shardOf's split): concatenated in rank order, the item order.
  const std::size_t n = task.items.size(), r = std::size_t(dp.rank), w = std::size_t(dp.size);
  const std::size_t begin = r * (n / w) + std::min(r, n % w), end = begin + n / w + (r < n % w ? 1 : 0);
  core::PreparedTask mine = task;
  mine.items.assign(task.items.begin() + std::ptrdiff_t(begin), task.items.begin() + std::ptrdiff_t(end));
  core::EvalResult part;
  part.kind = task.kind;
  part.options = so;
  if (!mine.items.empty()) part = core::evaluateWithAdapter(model, adapter, tok, mine, so, job);
  nlohmann::json items = nlohmann::json::array();
  for (const auto& it : part.items) items.push_back(fullItemJson(it));
  const nlohmann::json payload = {{"items", items}, {"forward_passes", part.forwardPasses}, {"seconds", part.seconds}};
  core::EvalResult all = part;
  all.items.clear();
  all.forwardPasses = 0;
  all.seconds = 0;
  for (const auto& text : dp.allGather(payload.dump())) {
    const auto j = nlohmann::json::parse(text);
    for (const auto& it : j.at("items")) all.items.push_back(itemFromJson(it));
    all.forwardPasses += j.at("forward_passes").get<std::size_t>();
    all.seconds = std::max(all.seconds, j.at("seconds").get<double>());
  }
  if (all.items.size() != n)
    throw Error("data-parallel evaluation: gathered " + std::to_string(all.items.size()) + " item results for " +
                std::to_string(n) + " items (were the ranks started on the same task?)");
  std::size_t nc = 0, nn = 0;  // as core::evaluateVariants counts them
  for (const auto& it : all.items) nc += it.correct, nn += it.correctNorm;
  all.correct = nc;
  all.accuracy = double(nc) / double(n);
  all.accuracyNorm = double(nn) / double(n);
  return all;
}

EvalRunResult runEvaluation(const EvalRequest& r, const core::JobControl* job) {
  core::BenchmarkOptions bo = r.benchmark;
  bo.format = r.format == "auto" ? core::detectBenchmarkFormat(r.taskFile) : core::parseBenchmarkFormat(r.format);
  core::ScoringOptions so = r.scoring;
  so.extraction = core::parseAnswerExtraction(r.extraction.value_or(core::defaultExtractionName(bo.format)));
  auto loaded = core::loadModelWithAdapter(r.modelDir, r.adapterDir, core::parseComputeDtype(r.dtype),
                                           core::parseDevice(r.device));
  auto tok = core::Tokenizer::fromFile(r.modelDir);
  auto task = core::loadBenchmark(r.taskFile, bo);
  auto prepared = core::prepareTask(tok, task);
  EvalRunResult out;
  out.taskName = task.name;
  out.bosPolicy = core::bosPolicy(tok);
  out.withAdapter = loaded.adapter != nullptr;
  out.result = evaluateDataParallel(*loaded.model, loaded.adapter.get(), tok, prepared, so, r.parallel, job);
  if (!r.itemsOut.empty() && r.parallel.rank == 0) {
    std::string lines;
    for (const auto& it : out.result.items) lines += itemJson(it, out.result.kind).dump() + "\n";
    core::writeFileAtomically(r.itemsOut, lines);
  }
  return out;
}

}  // namespace layerscope::experiments
