// The training cost estimate (experiments/train_cost.h, docs/scale.md "Training"): the activation arithmetic's
// scaling, the micro-batches counted as the trainer forms them (checked against a closed form: one epoch of
// batch-1 steps visits every sequence once), the requests training refuses, and (slow) the peak resident memory of
// a real training run on a 1B-width checkpoint within 15% of the estimate.
#include <gtest/gtest.h>

#include <fstream>

#include "analysis/cost_estimate.h"
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/model/config.h"
#include "core/model/random_checkpoint.h"
#include "core/text/tokenizer.h"
#include "core/train/adapter_training.h"
#include "experiments/train_cost.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"

using namespace layerscope;
namespace fs = std::filesystem;

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// A short-answer training task whose prompts are about `chars` bytes, of varying length.
fs::path writeTrainTask(const fs::path& dir, int items, int chars) {
  const fs::path p = dir / "train.jsonl";
  std::ofstream out(p);
  for (int i = 0; i < items; ++i) {
    std::string prompt;
    for (int c = 0; c < chars - 3 * (i % 7); ++c) prompt += char('a' + (c * 5 + i) % 26);
    out << R"({"id":"t)" << i << R"(","prompt":")" << prompt << R"( =","target":" )" << char('a' + i % 26) << "\"}\n";
  }
  return p;
}

core::AdapterSpec resolvedSpec(const std::vector<int>& lora, const std::vector<int>& garfa, double dropout) {
  core::AdapterSpec s;
  s.lora.layers = lora;
  s.garfa.layers = garfa;
  s.lora.dropout = dropout;
  return s;
}

}  // namespace

TEST(TrainCost, ActivationArithmeticFollowsTheAdaptedLayers) {
  const core::ModelConfig c = core::presetConfig("1b");
  const int L = c.numLayers, B = 4, T = 128;
  std::vector<int> all(static_cast<size_t>(L));
  for (int l = 0; l < L; ++l) all[size_t(l)] = l;
  // The backward reaches down to the first adapted layer: adapting only the last two layers keeps L - 2 fewer
  // layers' saved tensors (GARFA alone on the same layers: the same saved layers, no LoRA terms).
  const double garfaAll = experiments::trainingActivationBytes(c, resolvedSpec({}, all, 0), B, T, 2);
  const double garfaTop = experiments::trainingActivationBytes(c, resolvedSpec({}, {L - 2, L - 1}, 0), B, T, 2);
  const double perLayer = analysis::savedBytesPerLayer(c, {B, T, T, 2});
  EXPECT_NEAR(garfaAll - garfaTop, (L - 2) * perLayer, 1e-9 * garfaAll);
  // GARFA on layer 0 alone already makes the backward pass through every layer.
  EXPECT_NEAR(experiments::trainingActivationBytes(c, resolvedSpec({}, {0}, 0), B, T, 2), garfaAll, 1e-9 * garfaAll);
  // LoRA adds its own saved tensors per adapted layer; dropout adds a mask and a masked input per slot.
  const double loraTop = experiments::trainingActivationBytes(c, resolvedSpec({L - 1}, {L - 2}, 0), B, T, 2);
  const double loraTopDropout = experiments::trainingActivationBytes(c, resolvedSpec({L - 1}, {L - 2}, 0.05), B, T, 2);
  EXPECT_GT(loraTop, garfaTop);
  EXPECT_GT(loraTopDropout, loraTop);
  // float32 LoRA inputs are the layer's own tensors (no float32 copy): without dropout the LoRA term is the rank-r
  // intermediates alone, 7 slots x 2 x r x 4 bytes per token and layer, with the saved-tensor overhead.
  const double f32Garfa = experiments::trainingActivationBytes(c, resolvedSpec({}, {L - 2}, 0), B, T, 4);
  const double f32Lora = experiments::trainingActivationBytes(c, resolvedSpec({L - 1}, {L - 2}, 0), B, T, 4);
  EXPECT_NEAR(f32Lora - f32Garfa, analysis::kSavedTensorOverhead * B * T * 7 * 2 * 16 * 4, 1e-6 * f32Lora);
  // Every term is per row: doubling the rows doubles the activations.
  EXPECT_NEAR(experiments::trainingActivationBytes(c, resolvedSpec(all, all, 0.05), 2 * B, T, 4),
              2 * experiments::trainingActivationBytes(c, resolvedSpec(all, all, 0.05), B, T, 4), 1e-6 * garfaAll);
}

