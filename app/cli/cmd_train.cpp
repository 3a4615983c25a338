// layerscope-cli pretrain: trains a model organism from scratch with LayerScope's own trainer.
#include <csignal>
#include <cstdio>
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/progress.h"
#include "core/train/pretrain.h"

namespace layerscope::app {
namespace {

int runPretrain(Args& args) {
  core::PretrainOptions opt;
  opt.recipe = args.valueOr("--recipe", "demo");
  const std::filesystem::path out = args.required("--out");
  opt.seed = uint64_t(args.intOr("--seed", 1234));
  opt.steps = args.intOr("--steps", 0);
  opt.batchRows = args.intOr("--batch", 0);
  opt.lr = args.doubleOr("--lr", 0);
  opt.checkpointEvery = args.intOr("--checkpoint-every", 200);
  opt.resume = args.flag("--resume");
  args.finish();
  CancelOnSigint cancel;
  core::JobControl job(cancel.token());
  auto log = core::pretrain(out, opt, [](const core::StepReport& r) {
    if (r.step == 1 || r.step % 25 == 0 || r.step == r.totalSteps)
      std::fprintf(stderr, "step %lld/%lld  loss %.4f  lr %.2e  grad %.2f  %.0f tok/s  ETA %.0f s\n",
                   static_cast<long long>(r.step), static_cast<long long>(r.totalSteps), r.loss, r.lr, r.gradNorm,
                   r.tokensPerSecond, r.etaSeconds);
  }, &job);
  std::cerr << "wrote " << out.string() << " (held-out completion loss " << log["heldout_completion_loss"].get<double>()
            << ")\n";
  return 0;
}

const CommandRegistrar kPretrain({"pretrain",
                                  "--out DIR [--recipe demo] [--seed 1234] [--steps N] [--batch ROWS] [--lr LR] "
                                  "[--checkpoint-every 200] [--resume]",
                                  "train a model organism from scratch on the synthetic task suite", runPretrain});

}  // namespace
}  // namespace layerscope::app
