// Model analyses (analysis/layer_analyses.h) on small random checkpoints: gradient-mode RoPE influence against
// central finite differences of each item's loss (float64), perturb-mode KL = 0 at eps = 0, redundancy = 1 for
// a layer made the identity, sensitivity states equal direct captures, manipulations (k = L, random norms,
// skip_attention = the core's skip), and the pipeline's results directory / validation / cancellation.
#include <gtest/gtest.h>

#include "core/train/adapters.h"

#include <fstream>
#include <tuple>
#include <nlohmann/json.hpp>

#include "analysis/layer_analyses.h"
#include "analysis/pipeline.h"
#include "core/text/byte_tokenizer.h"
#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "core/model/random_checkpoint.h"
#include "core/model/safetensors.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"

using namespace layerscope;
using namespace layerscope::analysis;
namespace fs = std::filesystem;

namespace {

core::Task mcTask(int n) {
  std::vector<core::McItem> items;
  for (int i = 0; i < n; ++i)
    items.push_back({"i" + std::to_string(i), "list " + std::to_string(i * 37 % 101) + " ab" + std::string(size_t(i % 4), 'x') + ":",
                     {" p" + std::to_string(i % 3), " q" + std::to_string(i % 5), " r"}, size_t(i % 3)});
  core::Task t;
  t.name = "mc";
  t.items = items;
  return t;
}

class Analyses : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tiny_ = new test::TinyByteModel(test::byteConfig(), {.seed = 11, .weightStd = 0.3});
    f32_ = tiny_->load(torch::kFloat32);
    f64_ = tiny_->load(torch::kFloat64);
    tok_ = &tiny_->tokenizer();
  }
  static void TearDownTestSuite() {
    f32_.reset();
    f64_.reset();
    delete tiny_;
  }
  static inline test::TinyByteModel* tiny_ = nullptr;
  static inline std::shared_ptr<const core::LlamaModel> f32_, f64_;
  static inline const core::Tokenizer* tok_ = nullptr;
};

// Next-token cross-entropy over the prompt with alpha = exp(beta) at every layer (docs/methods.md section 3).
double promptLoss(const core::LlamaModel& m, const std::vector<int32_t>& prompt, const torch::Tensor& beta) {
  c10::InferenceMode guard;
  auto ids = torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end()), torch::kInt64).view({1, -1});
  core::Interventions iv;
  for (int l = 0; l < beta.size(0); ++l) iv.ropeAlpha.push_back(torch::exp(beta[l]));
  auto logits = m.forward({ids, {}, {}}, &iv).logits[0];  // [T,V]
  const int64_t T = ids.size(1);
  return torch::nn::functional::cross_entropy(logits.narrow(0, 0, T - 1), ids[0].narrow(0, 1, T - 1)).item<double>();
}

}  // namespace

TEST_F(Analyses, GradientRopeInfluenceEqualsFiniteDifferencesPerItem) {
  auto task = mcTask(3);
  auto prep = core::prepareTask(*tok_, task);
  ModelTaskInputs in{f64_.get(), tok_, &prep, nullptr};
  auto r = ropeInfluence(in, {.mode = RopeMode::Gradient});
  const int L = 3, G = 2;
  ASSERT_EQ(r.perHead.rows(), L);
  ASSERT_EQ(r.perHead.cols(), G);
  const double h = 1e-5;
  Eigen::MatrixXd mean = Eigen::MatrixXd::Zero(L, G);
  for (size_t i = 0; i < prep.items.size(); ++i)
    for (int l = 0; l < L; ++l)
      for (int g = 0; g < G; ++g) {
        auto plus = torch::zeros({L, G}, torch::kFloat64), minus = plus.clone();
        plus[l][g] = h;
        minus[l][g] = -h;
        const double fd = std::abs(promptLoss(*f64_, prep.items[i].prompt, plus) - promptLoss(*f64_, prep.items[i].prompt, minus)) / (2 * h);
        EXPECT_NEAR(r.itemHead(Eigen::Index(i), l * G + g), fd, 1e-7 + 1e-5 * fd) << "item " << i << " layer " << l << " group " << g;
        mean(l, g) += fd / 3.0;
      }
  EXPECT_TRUE(r.perHead.isApprox(mean, 1e-5));
  EXPECT_NEAR(r.perLayer[1], mean.row(1).sum(), 1e-6);  // R_l = sum over g
  EXPECT_GT(r.perLayer.minCoeff(), 0.0);
  EXPECT_EQ(r.forwardPasses, 1u);  // one forward + backward per batch (3 items, batch 8), not per layer or item
  // Batches of unequal-length, right-padded rows give the same per-item values.
  auto r2 = ropeInfluence(in, {.mode = RopeMode::Gradient, .batchSize = 2});
  EXPECT_EQ(r2.forwardPasses, 2u);
  EXPECT_TRUE(r2.itemHead.isApprox(r.itemHead, 1e-10));
}

