// The logit-lens profile (analysis/logit_lens.cpp) and the profile registry / --coloc plumbing of the pipeline, on
// small random byte-level checkpoints. References are computed here, one unpadded item at a time, in float64: the
// model's own logits (last layer) and the final RMSNorm + unembedding written out from the checkpoint's weights
// (any layer).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "analysis/layer_analyses.h"
#include "analysis/pipeline.h"
#include "analysis/profile_registry.h"
#include "core/model/random_checkpoint.h"
#include "core/text/byte_tokenizer.h"
#include "tests/common/test_util.h"

using namespace layerscope;
using namespace layerscope::analysis;
namespace fs = std::filesystem;

namespace {

core::ModelConfig byteConfig(bool tied) {
  core::ModelConfig c;
  c.hiddenSize = 32, c.intermediateSize = 64, c.numLayers = 3, c.numHeads = 8, c.numKvHeads = 2, c.headDim = 4;
  c.vocabSize = core::kByteVocabSize, c.rmsNormEps = 1e-5, c.ropeTheta = 10000, c.maxPositionEmbeddings = 256;
  c.tieWordEmbeddings = tied;
  return c;
}

// `space`: every choice starts with " ", a lone first token under the byte-level tokenizer (shared prefix).
core::Task mcTask(int n, const std::string& space = " ") {
  std::vector<core::McItem> items;
  for (int i = 0; i < n; ++i)
    items.push_back({"i" + std::to_string(i), "list " + std::to_string(i * 37 % 101) + " ab" + std::string(size_t(i % 4), 'x') + ":",
                     {space + "p" + std::to_string(i % 3), space + "q" + std::to_string(i % 5), space + "r"}, size_t(i % 3)});
  core::Task t;
  t.name = "mc" + space;
  t.items = items;
  return t;
}

// Choices 0 and 1 share their first token "p" (the lens cannot separate them: they tie).
core::Task tiedTask(int n) {
  std::vector<core::McItem> items;
  for (int i = 0; i < n; ++i)
    items.push_back({"t" + std::to_string(i), "pick " + std::to_string(i * 11 % 23) + ":", {"p" + std::to_string(i % 4), "px", "q"},
                     size_t(i % 3)});
  core::Task t;
  t.name = "tied";
  t.items = items;
  return t;
}

core::Task shortTask(int n) {
  std::vector<core::ShortItem> items;
  for (int i = 0; i < n; ++i) items.push_back({"s" + std::to_string(i), "count " + std::to_string(i * 13 % 47) + " =", " " + std::to_string(i)});
  core::Task t;
  t.name = "short";
  t.items = items;
  return t;
}

core::Task pairsTask(int n) {
  std::vector<core::PairItem> items;
  for (int i = 0; i < n; ++i)
    items.push_back({"p" + std::to_string(i), "the key " + std::to_string(i * 7 % 31) + " is", " k" + std::to_string(i % 4), " z"});
  core::Task t;
  t.name = "pairs";
  t.items = items;
  return t;
}

// One model of each kind, a checkpoint directory and the byte-level tokenizer.
struct LensModel {
  explicit LensModel(bool tied) {
    core::writeRandomCheckpoint(dir.path(), byteConfig(tied), {.seed = tied ? 5u : 11u, .weightStd = 0.3});
    core::writeByteLevelTokenizer(dir.path());
    f32 = core::LlamaModel::load(dir.path(), torch::kFloat32);
    f64 = core::LlamaModel::load(dir.path(), torch::kFloat64);
    tok = std::make_unique<core::Tokenizer>(core::Tokenizer::fromFile(dir.path()));
  }
  test::TempDir dir;
  std::shared_ptr<const core::LlamaModel> f32, f64;
  std::unique_ptr<core::Tokenizer> tok;
};

class LogitLens : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { untied_ = new LensModel(false), tied_ = new LensModel(true); }
  static void TearDownTestSuite() {
    delete untied_;
    delete tied_;
  }
  static ProfileResult lens(const core::LlamaModel& m, const core::PreparedTask& task, int batch) {
    const ProfileSpec* spec = findProfile("logit_lens");
    EXPECT_NE(spec, nullptr);
    return spec->run(ModelTaskInputs{&m, untied_->tok.get(), &task, nullptr}, ProfileOptions{batch, 1}, nullptr);
  }
  static inline LensModel* untied_ = nullptr;
  static inline LensModel* tied_ = nullptr;
};

