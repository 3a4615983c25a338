#include "experiments/evaluation.h"

#include "core/base/atomic_file.h"
#include "core/train/adapter_training.h"
#include "core/train/adapters.h"

namespace layerscope::experiments {

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
  out.result = core::evaluateWithAdapter(*loaded.model, loaded.adapter.get(), tok, prepared, so, job);
  if (!r.itemsOut.empty()) {
    std::string lines;
    for (const auto& it : out.result.items) lines += itemJson(it, out.result.kind).dump() + "\n";
    core::writeFileAtomically(r.itemsOut, lines);
  }
  return out;
}

}  // namespace layerscope::experiments