TEST_F(Analyses, PerturbKlIsZeroAtEpsZeroAndPositiveOtherwise) {
  auto task = mcTask(4);
  auto prep = core::prepareTask(*tok_, task);
  ModelTaskInputs in{f32_.get(), tok_, &prep, nullptr};
  auto zero = ropeInfluence(in, {.mode = RopeMode::Perturb, .eps = 0.0, .batchSize = 3});
  EXPECT_EQ(zero.perLayer.cwiseAbs().maxCoeff(), 0.0);
  EXPECT_EQ(zero.perHead.cwiseAbs().maxCoeff(), 0.0);
  auto pos = ropeInfluence(in, {.mode = RopeMode::Perturb, .eps = 0.1, .batchSize = 3});
  EXPECT_GT(pos.perLayer.minCoeff(), 0.0);
  auto nope = ropeInfluence(in, {.mode = RopeMode::Nope, .perHead = false, .batchSize = 3});
  EXPECT_GT(nope.perLayer.minCoeff(), pos.perLayer.minCoeff() * 0.0);
  EXPECT_EQ(nope.perHead.size(), 0);
}

TEST_F(Analyses, RedundancyOfAnIdentityLayerIsExactlyOne) {
  // Zero o_proj and down_proj of layer 1: both sub-blocks add exactly 0, so every similarity of layer 1 is 1.
  test::TempDir d;
  std::vector<std::pair<std::string, torch::Tensor>> w;
  for (auto& [name, t] : f32_->namedWeights()) {
    auto c = t.clone();
    if (name == "model.layers.1.self_attn.o_proj.weight" || name == "model.layers.1.mlp.down_proj.weight") c.zero_();
    w.emplace_back(name, c);
  }
  core::writeSafetensors(d / "model.safetensors", w);
  fs::copy_file(tiny_->dir() / "config.json", d / "config.json");
  auto m = core::LlamaModel::load(d.path(), torch::kFloat32);
  auto task = mcTask(5);
  auto prep = core::prepareTask(*tok_, task);
  ModelTaskInputs in{m.get(), tok_, &prep, nullptr};
  auto r = redundancy(in, {.batchSize = 2});
  EXPECT_EQ(r.attn[1], 1.0);
  EXPECT_EQ(r.mlp[1], 1.0);
  EXPECT_EQ(r.block[1], 1.0);
  EXPECT_EQ(r.blockBi[1], 0.0);
  EXPECT_LT(r.attn[0], 0.999);
  EXPECT_LT(r.block[2], 0.999);
  size_t tokens = 0;
  for (const auto& it : prep.items) tokens += it.prompt.size();
  EXPECT_EQ(r.tokens, tokens);
  auto angular = redundancy(in, {.angular = true, .batchSize = 2});
  EXPECT_NEAR(angular.blockBi[0], std::acos(r.block[0]) / M_PI, 1e-12);
}