// The answer token the lens scores: the first where the choices differ (0 for short answer, one target).
size_t scoredAt(const core::PreparedItem& it, core::TaskKind kind) {
  if (kind == core::TaskKind::ShortAnswer) return 0;
  for (size_t j = 0;; ++j) {
    std::set<int32_t> tokens;
    bool last = false;
    for (const auto& c : it.continuations) tokens.insert(c[j]), last |= j + 1 == c.size();
    if (tokens.size() > 1 || last) return j;
  }
}

// The prompt plus the gold answer's first `shared` tokens, [1, T].
torch::Tensor ids(const core::PreparedItem& it, size_t shared) {
  std::vector<int64_t> v(it.prompt.begin(), it.prompt.end());
  v.insert(v.end(), it.continuations[it.gold].begin(), it.continuations[it.gold].begin() + long(shared));
  return torch::tensor(v, torch::kInt64).view({1, -1});
}

// The model's next-token log-probabilities after prompt + shared prefix, float64 [V].
torch::Tensor modelLogProbs(const core::LlamaModel& m, const core::PreparedItem& it, size_t shared) {
  c10::InferenceMode guard;
  auto x = ids(it, shared);
  auto logits = m.forward({x, {}, {}}).logits[0][x.size(1) - 1];  // [V]
  return torch::log_softmax(logits.to(torch::kFloat64), 0);
}

// Final RMSNorm (HF: x / sqrt(mean x^2 + eps) * w) and unembedding on resid_post[layer] at the same position,
// written out from the checkpoint's weights in float64 [V].
torch::Tensor lensLogProbs(const core::LlamaModel& m, const core::PreparedItem& it, size_t shared, int layer) {
  c10::InferenceMode guard;
  core::TensorCapture cap;
  cap.request(layer, core::Site::ResidPost).storeAs(torch::kFloat64);
  auto x = ids(it, shared);
  m.forward({x, {}, {}}, nullptr, &cap);
  auto h = cap.get(layer, core::Site::ResidPost)[0][x.size(1) - 1];  // [D]
  torch::Tensor norm, head, embed;
  for (const auto& [name, t] : m.namedWeights()) {
    if (name == "model.norm.weight") norm = t.to(torch::kFloat64);
    if (name == "lm_head.weight") head = t.to(torch::kFloat64);
    if (name == "model.embed_tokens.weight") embed = t.to(torch::kFloat64);
  }
  if (!head.defined()) head = embed;  // tied
  auto hn = norm * h / torch::sqrt(h.pow(2).mean() + m.config().rmsNormEps);
  return torch::log_softmax(head.matmul(hn), 0);
}

// Task-kind scoring of one item from log-probabilities [V] of answer token j: (credit, gold log-probability).
// Multiple choice: the choices whose token has the highest probability share the credit (1/k each).
std::pair<double, double> score(const core::PreparedItem& it, core::TaskKind kind, const torch::Tensor& lp, size_t j,
                                int64_t vocab) {
  const auto& c = it.continuations;
  const int64_t goldToken = c[it.gold][j];
  const double gold = lp[goldToken].item<double>();
  if (kind == core::TaskKind::Pairs) return {lp[c[0][j]].item<double>() > lp[c[1][j]].item<double>() ? 1 : 0, gold};
  if (kind == core::TaskKind::ShortAnswer) return {lp.narrow(0, 0, vocab).argmax().item<int64_t>() == goldToken ? 1 : 0, gold};
  int64_t best = c[0][j];
  for (const auto& k : c)
    if (lp[k[j]].item<double>() > lp[best].item<double>()) best = k[j];
  if (best != goldToken) return {0, gold};
  return {1.0 / double(std::count_if(c.begin(), c.end(), [&](const auto& k) { return k[j] == goldToken; })), gold};
}

}  // namespace

