// experiments/: the ablation (arms, report files, resume arm by arm, identical reports for identical inputs,
// cancellation), a training run with its evaluation, and evaluation items, on a tiny random byte-level model.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/data/dataset.h"
#include "experiments/ablation.h"
#include "experiments/evaluation.h"
#include "experiments/training_run.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"
#include "tests/experiments/experiment_fixtures.h"

using namespace layerscope;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json readJson(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

using test::withoutTimings;

class Experiments : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tiny_ = test::newExperimentModel();
    model_ = tiny_->dir();
    dir_ = new test::TempDir();
    test::writeExperimentInputs(dir_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete tiny_;
  }

  experiments::AblationRequest ablation(const fs::path& out) const {
    experiments::AblationRequest r;
    r.modelDir = model_;
    r.analysisDir = dir_->path() / "analysis";
    r.train = (dir_->path() / "train.jsonl").string();
    r.evalFiles = {dir_->path() / "heldout.jsonl"};
    r.controlSeeds = 2;
    r.options.steps = 2;
    r.options.batchSize = 4;
    r.options.checkpointEvery = 1;
    r.spec.lora.rank = 2;
    r.outDir = out;
    return r;
  }

  static inline test::TinyByteModel* tiny_ = nullptr;
  static inline test::TempDir* dir_ = nullptr;
  static inline fs::path model_;
};

// A nested stage's reports carry the outer label as their step (core::progressStep), the rule by which the CLI's and
// the GUI's progress displays show every step at once however short it is; a stage without ": " has no step.
TEST(StageJob, NestedReportsHaveTheOuterLabelAsTheirStep) {
  std::vector<std::string> stages;
  const core::JobControl outer(std::stop_token{}, [&](const core::Progress& p) { stages.push_back(p.stage); });
  experiments::StageJob rope(&outer, "rope influence", 0, 1, 2);
  rope.get()->report({"gradient", 1, 4});
  experiments::StageJob plain(&outer, "redundancy", 1, 2, 2);
  plain.get()->report({"", 1, 1});
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0], "rope influence: gradient");
  EXPECT_EQ(core::progressStep(stages[0]), "rope influence");
  EXPECT_EQ(core::progressStep("a: b: c"), "a");
  EXPECT_EQ(core::progressStep(stages[1]), "");
}

TEST(AblationArms, PlacementsFollowTheTopKSetsAndControlsAreSeededRandomSetsOfTheSameSize) {
  const std::vector<int> sens = {5, 6, 7}, rope = {0, 1};
  const auto arms = experiments::ablationArms(sens, rope, 8, 42, 3);
  ASSERT_EQ(arms.size(), 7u);
  EXPECT_EQ(arms[0].lora, sens);
  EXPECT_EQ(arms[0].garfa, sens);
  EXPECT_EQ(arms[1].lora, sens);
  EXPECT_EQ(arms[1].garfa, rope);
  EXPECT_EQ(arms[2].lora, rope);
  EXPECT_EQ(arms[2].garfa, sens);
  EXPECT_EQ(arms[3].garfa, rope);
  for (int s = 0; s < 3; ++s) {
    const auto& c5 = arms[size_t(4 + s)];
    EXPECT_EQ(c5.group, "C5");
    EXPECT_EQ(c5.seed, 42u + uint64_t(s));
    EXPECT_EQ(c5.lora.size(), sens.size());
    EXPECT_EQ(c5.garfa.size(), rope.size());
    EXPECT_TRUE(std::is_sorted(c5.lora.begin(), c5.lora.end()));
  }
  EXPECT_NE(arms[4].lora, arms[5].lora);  // different seeds draw different sets (fixed seeds: a regression check)
  EXPECT_EQ(experiments::ablationArms(sens, rope, 8, 42, 3)[5].lora, arms[5].lora);  // and the draw is reproducible
}