TEST(TrainCost, MicroBatchesAreCountedAsTheTrainerFormsThem) {
  test::TempDir dir;
  test::TinyByteModel model(test::byteConfig({.layers = 4}), {.seed = 2});
  const int n = 10;
  experiments::TrainRunRequest r;
  r.modelDir = model.dir();
  r.train = writeTrainTask(dir.path(), n, 40).string();
  r.loraLayers = "2-3";
  r.options.batchSize = 1;
  r.options.steps = n;
  const auto seqs = core::trainingSequences(model.tokenizer(), core::readTask(r.train), r.options.completionSuffix);
  double total = 0;
  int longest = 0;
  for (const auto& s : seqs) {
    total += double(s.context.size() + s.completion.size());
    longest = std::max(longest, int(s.context.size() + s.completion.size()));
  }
  // One epoch of batch-1 steps visits every sequence once, unpadded.
  auto est = experiments::estimateTraining(r, /*measure=*/false);
  EXPECT_EQ(est.items, size_t(n));
  EXPECT_EQ(est.microBatches, n);
  EXPECT_DOUBLE_EQ(est.rowTokens, total);
  EXPECT_EQ(est.maxTokens, longest);
  EXPECT_EQ(est.backwardLayers, 2);
  // Every sequence in one micro-batch, accumulated twice per step: each micro-batch is padded to the longest.
  r.options.batchSize = n;
  r.options.gradAccum = 2;
  r.options.steps = 3;
  est = experiments::estimateTraining(r, false);
  EXPECT_EQ(est.microBatches, 6);
  EXPECT_DOUBLE_EQ(est.rowTokens, 6.0 * n * longest);
  EXPECT_EQ(est.longestBatchTokens, longest);
  // Trainable parameters: rank x (in + out) per LoRA slot, 7 slots on 2 layers.
  const auto& c = test::byteConfig({.layers = 4});
  const double q = double(c.numHeads) * c.headDim, kv = double(c.numKvHeads) * c.headDim, D = c.hiddenSize,
               F = c.intermediateSize;
  EXPECT_EQ(est.trainableParameters, int64_t(2 * 16 * ((D + q) + 2 * (D + kv) + (q + D) + 2 * (D + F) + (F + D))));
  EXPECT_DOUBLE_EQ(est.adapterBytes, 16.0 * double(est.trainableParameters));
  const std::string table = est.table();
  for (const char* s : {"peak resident memory", "per step", "3 steps of 2 x 10 rows", "backward through 2 layers"})
    EXPECT_NE(table.find(s), std::string::npos) << s << " missing from\n" << table;
}

TEST(TrainCost, RefusesWhatTrainingRefuses) {
  test::TinyByteModel model(test::byteConfig({.layers = 4}), {.seed = 2});
  test::TempDir dir;
  experiments::TrainRunRequest r;
  r.modelDir = model.dir();
  r.train = writeTrainTask(dir.path(), 4, 20).string();
  EXPECT_THROW(experiments::estimateTraining(r, false), InvalidArgument);  // both layer sets empty
  r.loraLayers = "7";
  EXPECT_THROW(experiments::estimateTraining(r, false), InvalidArgument);  // layer out of range
  r.loraLayers = "1";
  r.options.batchSize = 0;
  EXPECT_THROW(experiments::estimateTraining(r, false), InvalidArgument);
}

// Slow: LS-LoRA (dropout 0.05) and GARFA on every layer of a 1B-width, 4-layer bfloat16 checkpoint, one step of
// 4 rows of about 120 tokens: the activations are larger than the weights, and the process's peak resident memory
// during the run is within 15% of the estimate (issue 14's target). Timing is left to scripts/scale-check.sh.
TEST(TrainCostSlow, PeakResidentMemoryOfARealRunIsWithinFifteenPercent) {
  test::TempDir dir;
  core::ModelConfig c = core::presetConfig("1b");
  c.numLayers = 4;
  c.vocabSize = core::kByteVocabSize;
  core::writeRandomCheckpoint(dir / "model", c, {.seed = 3, .storedDtype = core::StDtype::BF16});
  core::writeByteLevelTokenizer(dir / "model");
  experiments::TrainRunRequest r;
  r.modelDir = dir / "model";
  r.train = writeTrainTask(dir.path(), 8, 120).string();
  r.loraLayers = r.garfaLayers = "all";
  r.dtype = "bfloat16";
  r.options.batchSize = 4;
  r.options.steps = 1;
  r.options.checkpointEvery = 0;
  r.outDir = dir / "adapter";
  const auto est = experiments::estimateTraining(r, false);
  ASSERT_GT(est.activationBytes, est.weightBytes);
  std::ofstream("/proc/self/clear_refs") << "5";  // VmHWM from here (Linux >= 4.0; no reset only loosens the check)
  experiments::runTraining(r);
  const double peak = analysis::peakResidentBytes();
  std::cout << "[ figures  ] estimate " << est.peakBytes / kGiB << " GiB (activations " << est.activationBytes / kGiB
            << "), measured peak " << peak / kGiB << " GiB\n";
  EXPECT_NEAR(peak, est.peakBytes, 0.15 * peak);
}
