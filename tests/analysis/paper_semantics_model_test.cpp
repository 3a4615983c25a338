// Paper-exact semantics on a small random checkpoint: the model-level pieces the numpy fixtures cannot reach
// (ShortGPT's final-norm last block, LLM-Drop's layer_drop_norm=False sub-block similarity, AFCL's shuffle and
// position rule inside the interventions, consecutive block drop), each against a direct capture of the model.
#include <gtest/gtest.h>

#include "analysis/layer_analyses.h"
#include "core/base/error.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"

using namespace layerscope;
using namespace layerscope::analysis;

namespace {

core::Task task(int n) {
  std::vector<core::McItem> items;
  for (int i = 0; i < n; ++i)
    items.push_back({"i" + std::to_string(i), "seq " + std::to_string(i * 53 % 97) + " cd" + std::string(size_t(i % 3), 'y') + ":",
                     {" a" + std::to_string(i % 2), " b"}, size_t(i % 2)});
  core::Task t;
  t.name = "mc";
  t.items = items;
  return t;
}

class PaperModes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tiny_ = new test::TinyByteModel(test::byteConfig({.byteSpecialIds = true}), {.seed = 5, .weightStd = 0.3});
    model_ = tiny_->load(torch::kFloat32);
    prep_ = new core::PreparedTask(core::prepareTask(tiny_->tokenizer(), task(6)));
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete prep_;
    delete tiny_;
  }
  ModelTaskInputs in() const { return {model_.get(), &tiny_->tokenizer(), prep_, nullptr}; }
  // resid_pre / attn_out / resid_post of every layer and the final hidden state of one unpadded prompt
  struct Run {
    core::TensorCapture cap;
    torch::Tensor final;
  };
  static Run run(const std::vector<int32_t>& seq) {
    Run r;
    const int L = model_->config().numLayers;
    r.cap.requestAllLayers(core::Site::ResidPre, L).requestAllLayers(core::Site::AttnOut, L)
        .requestAllLayers(core::Site::ResidPost, L).storeAs(torch::kFloat32);
    auto ids = torch::tensor(std::vector<int64_t>(seq.begin(), seq.end()), torch::kInt64).view({1, -1});
    core::ForwardOptions fo;
    fo.computeLogits = false;
    r.final = model_->forward({ids, {}, {}}, nullptr, &r.cap, fo).finalHidden.to(torch::kFloat32);
    return r;
  }
  static inline test::TinyByteModel* tiny_ = nullptr;
  static inline std::shared_ptr<const core::LlamaModel> model_;
  static inline core::PreparedTask* prep_ = nullptr;
};

}  // namespace

TEST_F(PaperModes, ShortGptLastBlockReadsTheFinalNormOutput) {
  c10::InferenceMode guard;
  const int L = model_->config().numLayers;
  RedundancyParams p;
  p.semantics = Semantics::ShortGpt;
  p.angular = true;
  const auto sg = redundancy(in(), p);
  const auto ls = redundancy(in(), {});
  double simSum = 0, biSum = 0, midSum = 0;
  std::size_t tokens = 0;
  for (const auto& it : prep_->items) {
    auto r = run(it.prompt);
    auto sim = shortgptTokenSimilarity(r.cap.get(L - 1, core::Site::ResidPre)[0], r.final[0]);
    simSum += sim.sum().item<double>();
    biSum += shortgptTokenBi(sim, true).sum().item<double>();
    midSum += shortgptTokenSimilarity(r.cap.get(0, core::Site::ResidPre)[0], r.cap.get(0, core::Site::ResidPost)[0]).sum().item<double>();
    tokens += it.prompt.size();
  }
  EXPECT_NEAR(sg.block[L - 1], simSum / double(tokens), 1e-5);
  EXPECT_NEAR(sg.blockBi[L - 1], biSum / double(tokens), 1e-5);
  EXPECT_NEAR(sg.block[0], midSum / double(tokens), 1e-5);
  EXPECT_NEAR(sg.block[0], ls.block[0], 1e-5);             // no zero vectors: same per-token similarity
  EXPECT_GT(std::abs(sg.block[L - 1] - ls.block[L - 1]), 1e-3);  // LayerScope reads resid_post (no final norm)
}

