// The memory plan and cost estimate (analysis/cost_estimate.h, docs/scale.md): the batch choice from a budget,
// micro-batches that leave every per-item RoPE gradient unchanged (float64), a budget too small refused before any
// work, the arithmetic's scaling, and (slow) a 1B-class random checkpoint analysed under a tight budget whose peak
// resident memory stays below it.
#include <gtest/gtest.h>

#include <fstream>

#include "analysis/cost_estimate.h"
#include "analysis/layer_analyses.h"
#include "analysis/pipeline.h"
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/model/config.h"
#include "core/model/random_checkpoint.h"
#include "core/model/scoring.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"

using namespace layerscope;
using namespace layerscope::analysis;
namespace fs = std::filesystem;

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// A multiple-choice task whose prompts are `chars` bytes long (byte tokenizer: one token per byte).
fs::path writeTask(const fs::path& dir, int items, int chars) {
  const fs::path p = dir / "task.mc.jsonl";
  std::ofstream out(p);
  for (int i = 0; i < items; ++i) {
    std::string prompt;
    for (int c = 0; c < chars - 8 - (i % 5); ++c) prompt += char('a' + (c * 7 + i) % 26);
    out << R"({"id":"i)" << i << R"(","prompt":")" << prompt << R"( ans:","choices":[" x"," y"," z"],"answer":)" << i % 3
        << "}\n";
  }
  return p;
}

}  // namespace

TEST(MemoryPlan, LargestBatchWithinIsTheLargestThatFits) {
  auto perBatch = [](int b) { return 10.0 * b; };
  EXPECT_EQ(largestBatchWithin(100, 40, 8, perBatch), 6);   // 40 + 60 = 100 fits, 70 does not
  EXPECT_EQ(largestBatchWithin(1000, 40, 8, perBatch), 8);  // never above the requested batch
  EXPECT_EQ(largestBatchWithin(45, 40, 8, perBatch), 0);    // not even one row
}

TEST(MemoryPlan, ActivationArithmeticScalesWithTheShape) {
  core::ModelConfig c = core::presetConfig("1b");
  const MemoryShape one{1, 128, 1, 4}, four{4, 128, 1, 4};
  // float32: every term is per row
  EXPECT_NEAR(forwardActivationBytes(c, four), 4 * forwardActivationBytes(c, one), 1e-6 * forwardActivationBytes(c, four));
  EXPECT_NEAR(gradientActivationBytes(c, four), 4 * gradientActivationBytes(c, one), 1e-6 * gradientActivationBytes(c, four));
  // the saved tensors grow by the same amount for every layer
  core::ModelConfig c2 = c, c3 = c;
  c2.numLayers = 2, c3.numLayers = 3;
  const double g1 = gradientActivationBytes(c, one), g2 = gradientActivationBytes(c2, one), g3 = gradientActivationBytes(c3, one);
  EXPECT_NEAR(g3 - g2, (g1 - g2) / (c.numLayers - 2), 1e-6 * g1);
  // logits: three vocabulary-sized float32 rows per position
  EXPECT_NEAR(forwardActivationBytes(c, {1, 128, 9, 4}) - forwardActivationBytes(c, {1, 128, 1, 4}), 8.0 * c.vocabSize * 4 * 3, 1.0);
  // bfloat16 halves the stored activations but adds the widened float32 operands (one weight matrix among them)
  EXPECT_GT(forwardActivationBytes(c, {1, 8, 1, 2}), double(c.intermediateSize) * c.hiddenSize * 4);
  // the gradient of a long sequence is dominated by the T x T probabilities of every layer
  EXPECT_GT(gradientActivationBytes(c, {1, 2048, 1, 4}), double(c.numLayers) * c.numHeads * 2048.0 * 2048 * 4);
  // resident weights: aliasing the bfloat16 file, or a float32 copy
  EXPECT_DOUBLE_EQ(weightResidentBytes(c, 2, 2, true), 2.0 * double(c.parameterCount()));
  EXPECT_DOUBLE_EQ(weightResidentBytes(c, 2, 4, false), 4.0 * double(c.parameterCount()));
}

class MemoryPlanModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tiny_ = new test::TinyByteModel(test::byteConfig(), {.seed = 5, .weightStd = 0.3}); }
  static void TearDownTestSuite() { delete tiny_; }
  static inline test::TinyByteModel* tiny_ = nullptr;
};

TEST_F(MemoryPlanModel, MicroBatchesGiveTheSameRopeGradients) {
  test::TempDir dir;
  const auto task = core::prepareTask(tiny_->tokenizer(), core::readTask(writeTask(dir.path(), 7, 40)));
  const auto model = tiny_->load(torch::kFloat64);
  const auto eval = core::evaluate(*model, tiny_->tokenizer(), task);
  const ModelTaskInputs in{model.get(), &tiny_->tokenizer(), &task, &eval};
  RopeInfluenceParams p;
  p.mode = RopeMode::Gradient;
  p.batchSize = 7;
  const auto whole = ropeInfluence(in, p);
  for (int b : {1, 3}) {
    p.batchSize = b;
    const auto micro = ropeInfluence(in, p);
    ASSERT_EQ(micro.itemHead.rows(), whole.itemHead.rows());
    const double diff = (micro.itemHead - whole.itemHead).cwiseAbs().maxCoeff();
    EXPECT_LE(diff, 1e-6 * whole.itemHead.cwiseAbs().maxCoeff()) << "micro-batch " << b;
    EXPECT_GT(whole.itemHead.cwiseAbs().maxCoeff(), 0.0);
  }
}