TEST_F(LogitLens, RegistryListsTheLogitLensAndItIsOffByDefault) {
  const auto names = registeredProfileNames();
  ASSERT_NE(std::find(names.begin(), names.end(), "logit_lens"), names.end());
  const ProfileSpec* spec = findProfile("logit_lens");
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->keys, (std::vector<std::string>{"logit_lens.accuracy", "logit_lens.gold_logprob"}));
  EXPECT_FALSE(spec->byDefault);
  EXPECT_EQ(findProfile("no_such_profile"), nullptr);
  EXPECT_EQ(AnalyzeRequest{}.profiles, defaultProfileNames());
  const auto defaults = defaultProfileNames();
  EXPECT_EQ(std::find(defaults.begin(), defaults.end(), "logit_lens"), defaults.end());
}

TEST_F(LogitLens, LastLayerIsTheModelsOwnNextTokenDistribution) {
  // float64 compute: the lens at layer L-1 must reproduce the model's logits at the decision token, for every
  // task kind, with and without tied embeddings, in padded batches (batch 3 over items of unequal length).
  for (const LensModel* s : {untied_, tied_})
    for (const auto& task : {mcTask(7), mcTask(7, ""), tiedTask(6), shortTask(5), pairsTask(6)}) {
      const auto prep = core::prepareTask(*s->tok, task);
      const auto r = lens(*s->f64, prep, 3);
      const auto& acc = r.itemScores.at("logit_lens.accuracy");
      const auto& glp = r.itemScores.at("logit_lens.gold_logprob");
      ASSERT_EQ(glp.rows(), Eigen::Index(prep.items.size()));
      ASSERT_EQ(glp.cols(), 3);
      size_t shifted = 0;
      for (size_t i = 0; i < prep.items.size(); ++i) {
        const auto& it = prep.items[i];
        const size_t j = scoredAt(it, prep.kind);
        shifted += j > 0;
        const auto [ok, gold] = score(it, prep.kind, modelLogProbs(*s->f64, it, j), j, s->tok->vocabSize());
        EXPECT_NEAR(glp(Eigen::Index(i), 2), gold, 1e-12) << task.name << " item " << i;
        EXPECT_EQ(acc(Eigen::Index(i), 2), ok) << task.name << " item " << i;
      }
      EXPECT_EQ(r.info["unembedding"], s == tied_ ? "model.embed_tokens (tied)" : "lm_head");
      EXPECT_EQ(r.info["forward_passes"], (prep.items.size() + 2) / 3);
      // " p0" / " q0" / " r": all start with a lone space, so the lens reads one token later (also for pairs)
      const bool spaced = task.name == "mc " || prep.kind == core::TaskKind::Pairs;
      EXPECT_EQ(shifted, spaced ? prep.items.size() : 0u) << task.name;
      EXPECT_EQ(r.info["items_read_after_shared_prefix"], shifted) << task.name;
      EXPECT_EQ(r.info["items_with_tied_gold_token"], task.name == "tied" ? 4u : 0u) << task.name;  // gold 0 or 1
    }
}

