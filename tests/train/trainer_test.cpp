// The shared trainer: schedule, AdamW against LibTorch's own implementation, exact resume, and a short
// pretraining run that must lower the loss.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/base/error.h"
#include "core/model/model.h"
#include "core/train/pretrain.h"
#include "core/train/trainer.h"
#include "tests/common/test_util.h"

using namespace layerscope;
using namespace layerscope::core;

TEST(Trainer, WarmupThenCosineToMinimum) {
  TrainerOptions o;
  o.steps = 110, o.warmupSteps = 10, o.minLrRatio = 0.1;
  EXPECT_DOUBLE_EQ(lrFactor(o, 0), 0.1);
  EXPECT_DOUBLE_EQ(lrFactor(o, 9), 1.0);
  EXPECT_DOUBLE_EQ(lrFactor(o, 10), 1.0);
  EXPECT_NEAR(lrFactor(o, 10 + 99 / 2.0), 0.55, 0.01);  // half-way: (1 + 0.1) / 2
  EXPECT_DOUBLE_EQ(lrFactor(o, 109), 0.1);
}

TEST(Trainer, AdamWMatchesLibTorchAdamW) {
  // Independent reference: torch::optim::AdamW on the same quadratic, constant lr (no warmup, min ratio 1).
  torch::manual_seed(0);
  auto target = torch::randn({5, 3});
  auto p0 = torch::randn({5, 3});
  auto ours = p0.clone().requires_grad_(true), ref = p0.clone().requires_grad_(true);
  TrainerOptions o;
  o.steps = 25, o.warmupSteps = 0, o.minLrRatio = 1.0, o.clipNorm = 0, o.beta2 = 0.95;
  Trainer t({{"w", {{"w", ours}}, 0.05, 0.1, {}}}, o);
  t.run([&](int64_t, int) { return std::make_pair((ours - target).pow(2).sum(), 1.0); });
  torch::optim::AdamW opt({ref}, torch::optim::AdamWOptions(0.05).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1));
  for (int i = 0; i < 25; ++i) {
    opt.zero_grad();
    (ref - target).pow(2).sum().backward();
    opt.step();
  }
  EXPECT_TRUE(torch::allclose(ours, ref, 1e-6, 1e-6)) << (ours - ref).abs().max().item<double>();
}

namespace {

// A seeded 4 x 4 parameter and a loss with dropout over it: exact resume (and a held-out pass that changes
// nothing) also needs the per-micro-batch seeding.
torch::Tensor seededParams(uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randn({4, 4}).requires_grad_(true);
}

LossFn dropoutLoss(torch::Tensor& w) {
  return [&w](int64_t step, int micro) {
    auto x = torch::full({4}, double(step % 3 + micro + 1));
    return std::make_pair(torch::dropout(torch::matmul(w, x), 0.3, true).pow(2).mean(), 4.0);
  };
}

}  // namespace

TEST(Trainer, ResumeReproducesTheUninterruptedRun) {
  test::TempDir dir;
  auto makeParams = [] { return seededParams(1); };
  auto lossFor = [](torch::Tensor& w) { return dropoutLoss(w); };
  TrainerOptions o;
  o.steps = 8, o.warmupSteps = 2, o.gradAccum = 2, o.seed = 7, o.checkpointEvery = 3;
  auto w1 = makeParams();
  auto full = Trainer({{"w", {{"w", w1}}, 0.01, 0.01, {}}}, o).run(lossFor(w1));

  o.checkpointDir = dir / "ck";
  auto w2 = makeParams();
  std::stop_source stop;
  JobControl job(stop.get_token(), [&](const Progress& p) {
    if (p.done >= 5) stop.request_stop();  // "killed" after step 5; newest checkpoint is step 3
  });
  EXPECT_THROW(Trainer({{"w", {{"w", w2}}, 0.01, 0.01, {}}}, o).run(lossFor(w2), {}, &job), Cancelled);
  EXPECT_EQ(Trainer::newestCheckpoint(dir / "ck").filename(), "step-00000003");
  std::filesystem::create_directories(dir / "ck" / ".step-00000006.tmp");  // a torn write is ignored
  auto w3 = makeParams();
  auto resumed = Trainer({{"w", {{"w", w3}}, 0.01, 0.01, {}}}, o).run(lossFor(w3), {}, nullptr, /*resume=*/true);
  EXPECT_EQ(resumed.resumedFromStep, 3);
  ASSERT_EQ(resumed.losses.size(), full.losses.size());
  for (size_t i = 0; i < full.losses.size(); ++i) EXPECT_EQ(resumed.losses[i], full.losses[i]) << "step " << i + 1;
  EXPECT_TRUE(torch::equal(w3, w1));
}