TEST_F(Analyses, SensitivityStatesAreResidPostAtTheDecisionToken) {
  auto task = mcTask(8);
  auto prep = core::prepareTask(*tok_, task);
  auto eval = core::evaluate(*f32_, *tok_, prep, {.batchSize = 5});
  ASSERT_GT(eval.correct, 0u);
  ASSERT_LT(eval.correct, 8u);
  ModelTaskInputs in{f32_.get(), tok_, &prep, &eval};
  SensitivityAnalysisParams sp;
  sp.metrics = {SensitivityMetric::RelL2};
  sp.metric.bootstrapResamples = 20;
  sp.batchSize = 3;
  auto s = analyseSensitivity(in, sp);
  ASSERT_EQ(s.items.size(), 8u);
  c10::InferenceMode guard;
  for (size_t j = 0; j < s.items.size(); ++j) {
    const auto& it = prep.items[s.items[j]];
    auto ids = torch::tensor(std::vector<int64_t>(it.prompt.begin(), it.prompt.end()), torch::kInt64).view({1, -1});
    core::TensorCapture cap;
    cap.request(2, core::Site::ResidPost);
    f32_->forward({ids, {}, {}}, nullptr, &cap);
    auto ref = cap.get(2, core::Site::ResidPost)[0][it.decisionPosition()];
    const bool correct = j < eval.correct;
    Eigen::VectorXf row = correct ? Eigen::VectorXf(s.states[2].correct.row(Eigen::Index(j)))
                                  : Eigen::VectorXf(s.states[2].incorrect.row(Eigen::Index(j - eval.correct)));
    EXPECT_EQ(correct, eval.items[s.items[j]].correct);
    for (int d = 0; d < 32; ++d) EXPECT_NEAR(row[d], ref[d].item<float>(), 1e-4);  // float32, padded batch; states are O(1..10)
  }
  // rel_l2 at layer 2 from the class means (docs/statistics.md)
  const auto& st = s.states[2];
  Eigen::VectorXd mc = st.correct.cast<double>().colwise().mean(), mi = st.incorrect.cast<double>().colwise().mean();
  EXPECT_NEAR(s.profiles[0].second.score[2], (mc - mi).norm() / ((mc.norm() + mi.norm()) / 2), 1e-9);
}

TEST_F(Analyses, ManipulationAtKEqualLChangesNothing) {
  auto task = mcTask(6);
  auto prep = core::prepareTask(*tok_, task);
  // manipulations keep one row per request (their hook reads the layout): the base in the same layout, bit for bit
  auto eval = core::evaluate(*f32_, *tok_, prep, {.batchSize = 4, .sharePrompt = false});
  ModelTaskInputs in{f32_.get(), tok_, &prep, &eval};
  for (auto mode : allManipulations()) {
    auto r = manipulate(in, {.mode = mode, .layers = {3, 0}, .batchSize = 4});
    ASSERT_EQ(r.evals.size(), 2u);
    for (size_t i = 0; i < prep.items.size(); ++i) EXPECT_EQ(r.evals[0].items[i].loglik, eval.items[i].loglik) << manipulationName(mode);
    bool changed = false;
    for (size_t i = 0; i < prep.items.size(); ++i) changed |= r.evals[1].items[i].loglik != eval.items[i].loglik;
    EXPECT_TRUE(changed) << manipulationName(mode) << " at k = 0 must change something";
  }
}