TEST_F(MemoryPlanModel, TightBudgetLowersTheGradientBatchAndTooSmallIsRefusedBeforeWork) {
  test::TempDir dir;
  AnalyzeRequest r;
  r.modelDir = tiny_->dir();
  r.taskFile = writeTask(dir.path(), 8, 200);
  r.outDir = dir / "out";
  r.bootstrap = 20;
  r.batchSize = 8;
  const auto loose = estimateAnalysis(r, /*measure=*/false);
  EXPECT_EQ(loose.forwardBatch, 8);
  EXPECT_EQ(loose.gradientBatch, 8);
  ASSERT_GE(loose.maxTokens, 190);
  // A budget with room for about three rows of the gradient pass (the inference stages need less per row).
  const core::ModelConfig c = core::Checkpoint::open(tiny_->dir()).config();
  const double perRow = gradientActivationBytes(c, {1, loose.maxTokens, loose.maxTokens, 4});
  const double fixed = loose.baseBytes + loose.weightBytes + loose.retainedBytes;
  // (the plan fills 90% of the budget; 8 MB for the resident memory moving between calls)
  r.memoryBudgetGb = (fixed + 3.5 * perRow + 8e6) / 0.9 / kGiB;
  const auto tight = estimateAnalysis(r, false);
  EXPECT_GE(tight.gradientBatch, 2);
  EXPECT_LE(tight.gradientBatch, 5);
  EXPECT_GT(tight.forwardBatch, tight.gradientBatch);
  const auto res = runAnalysis(r);
  // the run plans again with its own resident memory, a little larger by now: the same or one row less
  const int ran = res.scores["memory_plan"]["gradient_batch_size"].get<int>();
  EXPECT_TRUE(ran == tight.gradientBatch || ran == tight.gradientBatch - 1) << res.scores["memory_plan"];
  EXPECT_EQ(res.scores["memory_plan"]["requested_batch_size"].get<int>(), 8);
  // Far too small: refused before loading the model, naming the budget needed; nothing written.
  r.memoryBudgetGb = fixed / 2 / kGiB;
  r.outDir = dir / "refused";
  try {
    runAnalysis(r);
    ADD_FAILURE() << "a budget below the weights and runtime must be refused";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("is too small"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("needs about"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "refused"));
}

// Slow: a 1B-class checkpoint (the "1b" preset's width, 4 layers, bfloat16) analysed with the gradient RoPE
// influence under a budget that leaves room for two and a half rows of it: the plan runs micro-batches and the process's
// peak resident memory (/proc/self/status VmHWM) stays within the budget.
TEST(MemoryBudgetSlow, OneBillionClassCheckpointStaysWithinATightBudget) {
  test::TempDir dir;
  core::ModelConfig c = core::presetConfig("1b");
  c.numLayers = 4;
  c.vocabSize = core::kByteVocabSize;
  core::writeRandomCheckpoint(dir / "model", c, {.seed = 3, .storedDtype = core::StDtype::BF16});
  core::writeByteLevelTokenizer(dir / "model");
  AnalyzeRequest r;
  r.modelDir = dir / "model";
  r.taskFile = writeTask(dir.path(), 4, 100);
  r.outDir = dir / "out";
  r.dtype = "bfloat16";
  r.sensitivity = r.redundancy = false;
  r.profiles.clear();
  r.batchSize = 4;
  const auto loose = estimateAnalysis(r, false);
  const MemoryShape one{1, loose.maxTokens, loose.maxTokens, 2}, two{2, loose.maxTokens, loose.maxTokens, 2};
  const double twoRows = gradientActivationBytes(c, two), perRow = twoRows - gradientActivationBytes(c, one);
  const double budget = (loose.baseBytes + loose.weightBytes + loose.retainedBytes + twoRows + 0.5 * perRow) / 0.9;
  r.memoryBudgetGb = budget / kGiB;
  const auto plan = estimateAnalysis(r, false);
  EXPECT_EQ(plan.gradientBatch, 2);
  const auto res = runAnalysis(r);
  const double peak = peakResidentBytes();
  EXPECT_LE(peak, budget) << "peak " << peak / kGiB << " GiB, budget " << budget / kGiB << " GiB, estimate "
                          << plan.peakBytes / kGiB << " GiB";
  EXPECT_NEAR(peak, plan.peakBytes, 0.15 * peak) << "estimate " << plan.peakBytes / kGiB << " GiB, measured " << peak / kGiB;
  EXPECT_TRUE(fs::exists(dir / "out" / "scores.json"));
}