TEST_F(PaperModes, LlmDropWithoutNormComparesNormalisedInputWithAttentionOutput) {
  c10::InferenceMode guard;
  RedundancyParams p;
  p.semantics = Semantics::LlmDrop;
  p.dropNorm = false;
  p.chunkTokens = 16;
  const auto r = redundancy(in(), p);
  const auto chunks = calibrationSequences(in(), p);
  ASSERT_GE(chunks.size(), 2u);
  torch::Tensor w;
  for (const auto& [name, t] : model_->namedWeights())
    if (name == core::hfInputNorm(1)) w = t;
  double sum = 0;
  std::size_t tokens = 0;
  for (const auto& c : chunks) {
    EXPECT_EQ(c.size(), 16u);
    auto run1 = run(c);
    auto xn = rmsNormLike(run1.cap.get(1, core::Site::ResidPre)[0], w, model_->config().rmsNormEps);
    sum += torch::cosine_similarity(xn, run1.cap.get(1, core::Site::AttnOut)[0], -1).sum().item<double>();
    tokens += c.size();
  }
  EXPECT_EQ(r.tokens, tokens);
  EXPECT_NEAR(r.attn[1], sum / double(tokens), 1e-5);
  p.dropNorm = true;
  EXPECT_GT(std::abs(redundancy(in(), p).attn[1] - r.attn[1]), 1e-3);
}

TEST_F(PaperModes, AfclShuffleSeedsEachTokenAndSparesOnlyTheLastFedPosition) {
  c10::InferenceMode guard;
  std::vector<std::vector<int32_t>> seqs;
  core::BatchInfo b;
  for (size_t i = 0; i < 2; ++i) {
    seqs.push_back(prep_->items[i].prompt);
    seqs.back().insert(seqs.back().end(), prep_->items[i].continuations[0].begin(), prep_->items[i].continuations[0].end());
    b.item.push_back(i);
    b.promptLength.push_back(int(prep_->items[i].prompt.size()));
  }
  std::vector<const std::vector<int32_t>*> ptrs = {&seqs[0], &seqs[1]};
  auto pb = core::padRight(ptrs);
  b.inputIds = pb.ids, b.attentionMask = pb.mask, b.length = pb.length;
  const auto ctx = captureManipulationContext(in(), b, false);
  const int k = 2, L = model_->config().numLayers;
  auto iv = manipulationInterventions(ManipulationMode::Shuffle, k, b, ctx, 1, L, Semantics::Afcl);
  ASSERT_EQ(iv.replacements.size(), 1u);
  const auto& rep = iv.replacements[0];
  const int64_t D = ctx.base[size_t(k)].size(2);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t t = 0; t < pb.ids.size(1); ++t) {
      const bool expect = t < b.length[size_t(r)] - 1;  // the decision token and the answer too, not the last
      ASSERT_EQ(rep.mask[r][t].item<bool>(), expect) << r << "," << t;
      if (expect) {
        EXPECT_TRUE(torch::equal(rep.values[r][t], ctx.base[size_t(k)][r][t].index_select(0, afclShufflePermutation(D, k, t))));
      }
    }
  auto ours = manipulationInterventions(ManipulationMode::Shuffle, k, b, ctx, 1, L);
  EXPECT_FALSE(ours.replacements[0].mask[0][b.promptLength[0] - 1].item<bool>());  // LayerScope spares the decision token
}

TEST_F(PaperModes, SemanticsThatDoNotDefineAnAnalysisAreRejected) {
  auto eval = core::evaluate(*model_, tiny_->tokenizer(), *prep_, {.batchSize = 4});
  ModelTaskInputs with{model_.get(), &tiny_->tokenizer(), prep_, &eval};
  EXPECT_THROW(manipulate(with, {.mode = ManipulationMode::Random, .layers = {1}, .semantics = Semantics::LlmDrop}),
               InvalidArgument);
  EXPECT_THROW(dropPlan(with, {.plan = DropPlanKind::OneShot, .n = 1, .semantics = Semantics::Afcl}), InvalidArgument);
  EXPECT_THROW(dropPlan(with, {.plan = DropPlanKind::Iterative, .n = 1, .semantics = Semantics::ShortGpt}), InvalidArgument);
  EXPECT_THROW(redundancy(with, {.semantics = Semantics::Afcl}), InvalidArgument);
}

TEST_F(PaperModes, ConsecutivePlanDropsTheBlocksItsSimilarityColumnPicks) {
  auto eval = core::evaluate(*model_, tiny_->tokenizer(), *prep_, {.batchSize = 4});
  ModelTaskInputs with{model_.get(), &tiny_->tokenizer(), prep_, &eval};
  for (auto s : {Semantics::LayerScope, Semantics::LlmDrop}) {
    DropParams p{.plan = DropPlanKind::Consecutive, .n = 1, .module = "block", .timingRepeats = 1, .semantics = s};
    const auto d = dropPlan(with, p);
    RedundancyParams rp;
    rp.semantics = s;
    const int begin = consecutiveBlockStart(blockSimilarityMatrix(with, rp), 1, s == Semantics::LlmDrop);
    ASSERT_EQ(d.dropped.size(), 2u);
    EXPECT_EQ(d.dropped[0].layer, begin);
    EXPECT_EQ(d.dropped[1].layer, begin);
  }
  const auto r = dropPlan(with, {.plan = DropPlanKind::IterativeJoint, .n = 3, .timingRepeats = 1, .semantics = Semantics::LlmDrop});
  EXPECT_EQ(r.dropped.size(), 3u);
}