TEST_F(Analyses, RandomReplacementPreservesNormsOfPreviousTokensOnly) {
  auto task = mcTask(3);
  auto prep = core::prepareTask(*tok_, task);
  std::vector<const std::vector<int32_t>*> seqs;
  core::BatchInfo b;
  for (size_t i = 0; i < 3; ++i) {
    seqs.push_back(&prep.items[i].prompt);
    b.item.push_back(i);
    b.promptLength.push_back(int(prep.items[i].prompt.size()));
  }
  auto pb = core::padRight(seqs);
  b.inputIds = pb.ids, b.attentionMask = pb.mask, b.length = pb.length;
  ModelTaskInputs in{f32_.get(), tok_, &prep, nullptr};
  auto ctx = captureManipulationContext(in, b, false);
  auto iv = manipulationInterventions(ManipulationMode::Random, 1, b, ctx, 7, 3);
  ASSERT_EQ(iv.replacements.size(), 1u);
  const auto& rep = iv.replacements[0];
  EXPECT_EQ(rep.layer, 1);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t t = 0; t < pb.ids.size(1); ++t) {
      const bool expect = t < b.promptLength[size_t(r)] - 1;
      ASSERT_EQ(rep.mask[r][t].item<bool>(), expect) << r << "," << t;
      if (!expect) continue;
      const double n0 = ctx.base[1][r][t].norm().item<double>(), n1 = rep.values[r][t].norm().item<double>();
      EXPECT_NEAR(n1, n0, 1e-5 * n0);
      EXPECT_LT(torch::cosine_similarity(rep.values[r][t], ctx.base[1][r][t], 0).item<double>(), 0.9);
    }
  // same seed, same item and k: identical noise (every decoding step sees the same manipulation)
  auto again = manipulationInterventions(ManipulationMode::Random, 1, b, ctx, 7, 3);
  EXPECT_TRUE(torch::equal(again.replacements[0].values, rep.values));
}

TEST_F(Analyses, SkipAttentionAtKEqualsTheCoreSkipIntervention) {
  auto task = mcTask(5);
  auto prep = core::prepareTask(*tok_, task);
  auto eval = core::evaluate(*f32_, *tok_, prep, {.batchSize = 4});
  ModelTaskInputs in{f32_.get(), tok_, &prep, &eval};
  auto r = manipulate(in, {.mode = ManipulationMode::SkipAttention, .layers = {1}, .batchSize = 4});
  core::Interventions skip;
  skip.skipAttention = {false, true, true};
  auto ref = core::evaluate(*f32_, *tok_, prep, {.batchSize = 4}, nullptr, [&](const core::BatchInfo&, int) { return skip; });
  for (size_t i = 0; i < prep.items.size(); ++i) EXPECT_EQ(r.evals[0].items[i].loglik, ref.items[i].loglik);
  // and it is not the base model
  EXPECT_NE(r.evals[0].items[0].loglik, eval.items[0].loglik);
}

TEST_F(Analyses, FreezeKeepsPreviousTokensAtTheirEarlierState) {
  auto task = mcTask(2);
  auto prep = core::prepareTask(*tok_, task);
  std::vector<const std::vector<int32_t>*> seqs = {&prep.items[0].prompt, &prep.items[1].prompt};
  auto pb = core::padRight(seqs);
  core::BatchInfo b;
  b.inputIds = pb.ids, b.attentionMask = pb.mask, b.length = pb.length, b.item = {0, 1};
  b.promptLength = {int(prep.items[0].prompt.size()), int(prep.items[1].prompt.size())};
  ModelTaskInputs in{f32_.get(), tok_, &prep, nullptr};
  auto ctx = captureManipulationContext(in, b, false);
  auto iv = manipulationInterventions(ManipulationMode::Freeze, 2, b, ctx, 1, 3);
  ASSERT_EQ(iv.replacements.size(), 1u);  // layers 2..L-1 = {2}
  EXPECT_TRUE(torch::equal(iv.replacements[0].values, ctx.base[1]));
  c10::InferenceMode guard;
  core::TensorCapture cap;
  cap.request(2, core::Site::ResidPre);
  f32_->forward({pb.ids, pb.mask, {}}, &iv, &cap);
  const int64_t n = b.promptLength[0] - 1;
  EXPECT_TRUE(torch::equal(cap.get(2, core::Site::ResidPre)[0].narrow(0, 0, n), ctx.base[1][0].narrow(0, 0, n)));
}

// ---- pipeline ----------------------------------------------------------------------------------------------

class Pipeline : public Analyses {
 protected:
  static AnalyzeRequest request(const fs::path& taskFile, const fs::path& out) {
    AnalyzeRequest r;
    r.modelDir = tiny_->dir();
    r.taskFile = taskFile;
    r.outDir = out;
    r.bootstrap = 50;
    r.batchSize = 4;
    return r;
  }
};