TEST_F(LogitLens, EveryLayerMatchesADirectComputation) {
  // float32 model, references from the captured state in float64: means over items per layer.
  for (const auto& task : {mcTask(9), mcTask(9, ""), tiedTask(6), shortTask(6), pairsTask(6)}) {
    const auto prep = core::prepareTask(*untied_->tok, task);
    const auto r = lens(*untied_->f32, prep, 4);
    for (int l = 0; l < 3; ++l) {
      double acc = 0, glp = 0;
      for (const auto& it : prep.items) {
        const size_t j = scoredAt(it, prep.kind);
        const auto [ok, gold] = score(it, prep.kind, lensLogProbs(*untied_->f32, it, j, l), j, untied_->tok->vocabSize());
        acc += ok;
        glp += gold;
      }
      const double n = double(prep.items.size());
      EXPECT_DOUBLE_EQ(r.layerScores.at("logit_lens.accuracy")[size_t(l)], acc / n) << task.name << " layer " << l;
      EXPECT_NEAR(r.layerScores.at("logit_lens.gold_logprob")[size_t(l)], glp / n, 1e-5) << task.name << " layer " << l;
    }
  }
}

TEST_F(LogitLens, StopsBetweenBatchesWhenCancelled) {
  const auto prep = core::prepareTask(*untied_->tok, mcTask(6));
  std::stop_source stop;
  int batches = 0;
  core::JobControl job(stop.get_token(), [&](const core::Progress& p) {
    if (p.stage == "logit lens" && ++batches == 1) stop.request_stop();
  });
  const ModelTaskInputs in{untied_->f32.get(), untied_->tok.get(), &prep, nullptr};
  EXPECT_THROW(findProfile("logit_lens")->run(in, ProfileOptions{2, 1}, &job), Cancelled);
  EXPECT_EQ(batches, 1);
}

// ---- pipeline ----------------------------------------------------------------------------------------------

class LogitLensPipeline : public LogitLens {
 protected:
  static AnalyzeRequest request(const fs::path& taskFile, const fs::path& out) {
    AnalyzeRequest r;
    r.modelDir = untied_->dir.path();
    r.taskFile = taskFile;
    r.outDir = out;
    r.bootstrap = 50;
    r.batchSize = 4;
    r.metrics = {"rel_l2", "fisher"};
    return r;
  }
  static nlohmann::json readJson(const fs::path& p) {
    std::ifstream f(p);
    return nlohmann::json::parse(f);
  }
};

TEST_F(LogitLensPipeline, ScoresAppearInScoresJsonAndLayersCsv) {
  test::TempDir d;
  core::writeTask(d / "t.jsonl", mcTask(12));
  auto r = request(d / "t.jsonl", d / "res");
  r.profiles = {"logit_lens"};
  const auto res = runAnalysis(r);
  const auto scores = readJson(d / "res" / "scores.json");
  for (auto k : {"logit_lens.accuracy", "logit_lens.gold_logprob"}) {
    ASSERT_EQ(scores["layer_scores"][k].size(), 3u) << k;
    EXPECT_EQ(scores["layer_scores"][k].get<std::vector<double>>(), res.layerScores.at(k)) << k;
  }
  EXPECT_EQ(scores["options"]["profiles"], nlohmann::json({"logit_lens"}));
  EXPECT_EQ(scores["logit_lens_info"]["items"], 12);
  EXPECT_TRUE(scores["timings_seconds"].contains("logit_lens"));
  std::ifstream cf(d / "res" / "layers.csv");
  std::string header;
  std::getline(cf, header);
  EXPECT_NE(header.find(",logit_lens.accuracy"), std::string::npos) << header;
  EXPECT_NE(header.find(",logit_lens.gold_logprob"), std::string::npos) << header;
  // the default pair is untouched by an extra profile
  const auto stats = readJson(d / "res" / "stats.json");
  EXPECT_EQ(stats["profiles"]["sensitivity"], "sensitivity.rel_l2");
  EXPECT_EQ(stats["profiles"]["rope"], "rope_influence.gradient");

  // and without --profiles nothing of the lens is computed or written
  r.profiles = AnalyzeRequest{}.profiles;
  r.outDir = d / "plain";
  const auto plain = runAnalysis(r);
  EXPECT_EQ(plain.layerScores.count("logit_lens.accuracy"), 0u);
  EXPECT_FALSE(readJson(d / "plain" / "scores.json").contains("logit_lens_info"));
}

