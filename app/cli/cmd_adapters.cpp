// layerscope-cli adapter commands: train (LS-LoRA / GARFA fine-tunes), merge, ablate (the 4-way cross-layer
// ablation, docs/methods.md section 8) and bench train. Argument parsing only: the work is in experiments/.
// Ctrl-C stops at the next step and leaves the newest complete checkpoint for --resume.
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/data_parallel.h"
#include "app/cli/device_option.h"
#include "app/cli/progress.h"
#include "core/base/error.h"
#include "core/dist/world.h"
#include "core/train/adapters.h"
#include "experiments/ablation.h"
#include "experiments/bench.h"
#include "experiments/train_cost.h"
#include "experiments/training_run.h"

namespace layerscope::app {
namespace {

namespace fs = std::filesystem;

// Options shared by train and ablate.
void readTrainOptions(Args& args, core::AdapterSpec& spec, core::AdapterTrainOptions& opt, std::string& dtype,
                      std::string& device) {
  spec.lora.rank = int(args.intOr("--lora-rank", spec.lora.rank));
  spec.lora.alpha = args.doubleOr("--lora-alpha", spec.lora.alpha);
  spec.lora.dropout = args.doubleOr("--lora-dropout", spec.lora.dropout);
  spec.lora.targets = core::parseTargets(args.valueOr("--targets", "q,k,v,o,gate,up,down"));
  spec.garfa.clamp = args.flag("--clamp-alpha");
  spec.garfa.minAlpha = args.doubleOr("--min-alpha", spec.garfa.minAlpha);  // the clamp's range
  spec.garfa.maxAlpha = args.doubleOr("--max-alpha", spec.garfa.maxAlpha);
  opt.steps = args.intOr("--steps", opt.steps);
  opt.warmupSteps = args.intOr("--warmup", opt.warmupSteps);
  opt.loraLr = args.doubleOr("--lr", opt.loraLr);
  opt.loraWeightDecay = args.doubleOr("--weight-decay", opt.loraWeightDecay);
  opt.garfaLr = args.doubleOr("--garfa-lr", opt.garfaLr);
  opt.batchSize = int(args.intOr("--batch", opt.batchSize));
  opt.gradAccum = int(args.intOr("--grad-accum", opt.gradAccum));
  opt.clipNorm = args.doubleOr("--clip", opt.clipNorm);
  opt.seed = uint64_t(args.intOr("--seed", 0));
  opt.checkpointEvery = args.intOr("--checkpoint-every", opt.checkpointEvery);
  dtype = args.valueOr("--dtype", "float32");
  core::parseComputeDtype(dtype);  // a bad value fails before anything loads
  device = deviceOption(args);     // so does an unavailable device
}

std::vector<fs::path> pathList(const std::string& text) {
  std::vector<fs::path> out;
  for (const auto& s : splitCommaList(text)) out.emplace_back(s);
  return out;
}

int runTrain(Args& args) {
  experiments::TrainRunRequest r;
  r.modelDir = args.required("--model");
  r.train = args.required("--train");
  const bool dryRun = args.flag("--dry-run");  // print the cost estimate instead of training
  r.outDir = dryRun ? fs::path(args.valueOr("--out", "")) : fs::path(args.required("--out"));
  r.evalFiles = pathList(args.valueOr("--eval", ""));
  r.loraLayers = args.valueOr("--lora-layers", "none");
  r.garfaLayers = args.valueOr("--garfa-layers", "none");
  r.resume = args.flag("--resume");
  readTrainOptions(args, r.spec, r.options, r.dtype, r.device);
  // Held-out loss curve: on --eval-loss FILE, else on the first --eval file; every N steps ("auto": steps / 10).
  const auto lossFile = args.value("--eval-loss");
  const std::string every = args.valueOr("--eval-loss-every", "auto");
  if (every == "auto") {
    r.options.evalEvery = -1;
  } else {
    const auto n = parseIntList(every, "--eval-loss-every");
    if (n.size() != 1 || n[0] < 0)
      throw InvalidArgument("--eval-loss-every must be a number of steps >= 0 (0: off) or 'auto', not '" + every + "'");
    r.options.evalEvery = n[0];
  }
  r.options.evalItems = int(args.intOr("--eval-loss-items", r.options.evalItems));
  if (r.options.evalItems < 0) throw InvalidArgument("--eval-loss-items must be >= 0 (0: every item)");
  if (lossFile) r.evalLossFile = *lossFile;
  else if (!r.evalFiles.empty()) r.evalLossFile = r.evalFiles.front();
  else if (r.options.evalEvery > 0)
    throw InvalidArgument("--eval-loss-every needs a held-out file: --eval FILE or --eval-loss FILE");
  args.finish();
  if (dryRun) {
    experiments::TrainCostEstimate est;
    {
      CliJob job;
      est = experiments::estimateTraining(r, /*measure=*/true, job.control());
    }
    std::cout << est.table();
    return 0;
  }
  core::dist::World world = core::dist::World::fromEnvironment();
  r.options.parallel = dataParallel(world);
  experiments::TrainRunResult res;
  {
    CliJob job;
    if (world.isRoot()) r.log = [&](const std::string& line) { job.line(line); };
    res = experiments::runTraining(r, job.control());
  }
  world.finish();
  if (!world.isRoot()) return 0;
  for (const auto& c : res.evals) {
    char line[256];
    std::snprintf(line, sizeof line, "%s: base %.4g, adapted %.4g (%+.1f pts)", c.task.c_str(), c.base.accuracy,
                  c.adapted.accuracy, 100 * (c.adapted.accuracy - c.base.accuracy));
    std::cout << line << "\n";
  }
  return 0;
}

int runMerge(Args& args) {
  const fs::path model = args.required("--model"), adapter = args.required("--adapter"), out = args.required("--out");
  const auto device = core::parseDevice(deviceOption(args));
  const bool overwrite = args.flag("--overwrite");
  args.finish();
  core::mergeAdapter(model, adapter, out, device, overwrite);
  std::cerr << "wrote " << out.string()
            << (fs::exists(out / "garfa.safetensors") ? " (GARFA kept as a sidecar: load with --adapter " + out.string() + ")"
                                                      : std::string())
            << "\n";
  return 0;
}

int runAblate(Args& args) {
  experiments::AblationRequest r;
  r.modelDir = args.required("--model");
  r.analysisDir = args.required("--analysis");
  r.train = args.required("--train");
  r.outDir = args.required("--out");
  r.evalFiles = pathList(args.required("--eval"));
  r.evalFormat = args.valueOr("--format", "auto");
  r.controlSeeds = int(args.intOr("--control-seeds", 3));
  readTrainOptions(args, r.spec, r.options, r.dtype, r.device);
  args.finish();
  core::dist::World world = core::dist::World::fromEnvironment();
  r.options.parallel = dataParallel(world);
  experiments::AblationResult res;
  {
    CliJob job;
    if (world.isRoot()) r.log = [&](const std::string& line) { job.line(line); };
    res = experiments::runAblation(r, job.control());
  }
  world.finish();
  if (!world.isRoot()) return 0;
  std::cout << res.csv;
  std::cerr << "wrote " << (r.outDir / "report.json").string() << " and report.csv\n";
  return 0;
}

int runBenchTrain(Args& args) {
  experiments::TrainBenchRequest r;
  r.modelDir = args.positional("MODEL_DIR");
  r.tokens = args.intOr("--tokens", r.tokens);
  r.batch = args.intOr("--batch", r.batch);
  r.dtype = args.valueOr("--dtype", r.dtype);
  r.steps = int(args.intOr("--steps", r.steps));
  r.loraLayers = args.valueOr("--lora-layers", r.loraLayers);
  r.garfaLayers = args.valueOr("--garfa-layers", r.garfaLayers);
  r.loraRank = int(args.intOr("--lora-rank", r.loraRank));
  r.device = deviceOption(args);
  args.finish();
  std::cout << experiments::benchTrain(r).dump(2) << "\n";
  return 0;
}

const CommandRegistrar kTrain(
    {"train",
     "--model DIR --train FILE|demo:[FAMILY:]N [--eval FILE,...] [--lora-layers 23-31|all|none] [--garfa-layers 0-9|all|none] "
     "[--lora-rank 16] [--lora-alpha 32] [--lora-dropout 0.05] [--targets q,k,v,o,gate,up,down] [--steps 200] "
     "[--warmup N] [--lr 2e-4] [--weight-decay 0] [--garfa-lr 1e-3] [--clamp-alpha [--min-alpha 0.25] [--max-alpha 4]] "
     "[--batch 8] [--grad-accum 1] "
     "[--clip 1] [--seed 0] [--dtype float32|bfloat16] [--device cpu|cuda|cuda:N] [--checkpoint-every 50] --out DIR [--resume] "
     "[--eval-loss FILE] [--eval-loss-every auto|N] [--eval-loss-items 100] [--dry-run]",
     "fine-tune LS-LoRA and/or GARFA adapters on a task file (base frozen); PEFT files in --out", runTrain});
const CommandRegistrar kMerge({"merge", "--model DIR --adapter DIR --out DIR [--overwrite] [--device D]",
                               "write a full HF checkpoint with LoRA folded in (GARFA copied beside it as a sidecar)",
                               runMerge});
const CommandRegistrar kAblate(
    {"ablate",
     "--model DIR --analysis RESULTS_DIR --train FILE|demo:[FAMILY:]N --eval FILE[,FILE...] --out DIR [--steps 200] [--seed 0] "
     "[--control-seeds 3] [--format auto] [training options of train]",
     "the 4-way cross-layer ablation C1-C5 (docs/methods.md section 8) plus the base model; report.json / report.csv; "
     "resumes arm by arm",
     runAblate});
const CommandRegistrar kBenchTrain(
    {"bench train", "MODEL_DIR [--tokens 128] [--batch 4] [--dtype bfloat16] [--steps 4] [--lora-layers all] "
                    "[--garfa-layers all] [--lora-rank 16] [--device D]",
     "adapter training tokens/s and the fraction of this machine's GEMM rate (4 x params x tokens per step), also of "
     "the step's weight products alone", runBenchTrain});

}  // namespace
}  // namespace layerscope::app