// Held-out loss: points after every evalEvery-th step and the last, each equal to the loss recomputed from the
// parameters of that step; the trained parameters are bitwise those of a run without it (dropout in the training
// loss, so this also checks the held-out pass leaves the per-step seeding alone); a resume keeps the earlier points.
TEST(Trainer, HeldOutLossPointsAreExactAndChangeNothing) {
  test::TempDir dir;
  auto makeParams = [] { return seededParams(3); };
  auto lossFor = [](torch::Tensor& w) { return dropoutLoss(w); };
  const auto heldX = torch::tensor({0.5, -1.0, 2.0, 0.25});
  auto heldOut = [&](const torch::Tensor& w) { return torch::matmul(w, heldX).pow(2).sum().item<double>(); };
  TrainerOptions o;
  o.steps = 7, o.warmupSteps = 1, o.seed = 11, o.checkpointEvery = 3;
  auto plain = makeParams();
  Trainer({{"w", {{"w", plain}}, 0.01, 0.0, {}}}, o).run(lossFor(plain));

  auto w = makeParams();
  std::vector<std::pair<int64_t, double>> expected;  // recomputed from the parameters after each reported step
  std::vector<int64_t> reported;
  o.evalEvery = 3;
  o.evalLoss = [&] { return std::make_pair(heldOut(w), 4.0); };  // sum over 4 "tokens": the point is the sum / 4
  auto full = Trainer({{"w", {{"w", w}}, 0.01, 0.0, {}}}, o).run(lossFor(w), [&](const StepReport& r) {
    if (!std::isnan(r.evalLoss)) reported.push_back(r.step), expected.emplace_back(r.step, heldOut(w.detach()) / 4);
  });
  EXPECT_TRUE(torch::equal(w, plain)) << "the held-out pass changed the trained parameters";
  EXPECT_EQ(reported, (std::vector<int64_t>{3, 6, 7}));
  ASSERT_EQ(full.evalLosses.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(full.evalLosses[i].step, expected[i].first);
    EXPECT_DOUBLE_EQ(full.evalLosses[i].loss, expected[i].second);
  }

  // Killed after step 5 (newest checkpoint: step 3, which carries the point of step 3), then resumed.
  o.checkpointDir = dir / "ck";
  auto w2 = makeParams();
  o.evalLoss = [&] { return std::make_pair(heldOut(w2), 4.0); };
  std::stop_source stop;
  JobControl job(stop.get_token(), [&](const Progress& p) {
    if (p.done >= 5) stop.request_stop();
  });
  EXPECT_THROW(Trainer({{"w", {{"w", w2}}, 0.01, 0.0, {}}}, o).run(lossFor(w2), {}, &job), Cancelled);
  auto w3 = makeParams();
  o.evalLoss = [&] { return std::make_pair(heldOut(w3), 4.0); };
  auto resumed = Trainer({{"w", {{"w", w3}}, 0.01, 0.0, {}}}, o).run(lossFor(w3), {}, nullptr, /*resume=*/true);
  EXPECT_EQ(resumed.resumedFromStep, 3);
  ASSERT_EQ(resumed.evalLosses.size(), full.evalLosses.size());
  for (size_t i = 0; i < full.evalLosses.size(); ++i) {
    EXPECT_EQ(resumed.evalLosses[i].step, full.evalLosses[i].step);
    EXPECT_EQ(resumed.evalLosses[i].loss, full.evalLosses[i].loss) << "point " << i;
  }
  EXPECT_TRUE(torch::equal(w3, w));
}

TEST(Trainer, RejectsNonTrainableParameters) {
  EXPECT_THROW(Trainer({{"w", {{"w", torch::zeros({2})}}, 0.1, 0, {}}}, {}), InvalidArgument);
}

TEST(Pretrain, TinyRecipeLowersTheLossAndWritesAModelDirectory) {
  test::TempDir dir;
  PretrainOptions opt;
  opt.recipe = "tiny";
  opt.seed = 3;
  opt.checkpointEvery = 0;
  auto log = pretrain(dir / "model", opt);
  auto losses = log["losses"].get<std::vector<double>>();
  ASSERT_EQ(losses.size(), 60u);
  double last = 0;
  for (size_t i = 55; i < 60; ++i) last += losses[i] / 5;
  // Stated margin: from ~ln(259) = 5.56 nats at initialisation, 60 steps must gain at least 1.5 nats.
  EXPECT_GT(losses[0], 5.0);
  EXPECT_LT(last, losses[0] - 1.5) << "first " << losses[0] << " last-5 mean " << last;
  auto model = LlamaModel::load(dir / "model", torch::kFloat32);  // the written directory loads
  EXPECT_EQ(model->config().numLayers, 2);
  EXPECT_TRUE(std::filesystem::exists(dir / "model" / "tokenizer.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "model" / "training_log.json"));
}