TEST_F(LogitLensPipeline, ColocalizationRunsOnTheChosenPair) {
  test::TempDir d;
  core::writeTask(d / "t.jsonl", mcTask(12));
  auto r = request(d / "t.jsonl", d / "res");
  r.profiles = {"logit_lens"};
  r.colocFirst = "logit_lens.gold_logprob";
  r.colocSecond = "rope_influence.gradient";
  r.kSens = 1;
  const auto res = runAnalysis(r);
  const auto stats = readJson(d / "res" / "stats.json");
  EXPECT_EQ(stats["profiles"]["sensitivity"], "logit_lens.gold_logprob");
  EXPECT_EQ(stats["profiles"]["rope"], "rope_influence.gradient");
  const auto& a = res.layerScores.at("logit_lens.gold_logprob");
  const auto& b = res.layerScores.at("rope_influence.gradient");
  const Eigen::Map<const Eigen::VectorXd> va(a.data(), 3), vb(b.data(), 3);
  EXPECT_EQ(stats["stats.spearman.r"].get<double>(), spearman(va, vb).r);
  // S_sens is the top-1 layer of the first key
  EXPECT_EQ(stats["top_k"]["S_sens"], nlohmann::json({size_t(std::max_element(a.begin(), a.end()) - a.begin())}));
  // log-probabilities are no layer mass: no centre of mass, said so; everything else is computed
  EXPECT_TRUE(stats["centre_of_mass"]["sensitivity"].is_null());
  EXPECT_TRUE(stats.contains("centre_of_mass_note"));
  // the lens keeps per-item values, so r_s gets its bootstrap interval over the sensitivity items
  EXPECT_TRUE(stats.contains("stats.spearman.ci_low")) << stats.dump();
  EXPECT_EQ(readJson(d / "res" / "scores.json")["options"]["coloc"],
            nlohmann::json({"logit_lens.gold_logprob", "rope_influence.gradient"}));

  // a key without per-item values: statistics yes, bootstrap interval no, and the reason is recorded
  r.outDir = d / "red";
  r.colocFirst = "redundancy.block_bi";
  r.colocSecond = "logit_lens.accuracy";
  runAnalysis(r);
  const auto red = readJson(d / "red" / "stats.json");
  EXPECT_EQ(red["profiles"]["sensitivity"], "redundancy.block_bi");
  EXPECT_FALSE(red.contains("stats.spearman.ci_low"));
  EXPECT_NE(red["stats.spearman.ci_error"].get<std::string>().find("redundancy.block_bi"), std::string::npos);
}

TEST_F(LogitLensPipeline, UnknownProfileAndUnknownColocKeyAreClearErrors) {
  test::TempDir d;
  core::writeTask(d / "t.jsonl", mcTask(6));
  auto expectError = [&](const AnalyzeRequest& r, std::vector<std::string> fragments) {
    try {
      validateRequest(r);
      ADD_FAILURE() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
      for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  };
  auto r = request(d / "t.jsonl", d / "res");
  r.profiles = {"logit_lense"};
  expectError(r, {"--profiles", "'logit_lense'", "logit_lens"});  // names the bad one and the registered ones
  r.profiles = {"logit_lens", "logit_lens"};
  expectError(r, {"listed twice"});
  r.profiles = {};
  r.colocFirst = "logit_lens.accuracy";  // the profile is not selected
  r.colocSecond = "rope_influence.gradient";
  expectError(r, {"--coloc", "'logit_lens.accuracy'", "add --profiles logit_lens", "available", "sensitivity.rel_l2",
                  "redundancy.block"});
  r.profiles = {"logit_lens"};
  r.rope = false;  // the second key is no longer produced
  expectError(r, {"'rope_influence.gradient'"});
  r.rope = true;
  r.colocSecond = "";
  expectError(r, {"two layer_scores keys"});
  r.colocSecond = "rope_influence.gradient";
  EXPECT_NO_THROW(validateRequest(r));
  EXPECT_FALSE(fs::exists(d / "res"));
}