TEST_F(Pipeline, AnalysesTheAdaptedModelWhenGivenAnAdapter) {
  test::TempDir d;
  core::writeTask(d / "t.jsonl", mcTask(12));
  core::AdapterSpec spec;
  spec.lora.layers = {0, 2};
  spec.lora.rank = 4;
  spec.garfa.layers = {1};
  auto adapter = core::AdapterSet::create(f32_->config(), spec, 3);
  {
    torch::NoGradGuard ng;
    torch::manual_seed(8);
    for (auto& p : adapter.loraParameters()) p.value.copy_(torch::randn_like(p.value) * 0.3);
    for (auto& p : adapter.garfaParameters()) p.value.copy_(torch::randn_like(p.value) * 0.5);
  }
  adapter.save(d / "adapter");
  auto base = runAnalysis(request(d / "t.jsonl", d / "base"));
  auto r = request(d / "t.jsonl", d / "adapted");
  r.adapterDir = d / "adapter";
  auto adapted = runAnalysis(r);
  std::ifstream sf(d / "adapted" / "scores.json");
  auto scores = nlohmann::json::parse(sf);
  EXPECT_EQ(scores["model"]["adapter"]["path"], fs::absolute(d / "adapter").string());
  EXPECT_EQ(scores["model"]["adapter"]["lora"]["layers_to_transform"], nlohmann::json({0, 2}));
  std::ifstream bf(d / "base" / "scores.json");
  auto baseScores = nlohmann::json::parse(bf);
  EXPECT_TRUE(baseScores["model"]["adapter"].is_null());
  EXPECT_NE(scores["layer_scores"]["redundancy.block"], baseScores["layer_scores"]["redundancy.block"]);
  r.adapterDir = d.path();  // not an adapter directory
  r.outDir = d / "bad";
  EXPECT_THROW(runAnalysis(r), InvalidArgument);
  EXPECT_FALSE(fs::exists(d / "bad"));
}

TEST_F(Pipeline, WritesTheDocumentedFiles) {
  test::TempDir d;
  auto task = mcTask(12);
  core::writeTask(d / "t.jsonl", task);
  auto res = runAnalysis(request(d / "t.jsonl", d / "res"));
  ASSERT_TRUE(fs::is_directory(d / "res"));
  for (auto f : {"scores.json", "stats.json", "layers.csv", "items.jsonl"}) EXPECT_TRUE(fs::exists(d / "res" / f)) << f;
  std::ifstream sf(d / "res" / "scores.json");
  auto scores = nlohmann::json::parse(sf);
  EXPECT_EQ(scores["format"], "layerscope.scores/1");
  EXPECT_EQ(scores["num_layers"], 3);
  EXPECT_EQ(scores["num_kv_heads"], 2);
  EXPECT_EQ(scores["task"]["items"], 12);
  for (auto k : {"sensitivity.rel_l2", "sensitivity.rel_l2.ci_low", "sensitivity.rel_l2.ci_high", "sensitivity.raw_l2",
                 "sensitivity.cos", "sensitivity.fisher", "sensitivity.probe", "rope_influence.gradient",
                 "redundancy.attn", "redundancy.mlp", "redundancy.block", "redundancy.block_bi"})
    EXPECT_EQ(scores["layer_scores"][k].size(), 3u) << k;
  EXPECT_EQ(scores["layer_head_scores"]["rope_influence.gradient.per_head"].size(), 3u);
  EXPECT_EQ(scores["options"]["eps"], 0.1);
  std::ifstream stf(d / "res" / "stats.json");
  auto stats = nlohmann::json::parse(stf);
  for (auto k : {"stats.spearman.r", "stats.spearman.p", "stats.spearman.p_perm", "stats.spearman.ci_low",
                 "stats.spearman.ci_high", "verdict", "top_k", "jaccard"})
    EXPECT_TRUE(stats.contains(k)) << k;
  std::ifstream lf(d / "res" / "items.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(lf, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("id") && j.contains("correct") && j.contains("loglik"));
    ++lines;
  }
  EXPECT_EQ(lines, 12);
  std::ifstream cf(d / "res" / "layers.csv");
  std::getline(cf, line);
  EXPECT_EQ(line.rfind("layer,", 0), 0u);
  EXPECT_EQ(res.layerScores.at("rope_influence.gradient").size(), 3u);
  // only the results directory and the task are left: no temporary siblings
  EXPECT_EQ(std::distance(fs::directory_iterator(d.path()), fs::directory_iterator()), 2);
}