TEST_F(Experiments, AblationWritesTheReportResumesAndRepeatsIdentically) {
  test::TempDir tmp;
  std::vector<std::string> lines;
  auto r = ablation(tmp.path() / "a");
  r.log = [&](const std::string& l) { lines.push_back(l); };
  std::vector<double> fractions;
  std::string trace;
  std::stop_source never;
  core::JobControl job(never.get_token(), [&](const core::Progress& p) {
    fractions.push_back(p.done / p.total);
    trace += std::to_string(p.done / p.total) + " " + p.stage + "\n";
  });
  const auto res = experiments::runAblation(r, &job);
  const json report = readJson(tmp.path() / "a" / "report.json");
  EXPECT_EQ(report, res.report);
  EXPECT_EQ(report["format"], "layerscope.ablation/1");
  ASSERT_EQ(report["arms"].size(), 5u);  // C1..C4 and C5 averaged over 2 seeds
  EXPECT_EQ(report["arms"][4]["seeds"], 2);
  EXPECT_EQ(report["arms"][0]["lora_layers"], json({2, 3}));
  EXPECT_EQ(report["arms"][1]["garfa_layers"], json({0, 1}));
  EXPECT_EQ(report["tasks"], json({"heldout"}));
  // C5's accuracy is the mean of its runs.
  const auto& c5 = report["arms"][4];
  EXPECT_DOUBLE_EQ(c5["accuracy"]["heldout"].get<double>(),
                   (c5["runs"][0]["accuracy"]["heldout"].get<double>() + c5["runs"][1]["accuracy"]["heldout"].get<double>()) / 2);
  // report.csv: a header, the base row and one row per arm and task.
  std::ifstream csv(tmp.path() / "a" / "report.csv");
  int rows = 0;
  for (std::string l; std::getline(csv, l);) ++rows;
  EXPECT_EQ(rows, 1 + 1 + 5);
  ASSERT_FALSE(fractions.empty());
  EXPECT_TRUE(std::is_sorted(fractions.begin(), fractions.end())) << trace;
  EXPECT_DOUBLE_EQ(fractions.back(), 1.0);

  // A second call on the same folder trains nothing: every arm is read back.
  lines.clear();
  const auto again = experiments::runAblation(r, nullptr);
  int reused = 0;
  for (const auto& l : lines) reused += l.find("done earlier") != std::string::npos;
  EXPECT_EQ(reused, 6);
  EXPECT_EQ(withoutTimings(again.report), withoutTimings(report));

  // A fresh folder with the same inputs gives the same report (the CLI and the GUI call this function).
  auto r2 = ablation(tmp.path() / "b");
  r2.preloaded = experiments::loadModel(model_, "float32");  // as the GUI's worker passes its loaded model
  EXPECT_EQ(withoutTimings(experiments::runAblation(r2, nullptr).report), withoutTimings(report));
}

TEST_F(Experiments, AblationResumesAnInterruptedArmAndCancelLeavesNoReport) {
  test::TempDir tmp;
  auto r = ablation(tmp.path() / "c");
  std::stop_source stop;
  int steps = 0;
  r.options.steps = 3;
  // Cancel during the third arm's second step (its step-1 checkpoint is written).
  core::JobControl job(stop.get_token(), [&](const core::Progress& p) {
    if (p.stage.rfind("C3 step 2/", 0) == 0 && ++steps == 1) stop.request_stop();
  });
  EXPECT_THROW(experiments::runAblation(r, &job), Cancelled);
  EXPECT_FALSE(fs::exists(tmp.path() / "c" / "report.json"));
  EXPECT_TRUE(fs::exists(tmp.path() / "c" / "arms" / "C2" / "result.json"));
  EXPECT_FALSE(fs::exists(tmp.path() / "c" / "arms" / "C3" / "result.json"));
  std::vector<std::string> lines;
  r.log = [&](const std::string& l) { lines.push_back(l); };
  const auto res = experiments::runAblation(r, nullptr);
  EXPECT_EQ(res.report["arms"].size(), 5u);
  const json c3 = readJson(tmp.path() / "c" / "arms" / "C3" / "result.json");
  EXPECT_GE(c3["resumed_from_step"].get<int>(), 1);  // continued from its step-1 checkpoint

  // The interrupted arm ends where an uninterrupted run of the same arm ends.
  auto fresh = ablation(tmp.path() / "d");
  fresh.options.steps = 3;
  const auto full = experiments::runAblation(fresh, nullptr);
  const json c3Fresh = readJson(tmp.path() / "d" / "arms" / "C3" / "result.json");
  EXPECT_EQ(c3Fresh["resumed_from_step"], 0);
  EXPECT_EQ(c3["final_loss"], c3Fresh["final_loss"]);
  EXPECT_EQ(c3["accuracy"], c3Fresh["accuracy"]);
  EXPECT_EQ(full.report["arms"][2]["accuracy"], res.report["arms"][2]["accuracy"]);
}

