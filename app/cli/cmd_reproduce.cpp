// `layerscope-cli reproduce`: the co-localization study's protocol in one command (experiments/reproduce.h).
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/device_option.h"
#include "app/cli/progress.h"
#include "experiments/reproduce.h"

namespace layerscope::app {
namespace {

int runReproduceCommand(Args& args) {
  experiments::ReproduceRequest r;
  if (args.flag("--quick")) experiments::applyQuickSettings(r);
  r.modelDir = args.required("--model");
  r.benchmarksDir = args.required("--benchmarks");
  r.outDir = args.required("--out");
  r.pairsFile = args.valueOr("--pairs", "");
  r.train = args.required("--train");
  r.steps = args.intOr("--steps", r.steps);
  r.controlSeeds = int(args.intOr("--control-seeds", r.controlSeeds));
  r.bootstrap = std::size_t(args.intOr("--bootstrap", (long long)r.bootstrap));
  r.codeLimit = std::size_t(args.intOr("--code-limit", 0));
  r.codeMaxTokens = int(args.intOr("--code-max-tokens", r.codeMaxTokens));
  r.dtype = args.valueOr("--dtype", r.dtype);
  r.device = deviceOption(args);
  args.finish();
  nlohmann::json summary;
  {
    CliJob job;
    r.log = [&job](const std::string& line) { job.line(line); };
    summary = experiments::runReproduce(r, job.control());
  }
  std::cout << "r_s " << summary["colocalization"]["spearman_r"].dump() << " (p " << summary["colocalization"]["spearman_p"].dump()
            << "); S_sens " << summary["colocalization"]["top_k"]["S_sens"].dump() << ", S_rope "
            << summary["colocalization"]["top_k"]["S_rope"].dump() << "; missing benchmarks " << summary["missing_benchmarks"].dump()
            << "\nwrote " << (r.outDir / "summary.json").string() << "\n";
  return 0;
}

const CommandRegistrar kReproduce({"reproduce",
                                   "--model DIR --benchmarks DIR --out DIR --train FILE|demo:N [--pairs FILE] [--steps 200] "
                                   "[--control-seeds 3] [--bootstrap 1000] [--code-limit N] [--code-max-tokens 512] [--quick] "
                                   "[--dtype D] [--device D]",
                                   "the co-localization study: pairs sensitivity, RoPE influence, statistics, 4-way ablation, "
                                   "HumanEval+ per arm (resumable)",
                                   runReproduceCommand});

}  // namespace
}  // namespace layerscope::app