// The pipeline's default redundancy takes its cosines during the evaluation (RedundancySums via
// ScoringOptions::promptSink): every prompt token counted once, in the packed layout, one row per request and a
// pairs task alike, equal to redundancy()'s own forward over the prompts up to float32 summation order. A
// short-answer task, or another semantics, runs its own forward.
TEST_F(Pipeline, RedundancyFromTheEvaluationEqualsItsOwnForwardOverThePrompts) {
  test::TempDir d;
  core::Task pairs;
  {
    std::vector<core::PairItem> items;
    for (int i = 0; i < 10; ++i)
      items.push_back({"p" + std::to_string(i), "key " + std::to_string(i * 7 % 31) + std::string(size_t(i % 5), 'y') + " is",
                       " k" + std::to_string(i % 4), " zz"});
    pairs.name = "pairs";
    pairs.items = items;
  }
  core::writeTask(d / "mc.jsonl", mcTask(13));
  core::writeTask(d / "pairs.jsonl", pairs);
  for (const auto& [file, task, share] : {std::tuple{"mc.jsonl", mcTask(13), true}, std::tuple{"mc.jsonl", mcTask(13), false},
                                         std::tuple{"pairs.jsonl", pairs, true}, std::tuple{"pairs.jsonl", pairs, false}}) {
    SCOPED_TRACE(std::string(file) + (share ? ", shared prompt" : ", one row per request"));
    auto r = request(d / file, {});
    r.sensitivity = r.rope = false;
    r.sensitivityMode = task.kind() == core::TaskKind::Pairs ? "pairs" : "outcome";
    r.sharePrompt = share;
    r.batchSize = 3;
    const auto res = runAnalysis(r);
    EXPECT_EQ(res.scores["redundancy_info"]["states_from"], "evaluation");
    const auto prepared = core::prepareTask(*tok_, task);
    const ModelTaskInputs in{f32_.get(), tok_, &prepared, nullptr, nullptr};
    const auto own = redundancy(in, {.batchSize = 5});
    for (const auto& [key, v] : {std::pair{"redundancy.attn", &own.attn}, std::pair{"redundancy.mlp", &own.mlp},
                                 std::pair{"redundancy.block", &own.block}, std::pair{"redundancy.block_bi", &own.blockBi}}) {
      const auto& got = res.layerScores.at(key);
      ASSERT_EQ(got.size(), size_t(v->size())) << key;
      for (Eigen::Index l = 0; l < v->size(); ++l) EXPECT_NEAR(got[size_t(l)], (*v)(l), 2e-6) << key << " layer " << l;
    }
  }
  // A drop plan of the same semantics ranks those similarities: no forward of its own for them either.
  auto r = request(d / "mc.jsonl", {});
  r.sensitivity = r.rope = r.redundancy = false;
  r.dropPlan = "one-shot";
  r.dropN = 1;
  const auto dropped = runAnalysis(r);
  EXPECT_EQ(dropped.drop["similarity_from"], "evaluation");
  const auto prepared = core::prepareTask(*tok_, mcTask(13));
  const auto own = redundancy({f32_.get(), tok_, &prepared, nullptr, nullptr}, {.batchSize = 5});
  for (Eigen::Index l = 0; l < own.attn.size(); ++l)
    EXPECT_NEAR(dropped.drop["similarity"]["attn"][size_t(l)].get<double>(), own.attn(l), 2e-6) << "layer " << l;
  r.dropPlan.clear();
  r.redundancy = true;
  r.semantics = "shortgpt";
  EXPECT_EQ(runAnalysis(r).scores["redundancy_info"]["states_from"], "own_forward");
}

