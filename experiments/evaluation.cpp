#include "experiments/evaluation.h"

#include <algorithm>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/shard_range.h"
#include "core/model/eval_parts.h"
#include "core/train/adapter_training.h"
#include "core/train/adapters.h"

namespace layerscope::experiments {
core::EvalResult evaluateDataParallel(const core::LlamaModel& model, const core::AdapterSet* adapter,
                                      const core::Tokenizer& tok, const core::PreparedTask& task,
                                      const core::ScoringOptions& so, const core::DataParallel& dp,
                                      const core::JobControl* job) {
  if (!dp.distributed()) return core::evaluateWithAdapter(model, adapter, tok, task, so, job);
  if (!dp.allGather) throw InvalidArgument("data-parallel evaluation needs the all-gather of the process group");
  // This rank's contiguous share (core::shardOf): concatenated in rank order, the item order.
  const std::size_t n = task.items.size();
  const core::ShardRange share = core::shardOf(std::int64_t(n), dp.rank, dp.size);
  core::PreparedTask mine = task;
  mine.items.assign(task.items.begin() + std::ptrdiff_t(share.begin), task.items.begin() + std::ptrdiff_t(share.end));
  core::EvalResult part;
  part.kind = task.kind;
  part.options = so;
  if (!mine.items.empty()) part = core::evaluateWithAdapter(model, adapter, tok, mine, so, job);
  // A rank with no items sends none (more ranks than items); the join counts them over all ranks.
  return std::move(core::joinEvalParts(dp.allGather(core::evalPartsText({part})), part, 1, n).front());
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
