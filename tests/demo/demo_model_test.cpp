// The shipped demo model organism: loads through the regular path, matches the per-task accuracy recorded in
// its model card (eval_results.json) within one point, and its logits pass the float64 parity reference.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/train/adapter_training.h"
#include "core/train/adapters.h"
#include "core/data/dataset.h"
#include "core/model/model.h"
#include "core/model/npy.h"
#include "core/model/runtime.h"
#include "core/model/scoring.h"
#include "core/text/tokenizer.h"
#include "tests/common/test_util.h"

using namespace layerscope::core;
namespace fs = std::filesystem;

namespace {
const fs::path kDemo = fs::path(LAYERSCOPE_SOURCE_DIR) / "resources/models/demo";
const fs::path kTasks = fs::path(LAYERSCOPE_SOURCE_DIR) / "resources/tasks/demo";

// The fine-tune test's settings (docs/adapters.md, "On the demo model").
constexpr int kFineTuneItems = 2000;
constexpr int64_t kFineTuneSteps = 150;
constexpr double kFineTuneLoraLr = 1e-3, kFineTuneGarfaLr = 1e-3;
const std::vector<int> kFineTuneLoraLayers{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
const std::vector<int> kFineTuneGarfaLayers{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
constexpr double kFineTuneMargin = 0.05;

nlohmann::json card() {
  std::ifstream in(kDemo / "eval_results.json");
  return nlohmann::json::parse(in);
}
}  // namespace

TEST(DemoModel, IsAFourToOneGqaLlamaWithAByteTokenizer) {
  auto ck = Checkpoint::open(kDemo);
  const auto& c = ck.config();
  EXPECT_GE(c.numLayers, 12);
  EXPECT_EQ(c.nRep(), 4);
  EXPECT_TRUE(ck.unexpected().empty());
  EXPECT_LE(fs::file_size(kDemo / "model.safetensors"), 25u * 1024 * 1024);
  auto tok = Tokenizer::fromFile(kDemo);
  EXPECT_EQ(tok.encode("A:", {.addSpecialTokens = true}), (std::vector<int32_t>{256, 'A', ':'}));
}

TEST(DemoModel, ReproducesTheCardAccuracyOnEveryBundledTask) {
  auto model = LlamaModel::load(kDemo, torch::kFloat32);
  auto tok = Tokenizer::fromFile(kDemo);
  const auto expected = card().at("tasks");
  ASSERT_GE(expected.size(), 5u);
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    const Task task = readTask(kTasks / (it.key() + ".jsonl"));
    ScoringOptions opt;
    opt.batchSize = 32;
    const EvalResult r = evaluate(*model, tok, prepareTask(tok, task), opt);
    const double cardAcc = it.value().at("acc").get<double>();
    EXPECT_NEAR(r.accuracy, cardAcc, 0.01) << it.key() << ": measured " << r.accuracy << ", card says " << cardAcc;
  }
}

TEST(DemoModel, LogitsPassTheFloat64Reference) {
  const std::vector<int64_t> ids = {256, 'a', 'd', 'd', ':', ' ', '4', '7', '+', '3', '8', '5', ' ', 'A', ':'};
  layerscope::test::TempDir tmp;
  std::ostringstream cmd, list;
  for (size_t i = 0; i < ids.size(); ++i) list << (i ? "," : "") << ids[i];
  cmd << LAYERSCOPE_PYTHON3 << " " << LAYERSCOPE_SOURCE_DIR << "/tests/reference/llama_reference.py " << kDemo
      << " --ids " << list.str() << " --out " << (tmp / "ref.npy");
  ASSERT_EQ(std::system(cmd.str().c_str()), 0) << cmd.str();
  const auto ref = readNpy(tmp / "ref.npy");
  c10::InferenceMode guard;
  auto logits = LlamaModel::load(kDemo, torch::kFloat32)->forward({torch::tensor(ids).unsqueeze(0), {}, {}}).logits[0];
  const double rel = ((logits.to(torch::kFloat64) - ref).abs().max() / ref.abs().max()).item<double>();
  EXPECT_LT(rel, 1e-4) << "relative error " << rel;
}

// A short LS-LoRA + GARFA fine-tune on the demo model's own long-context training text (long_first documents,
// prompts longer than its 128-token pretraining context) measurably improves the bundled long_first eval.
// Seeded; the margin is stated below and the measured gain is printed.
TEST(DemoModel, ShortLoraGarfaFineTuneImprovesLongContextOrder) {
  configureRuntime();  // all cores: the fine-tune is the slowest check in the suite
  auto model = LlamaModel::load(kDemo, torch::kFloat32);
  auto tok = Tokenizer::fromFile(kDemo);
  const Task train = *demoTrainingTask("demo:long_first:" + std::to_string(kFineTuneItems), 1234);
  const auto eval = prepareTask(tok, readTask(kTasks / "long_first.mc.jsonl"));
  AdapterSpec spec;
  spec.lora.layers = kFineTuneLoraLayers;
  spec.garfa.layers = kFineTuneGarfaLayers;
  auto adapters = AdapterSet::create(model->config(), spec, 1234);
  ScoringOptions so;
  so.batchSize = 32;
  const double base = evaluate(*model, tok, eval, so).accuracy;
  AdapterTrainOptions o;
  o.steps = kFineTuneSteps, o.batchSize = 8, o.loraLr = kFineTuneLoraLr, o.garfaLr = kFineTuneGarfaLr, o.seed = 1234;
  o.checkpointEvery = 0;
  const auto res = trainAdapters(*model, adapters, tok, train, o);
  const double tuned = evaluateWithAdapter(*model, &adapters, tok, eval, so).accuracy;
  std::printf("long_first.mc: base %.3f, LS-LoRA + GARFA %.3f after %lld steps (%.1f s, loss %.3f -> %.3f)\n", base,
              tuned, static_cast<long long>(o.steps), res.seconds, res.losses.front(), res.losses.back());
  EXPECT_NEAR(base, card().at("tasks").at("long_first.mc").at("acc").get<double>(), 0.01);
  EXPECT_GE(tuned, base + kFineTuneMargin) << "stated margin: +" << 100 * kFineTuneMargin << " points on 200 items";
}
