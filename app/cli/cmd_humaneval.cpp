// `layerscope-cli humaneval`: HumanEval / HumanEval+ pass@1 of a model (experiments/humaneval_eval.h): greedy
// completions, each tested in the sandbox; items.jsonl + result.json in --out.
#include <iomanip>
#include <map>
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/device_option.h"
#include "app/cli/progress.h"
#include "core/base/error.h"
#include "experiments/humaneval_eval.h"

namespace layerscope::app {
namespace {

// "\ndef ,\nclass " -> {"\ndef ", "\nclass "}: comma-separated, with \n, \t and \\ escapes.
std::vector<std::string> parseStops(const std::string& text) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ',') {
      out.emplace_back();
    } else if (text[i] == '\\' && i + 1 < text.size()) {
      const char c = text[++i];
      out.back() += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out.back() += text[i];
    }
  }
  std::erase_if(out, [](const std::string& s) { return s.empty(); });
  return out;
}

int runHumanEval(Args& args) {
  experiments::CodeEvalRequest r;
  r.modelDir = args.required("--model");
  r.benchmarkFile = args.required("--benchmark");
  r.adapterDir = args.valueOr("--adapter", "");
  r.outDir = args.valueOr("--out", "");
  r.overwrite = args.flag("--overwrite");
  r.limit = std::size_t(args.intOr("--limit", 0));
  r.generation.maxNewTokens = int(args.intOr("--max-tokens", r.generation.maxNewTokens));
  r.generation.batchSize = int(args.intOr("--batch", r.generation.batchSize));
  if (auto s = args.value("--stop")) r.generation.stopSequences = parseStops(*s);
  r.sandbox.wallSeconds = args.doubleOr("--timeout", r.sandbox.wallSeconds);
  r.sandbox.cpuSeconds = int(args.intOr("--cpu-seconds", r.sandbox.cpuSeconds));
  r.sandbox.addressSpaceBytes = std::uint64_t(args.intOr("--memory-mib", (long long)(r.sandbox.addressSpaceBytes >> 20))) << 20;
  r.sandbox.jobs = int(args.intOr("--jobs", 0));
  r.sandbox.python = args.valueOr("--python", "");
  r.dtype = args.valueOr("--dtype", r.dtype);
  r.device = deviceOption(args);
  args.finish();
  if (r.limit > 1000000) throw InvalidArgument("--limit must be >= 0");
  experiments::CodeEvalResult res;
  {
    CliJob job;
    res = experiments::runCodeEvaluation(r, job.control());
  }
  std::map<std::string, int> counts;
  for (const auto& it : res.items) ++counts[core::sandboxStatusName(it.status)];
  std::cout << res.benchmark << " (" << res.format << "): pass@1 " << std::fixed << std::setprecision(4) << res.passAt1
            << " (" << res.passed << "/" << res.items.size() << ");";
  for (const auto& [status, n] : counts) std::cout << " " << status << " " << n;
  std::cout << std::setprecision(1) << "; generation " << res.generationSeconds << " s, execution " << res.executionSeconds
            << " s; sandbox: " << core::sandboxIsolationText(res.isolation) << "\n";
  if (!r.outDir.empty()) std::cerr << "wrote " << r.outDir.string() << "\n";
  return 0;
}

const CommandRegistrar kHumanEval({"humaneval",
                                   "--model DIR --benchmark FILE.jsonl [--adapter DIR] [--out DIR] [--overwrite] [--limit N] "
                                   "[--max-tokens 512] [--batch 4] [--stop '\\ndef ,\\nclass ,...'] [--timeout 10] [--cpu-seconds 10] "
                                   "[--memory-mib 1024] [--jobs N] [--python PATH] [--dtype D] [--device D]",
                                   "HumanEval / HumanEval+ pass@1: greedy completions run in a sandbox (items.jsonl, result.json)",
                                   runHumanEval});

}  // namespace
}  // namespace layerscope::app