TEST_F(Pipeline, CancelledRunLeavesNoDirectory) {
  test::TempDir d;
  core::writeTask(d / "t.jsonl", mcTask(12));
  std::stop_source stop;
  int reports = 0;
  core::JobControl job(stop.get_token(), [&](const core::Progress& p) {
    if (p.stage.find("rope") != std::string::npos && ++reports == 2) stop.request_stop();
  });
  EXPECT_THROW(runAnalysis(request(d / "t.jsonl", d / "res"), &job), Cancelled);
  EXPECT_FALSE(fs::exists(d / "res"));
  EXPECT_EQ(std::distance(fs::directory_iterator(d.path()), fs::directory_iterator()), 1);
}

TEST_F(Pipeline, BadOptionsFailBeforeAnyWork) {
  test::TempDir d;
  core::writeTask(d / "t.jsonl", mcTask(6));
  auto r = request(d / "t.jsonl", d / "res");
  r.kSens = 4;  // L = 3
  try {
    runAnalysis(r);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("--k-sens"), std::string::npos) << e.what();
  }
  r = request(d / "t.jsonl", d / "res");
  r.manipulations = {"random"};
  r.manipulationLayers = {5};
  EXPECT_THROW(validateRequest(r), InvalidArgument);
  r = request(d / "t.jsonl", d / "res");
  r.dropPlan = "one-shot";
  r.dropN = 4;
  EXPECT_THROW(validateRequest(r), InvalidArgument);
  r.dropN = 1;
  EXPECT_NO_THROW(validateRequest(r));
  r.semantics = "afcl";  // defines no drop plan: refused before the base evaluation, not after it
  EXPECT_THROW(validateRequest(r), InvalidArgument);
  r.semantics = "shortgpt";  // removes whole blocks once
  EXPECT_THROW(validateRequest(r), InvalidArgument);
  r.dropModule = "block";
  EXPECT_NO_THROW(validateRequest(r));
  r = request(d / "missing.jsonl", d / "res");
  EXPECT_THROW(validateRequest(r), Error);
  EXPECT_FALSE(fs::exists(d / "res"));
}

TEST_F(Pipeline, TaskWithOnlyCorrectItemsIsRejected) {
  test::TempDir d;
  auto task = mcTask(6);
  auto prep = core::prepareTask(*tok_, task);
  auto eval = core::evaluate(*f32_, *tok_, prep, {});
  auto items = task.mc();
  for (size_t i = 0; i < items.size(); ++i) items[i].answer = size_t(eval.items[i].predicted);  // model always right
  task.items = items;
  core::writeTask(d / "t.jsonl", task);
  try {
    runAnalysis(request(d / "t.jsonl", d / "res"));
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("no differential"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("t.jsonl"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(d / "res"));
}

TEST_F(Pipeline, DropAndManipulationFiles) {
  test::TempDir d;
  core::writeTask(d / "t.jsonl", mcTask(6));
  auto r = request(d / "t.jsonl", d / "res");
  r.sensitivity = r.rope = r.redundancy = false;
  r.dropPlan = "iterative";
  r.dropN = 2;
  r.manipulations = {"random", "skip_attention"};
  auto res = runAnalysis(r);
  EXPECT_TRUE(fs::exists(d / "res" / "drop.json"));
  EXPECT_TRUE(fs::exists(d / "res" / "manipulation.json"));
  EXPECT_EQ(res.drop["dropped"].size(), 2u);
  EXPECT_NE(res.drop["dropped"][0]["layer"], res.drop["dropped"][1]["layer"]);
  EXPECT_EQ(res.manipulation["curves"]["random"].size(), 3u);
  EXPECT_GT(res.drop["speedup"].get<double>(), 0.0);
}