TEST_F(Experiments, AblationRejectsAnAnalysisWithoutTopKAndLayersTheModelLacks) {
  test::TempDir tmp;
  auto r = ablation(tmp.path() / "e");
  r.analysisDir = tmp.path();
  EXPECT_THROW(experiments::runAblation(r, nullptr), InvalidArgument);
  std::ofstream(tmp.path() / "stats.json") << R"({"top_k": {"S_sens": [2, 9], "S_rope": [0]}})";
  try {
    experiments::runAblation(r, nullptr);
    FAIL() << "layer 9 of a 4-layer model was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("layer 9"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp.path() / "e" / "report.json"));
}

TEST_F(Experiments, TrainingRunEvaluatesBaseAndAdaptedAndWritesEvalJson) {
  test::TempDir tmp;
  experiments::TrainRunRequest r;
  r.modelDir = model_;
  r.train = (dir_->path() / "train.jsonl").string();
  r.evalFiles = {dir_->path() / "heldout.jsonl"};
  r.loraLayers = "all";
  r.garfaLayers = "0-1";
  r.options.steps = 3;
  r.options.batchSize = 4;
  r.spec.lora.rank = 2;
  r.outDir = tmp.path() / "adapter";
  r.evalLossFile = dir_->path() / "heldout.jsonl";
  r.options.evalEvery = 2;
  int stepsSeen = 0;
  std::vector<int64_t> evalSteps;
  r.onStep = [&](const core::StepReport& s) {
    ++stepsSeen;
    if (!std::isnan(s.evalLoss)) evalSteps.push_back(s.step);
  };
  const auto res = experiments::runTraining(r, nullptr);
  EXPECT_EQ(stepsSeen, 3);
  // The held-out loss: after step 2 and the last step, in the step reports, train.log and training_log.json.
  EXPECT_EQ(evalSteps, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(res.train.evalLosses.size(), 2u);
  EXPECT_EQ(res.train.evalItems, 9u);
  const json log = readJson(r.outDir / "training_log.json");
  EXPECT_EQ(log["eval_loss"]["points"].size(), 2u);
  EXPECT_DOUBLE_EQ(log["eval_loss"]["points"][1][1].get<double>(), res.train.evalLosses[1].loss);
  std::ifstream trainLog(r.outDir / "train.log");
  const std::string logText((std::istreambuf_iterator<char>(trainLog)), std::istreambuf_iterator<char>());
  EXPECT_NE(logText.find("step 2/3"), std::string::npos);
  EXPECT_NE(logText.find("eval loss"), std::string::npos) << logText;
  EXPECT_EQ(res.loraLayers, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(res.garfaLayers, (std::vector<int>{0, 1}));
  ASSERT_EQ(res.evals.size(), 1u);
  EXPECT_EQ(res.evals[0].base.items.size(), 9u);
  const json ev = readJson(r.outDir / "eval.json");
  EXPECT_DOUBLE_EQ(ev["heldout"]["adapted"].get<double>(), res.evals[0].adapted.accuracy);
  EXPECT_TRUE(fs::exists(r.outDir / "adapter_config.json"));
  // "Evaluate vs base" on the saved adapter reproduces the run's own comparison.
  const auto c = experiments::compareWithBase(experiments::loadModel(model_, "float32"), r.outDir, dir_->path() / "heldout.jsonl",
                                              {}, 0);
  EXPECT_DOUBLE_EQ(c.base.accuracy, res.evals[0].base.accuracy);
  EXPECT_DOUBLE_EQ(c.adapted.accuracy, res.evals[0].adapted.accuracy);
  // A resume repeats the recorded options.
  core::AdapterSpec spec;
  core::AdapterTrainOptions opt;
  experiments::readRecordedTrainOptions(r.outDir, spec, opt);
  EXPECT_EQ(opt.steps, 3);
  EXPECT_EQ(spec.lora.rank, 2);
  EXPECT_EQ(spec.garfa.layers, (std::vector<int>{0, 1}));
  EXPECT_THROW(experiments::readRecordedTrainOptions(tmp.path(), spec, opt), InvalidArgument);
}

TEST_F(Experiments, EvaluationWritesOneItemLinePerItem) {
  test::TempDir tmp;
  experiments::EvalRequest r;
  r.modelDir = model_;
  r.taskFile = dir_->path() / "heldout.jsonl";
  r.itemsOut = tmp.path() / "items.jsonl";
  const auto res = experiments::runEvaluation(r, nullptr);
  EXPECT_EQ(res.taskName, "heldout");
  EXPECT_FALSE(res.withAdapter);
  std::ifstream in(r.itemsOut);
  std::size_t n = 0, correct = 0;
  for (std::string l; std::getline(in, l); ++n) {
    const json j = json::parse(l);
    EXPECT_EQ(j["loglik"].size(), 3u);
    correct += j["correct"].get<bool>();
  }
  EXPECT_EQ(n, 9u);
  EXPECT_EQ(correct, res.result.correct);
}

TEST(ExperimentsLayers, LayerSetTextIsParsedAndCheckedAgainstTheModel) {
  EXPECT_EQ(experiments::parseLayerSet("all", 3, "x"), (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(experiments::parseLayerSet("none", 3, "x").empty());
  EXPECT_TRUE(experiments::parseLayerSet("", 3, "x").empty());
  EXPECT_EQ(experiments::parseLayerSet("0,2", 3, "x"), (std::vector<int>{0, 2}));
  EXPECT_THROW(experiments::parseLayerSet("1-3", 3, "x"), InvalidArgument);
}

}  // namespace
