// HumanEval(+) evaluation (see humaneval_eval.h).
#include "experiments/humaneval_eval.h"

#include <chrono>
#include <ctime>
#include <map>
#include <thread>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/stopwatch.h"
#include "core/model/model.h"
#include "core/model/runtime.h"
#include "core/text/tokenizer.h"
#include "core/train/adapters.h"
#include "experiments/common.h"
#include "layerscope/version.h"

namespace layerscope::experiments {
namespace fs = std::filesystem;
using nlohmann::json;

CodeEvalResult scoreCompletions(const core::CodeBenchmark& b, const std::vector<core::Generation>& completions,
                                const core::SandboxOptions& sandbox, const core::JobControl* job) {
  if (completions.size() != b.problems.size())
    throw InvalidArgument("scoreCompletions: " + std::to_string(completions.size()) + " completions for " +
                          std::to_string(b.problems.size()) + " problems");
  CodeEvalResult out;
  out.benchmark = b.file.stem().string();
  out.format = core::codeBenchmarkFormatName(b.format);
  out.fingerprint = b.fingerprint;
  std::vector<core::SandboxProgram> programs;
  for (size_t i = 0; i < b.problems.size(); ++i)
    programs.push_back(b.format == core::CodeBenchmarkFormat::HumanEvalPlus
                           ? core::humanEvalPlusTestProgram(b.problems[i], completions[i].text)
                           : core::humanEvalTestProgram(b.problems[i], completions[i].text));
  const auto t0 = std::chrono::steady_clock::now();
  const auto runs = core::runSandboxed(programs, sandbox, job);
  out.executionSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.isolation = ~0u;
  for (size_t i = 0; i < runs.size(); ++i) {
    CodeItem it;
    it.taskId = b.problems[i].taskId;
    it.completion = completions[i].text;
    it.stop = completions[i].stop;
    it.tokens = completions[i].tokens;
    it.status = runs[i].status;
    it.reason = runs[i].reason;
    it.seconds = runs[i].seconds;
    out.passed += it.passed();
    if (runs[i].status != core::SandboxStatus::Error) out.isolation &= runs[i].isolation;
    out.items.push_back(std::move(it));
  }
  if (out.isolation == ~0u) out.isolation = 0;
  out.passAt1 = out.items.empty() ? 0 : double(out.passed) / double(out.items.size());
  return out;
}

json codeItemJson(const CodeItem& it) {
  return {{"task_id", it.taskId}, {"completion", it.completion}, {"stop", it.stop},     {"tokens", it.tokens},
          {"status", core::sandboxStatusName(it.status)},       {"reason", it.reason}, {"seconds", it.seconds},
          {"passed", it.passed()}};
}

json codeResultJson(const CodeEvalResult& r) {
  std::map<std::string, int> counts;
  for (const auto& it : r.items) ++counts[core::sandboxStatusName(it.status)];
  return {{"format", "layerscope.code_eval/1"},
          {"layerscope_version", kVersion},
          {"benchmark", {{"name", r.benchmark}, {"layout", r.format}, {"fingerprint", r.fingerprint}}},
          {"problems", r.items.size()},
          {"passed", r.passed},
          {"pass_at_1", r.passAt1},
          {"status_counts", counts},
          {"sandbox_isolation", core::sandboxIsolationText(r.isolation)},
          {"timings_seconds", {{"generation", r.generationSeconds}, {"execution", r.executionSeconds}}}};
}

CodeEvalResult runCodeEvaluation(const CodeEvalRequest& r, const core::JobControl* job) {
  const core::CodeBenchmark bench = core::loadHumanEval(r.benchmarkFile, r.limit);
  core::sandboxPython(r.sandbox);  // a missing interpreter is reported before the model loads
  if (!r.outDir.empty() && fs::exists(r.outDir) && !r.overwrite)
    throw InvalidArgument(r.outDir.string() + " exists (pass --overwrite to replace it)");
  auto loaded = core::loadModelWithAdapter(r.modelDir, r.adapterDir, core::parseComputeDtype(r.dtype), core::parseDevice(r.device));
  const auto tok = core::Tokenizer::fromFile(r.modelDir);
  const core::Interventions iv = loaded.interventions();
  std::vector<std::string> prompts;
  for (const auto& p : bench.problems) prompts.push_back(p.prompt);
  const auto t0 = std::chrono::steady_clock::now();
  StageJob genJob(job, "humaneval", 0, 0.8, 1.0);
  const auto completions = core::generateGreedy(*loaded.model, tok, prompts, r.generation, loaded.adapter ? &iv : nullptr, genJob.get());
  const double genSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  StageJob runJob(job, "humaneval", 0.8, 1.0, 1.0);
  CodeEvalResult out = scoreCompletions(bench, completions, r.sandbox, runJob.get());
  out.generationSeconds = genSeconds;
  if (!r.outDir.empty()) {
    json meta = codeResultJson(out);
    meta["created_utc"] = core::utcNow();
    meta["model"] = {{"path", fs::absolute(r.modelDir).string()},
                     {"adapter", r.adapterDir.empty() ? json(nullptr) : json(fs::absolute(r.adapterDir).string())},
                     {"dtype", r.dtype},
                     {"device", r.device}};
    meta["benchmark"]["path"] = fs::absolute(r.benchmarkFile).string();
    meta["options"] = {{"limit", r.limit},
                       {"stop_sequences", r.generation.stopSequences},
                       {"max_new_tokens", r.generation.maxNewTokens},
                       {"batch_size", r.generation.batchSize},
                       {"decoding", "greedy"},
                       {"sandbox",
                        {{"python", core::sandboxPython(r.sandbox).string()},
                         {"wall_seconds", r.sandbox.wallSeconds},
                         {"cpu_seconds", r.sandbox.cpuSeconds},
                         {"address_space_bytes", r.sandbox.addressSpaceBytes},
                         {"file_size_bytes", r.sandbox.fileSizeBytes},
                         {"max_processes", r.sandbox.maxProcesses},
                         {"jobs", r.sandbox.jobs > 0 ? int(r.sandbox.jobs) : int(std::max(1u, std::thread::hardware_concurrency()))}}}};
    core::writeDirectoryAtomically(r.outDir, r.overwrite, [&](const fs::path& tmp) {
      std::string lines;
      for (const auto& it : out.items) lines += codeItemJson(it).dump() + "\n";
      core::writeFileAtomically(tmp / "items.jsonl", lines);
      core::writeFileAtomically(tmp / "result.json", meta.dump(2) + "\n");
    });
  }
  return out;
}

}  // namespace layerscope::experiments
