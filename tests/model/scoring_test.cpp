// Task scoring (core/model/scoring.h, docs/methods.md section 9): lm-eval-harness context/continuation split, BOS never
// doubled, acc_norm by UTF-8 bytes, batched log-likelihoods equal an unbatched direct computation, batched
// greedy decoding equals a one-item greedy loop, answer normalisation and extraction.
#include <gtest/gtest.h>

#include <tuple>

#include "core/text/byte_tokenizer.h"
#include "core/model/model.h"
#include "core/model/random_checkpoint.h"
#include "core/model/scoring.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"

using namespace layerscope;
using namespace layerscope::core;

namespace {

class Scoring : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tiny_ = new test::TinyByteModel(test::byteConfig(), {.seed = 5, .weightStd = 0.3});
    model_ = tiny_->load(torch::kFloat32);
    tok_ = &tiny_->tokenizer();
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete tiny_;
  }
  static std::vector<int32_t> bytes(const std::string& s) { return std::vector<int32_t>(s.begin(), s.end()); }
  static inline test::TinyByteModel* tiny_ = nullptr;
  static inline std::shared_ptr<const LlamaModel> model_;
  static inline const Tokenizer* tok_ = nullptr;
};

}  // namespace

TEST_F(Scoring, ContextTrailingSpaceMovesToTheContinuation) {
  // lm-eval-harness _encode_pair: context "Q: x " + continuation "y" scores " y" after "Q: x".
  auto p = encodePair(*tok_, "Q: x ", "y");
  std::vector<int32_t> ctx = {kByteBos};
  for (char ch : std::string("Q: x")) ctx.push_back(int32_t(ch));
  EXPECT_EQ(p.context, ctx);
  EXPECT_EQ(p.continuation, bytes(" y"));
}

TEST_F(Scoring, BosIsNeverDoubled) {
  auto p = encodePair(*tok_, "<|bos|>Q:", " a");
  ASSERT_GE(p.context.size(), 2u);
  EXPECT_EQ(p.context[0], kByteBos);
  EXPECT_NE(p.context[1], kByteBos);
  EXPECT_EQ(p.context.size(), 3u);  // BOS, 'Q', ':'
  auto q = encodePair(*tok_, "Q:", " a");
  EXPECT_EQ(q.context, p.context);
}

TEST_F(Scoring, BatchedLogLikelihoodsEqualDirectComputation) {
  Task t;
  t.name = "direct";
  t.items = std::vector<McItem>{{"a", "abc:", {" x", " yy", " zzz"}, 1}, {"b", "a much longer prompt here:", {" q", " rr"}, 0},
                                {"c", "k:", {" 1", " 22"}, 1}};
  auto prep = prepareTask(*tok_, t);
  ScoringOptions so;
  so.batchSize = 3;  // mixes items of different lengths in one padded batch
  auto res = evaluate(*model_, *tok_, prep, so);
  c10::InferenceMode guard;
  for (size_t i = 0; i < prep.items.size(); ++i)
    for (size_t c = 0; c < prep.items[i].continuations.size(); ++c) {
      std::vector<int64_t> seq(prep.items[i].prompt.begin(), prep.items[i].prompt.end());
      const auto& cont = prep.items[i].continuations[c];
      seq.insert(seq.end(), cont.begin(), cont.end());
      auto ids = torch::tensor(seq, torch::kInt64).view({1, -1});
      auto lp = torch::log_softmax(model_->forward({ids, {}, {}}).logits[0].to(torch::kFloat64), -1);  // [T,V]
      double ll = 0;
      const size_t P = prep.items[i].prompt.size();
      for (size_t j = 0; j < cont.size(); ++j) ll += lp[int64_t(P - 1 + j)][cont[j]].item<double>();
      EXPECT_NEAR(res.items[i].loglik[c], ll, 1e-4) << "item " << i << " choice " << c;
    }
}

namespace {

// Multiple-choice and pairs items whose prompts cross the forward's 64-row query blocks, with continuations of
// 1 to 9 tokens, so one batch mixes packed rows of very different lengths.
Task longPromptTask(TaskKind kind) {
  Task t;
  t.name = "packed";
  std::vector<McItem> mc;
  std::vector<PairItem> pairs;
  for (int i = 0; i < 7; ++i) {
    std::string prompt = std::string("item ").append(std::to_string(i)).append(":");
    for (int r = 0; r < 9 * i + 3; ++r) prompt += char('a' + (r * 7 + i) % 26);
    prompt += "?";
    std::vector<std::string> choices;
    // append, not "x" + std::string(...): g++ 12 reports a false -Wstringop-overflow on that insert
    for (int c = 0; c <= i % 4 + 1; ++c) choices.push_back(std::string(" ").append(size_t(1 + (c * 3 + i) % 9), char('p' + c)));
    mc.push_back({std::string("m").append(std::to_string(i)), prompt, choices, size_t(i % choices.size())});
    pairs.push_back({std::string("p").append(std::to_string(i)), prompt, choices[0], choices[1]});
  }
  if (kind == TaskKind::Pairs) t.items = pairs;
  else t.items = mc;
  return t;
}

void expectSameLoglik(const EvalResult& a, const EvalResult& b, double tol, const std::string& what) {
  ASSERT_EQ(a.items.size(), b.items.size());
  for (size_t i = 0; i < a.items.size(); ++i) {
    ASSERT_EQ(a.items[i].loglik.size(), b.items[i].loglik.size());
    for (size_t c = 0; c < a.items[i].loglik.size(); ++c)
      EXPECT_NEAR(a.items[i].loglik[c], b.items[i].loglik[c], tol * std::max(1.0, std::abs(b.items[i].loglik[c])))
          << what << ": item " << i << " continuation " << c;
    EXPECT_EQ(a.items[i].predicted, b.items[i].predicted) << what << ": item " << i;
  }
}

}  // namespace

TEST_F(Scoring, SharedPromptRowsEqualOneRowPerRequest) {
  // The packed layout (each continuation reads the prompt and itself through the key mask) against
  // lm-evaluation-harness's one row per request: float64 to summation order, float32 to its rounding.
  auto f64 = tiny_->load(torch::kFloat64);
  for (TaskKind kind : {TaskKind::MultipleChoice, TaskKind::Pairs}) {
    auto prep = prepareTask(*tok_, longPromptTask(kind));
    for (int batch : {1, 3, 8}) {
      ScoringOptions shared, perRequest;
      shared.batchSize = perRequest.batchSize = batch;
      perRequest.sharePrompt = false;
      const std::string what = std::string(kind == TaskKind::Pairs ? "pairs" : "mc") + ", batch " + std::to_string(batch);
      auto a = evaluate(*f64, *tok_, prep, shared), b = evaluate(*f64, *tok_, prep, perRequest);
      EXPECT_TRUE(a.sharedPrompt);
      EXPECT_FALSE(b.sharedPrompt);
      EXPECT_LT(a.forwardPasses, b.forwardPasses) << what;
      expectSameLoglik(a, b, 1e-12, what + ", float64");
      expectSameLoglik(evaluate(*model_, *tok_, prep, shared), evaluate(*model_, *tok_, prep, perRequest), 2e-5,
                       what + ", float32");
    }
  }
}

TEST_F(Scoring, FixedInterventionsShareThePromptUnlessTheyReadTheLayout) {
  auto prep = prepareTask(*tok_, longPromptTask(TaskKind::MultipleChoice));
  const auto& c = model_->config();
  Interventions iv;  // layout-free: RoPE multipliers per KV head, a skipped MLP, a LoRA slot on q
  iv.ropeAlpha.assign(size_t(c.numLayers), torch::Tensor());
  iv.ropeAlpha[0] = torch::tensor({0.5, 2.0}, torch::kFloat32);
  iv.skipMlp.assign(size_t(c.numLayers), false);
  iv.skipMlp[1] = true;
  iv.lora.assign(size_t(c.numLayers), {});
  torch::manual_seed(3);
  iv.lora[2][int(Proj::Q)] = {torch::randn({2, c.hiddenSize}) * 0.3, torch::randn({c.numHeads * c.headDim, 2}) * 0.3, 2.0, 0.0};
  ScoringOptions so;
  so.batchSize = 4;
  auto fixed = evaluateFixed(*model_, *tok_, prep, so, iv);
  auto hooked = evaluate(*model_, *tok_, prep, so, nullptr, [&](const BatchInfo&, int) { return iv; });
  EXPECT_TRUE(fixed.sharedPrompt);
  EXPECT_FALSE(hooked.sharedPrompt);  // a hook may read the layout
  expectSameLoglik(fixed, hooked, 2e-5, "fixed interventions");
  auto base = evaluate(*model_, *tok_, prep, so);
  EXPECT_GT(std::abs(fixed.items[3].loglik[0] - base.items[3].loglik[0]), 1e-3) << "the interventions changed nothing";

  Interventions rows;  // per-row multipliers depend on the row layout: one row per request
  rows.ropeAlpha.assign(size_t(c.numLayers), torch::Tensor());
  so.batchSize = 1;
  rows.ropeAlpha[0] = torch::ones({1, c.numKvHeads});
  EXPECT_FALSE(evaluateFixed(*model_, *tok_, prep, so, rows).sharedPrompt);
}

TEST_F(Scoring, DecisionStatesEqualAPromptOnlyForward) {
  // keepDecisionStates: resid_post of every layer at each item's last prompt token, from the evaluation's own rows
  // (shared prompt, one row per request, short-answer decoding), against a forward of the prompt alone.
  const int L = model_->config().numLayers;
  Task shortTask;
  shortTask.name = "short";
  std::vector<ShortItem> sa;
  for (int i = 0; i < 5; ++i)
    sa.push_back({std::string("s").append(std::to_string(i)), std::string("say ").append(size_t(10 + 17 * i), 'x').append(":"), " y"});
  shortTask.items = sa;
  for (const auto& [what, task, share] : std::vector<std::tuple<std::string, Task, bool>>{
           {"shared prompt", longPromptTask(TaskKind::MultipleChoice), true},
           {"one row per request", longPromptTask(TaskKind::Pairs), false},
           {"short answer", shortTask, true}}) {
    auto prep = prepareTask(*tok_, task);
    ScoringOptions so;
    so.batchSize = 3;
    so.sharePrompt = share;
    so.maxNewTokens = 2;
    so.keepDecisionStates = true;
    auto res = evaluate(*model_, *tok_, prep, so);
    ASSERT_EQ(res.decisionStates.size(), size_t(L)) << what;
    c10::InferenceMode guard;
    for (size_t i = 0; i < prep.items.size(); ++i) {
      const auto& p = prep.items[i].prompt;
      TensorCapture cap;
      cap.requestAllLayers(Site::ResidPost, L);
      model_->forward({torch::tensor(std::vector<int64_t>(p.begin(), p.end()), torch::kInt64).view({1, -1}), {}, {}}, nullptr, &cap);
      for (int l = 0; l < L; ++l) {
        // float32 rounding of rows of other lengths: relative to the state's largest entry
        auto expected = cap.get(l, Site::ResidPost)[0][int64_t(p.size()) - 1];
        const double diff = (res.decisionStates[size_t(l)][int64_t(i)] - expected).abs().max().item<double>();
        EXPECT_LE(diff, 2e-6 * expected.abs().max().item<double>()) << what << ": item " << i << " layer " << l;
      }
    }
    so.keepDecisionStates = false;
    EXPECT_TRUE(evaluate(*model_, *tok_, prep, so).decisionStates.empty()) << what;
    so.keepDecisionStates = true;  // a hook's rows are not the base model's
    EXPECT_TRUE(evaluate(*model_, *tok_, prep, so, nullptr, [](const BatchInfo&, int) { return Interventions(); })
                    .decisionStates.empty()) << what;
  }
}

TEST_F(Scoring, KeyMaskIsCheckedAndRestrictsKeys) {
  auto ids = torch::tensor({{1, 2, 3, 4}}, torch::kInt64);
  ForwardOptions bad;
  bad.keyMask = torch::ones({1, 4, 3}, torch::kBool);
  EXPECT_THROW(model_->forward({ids, {}, {}}, nullptr, nullptr, bad), InvalidArgument);
  // Keys 1 and 2 hidden from query 3: its logits equal those of the sequence without them, at its own position.
  ForwardOptions fo;
  fo.keyMask = torch::ones({1, 4, 4}, torch::kBool);
  fo.keyMask[0][3][1] = false, fo.keyMask[0][3][2] = false;
  c10::InferenceMode guard;
  auto masked = model_->forward({ids, {}, {}}, nullptr, nullptr, fo).logits[0][3];
  auto alone = model_->forward({torch::tensor({{1, 4}}, torch::kInt64), {}, torch::tensor({{0, 3}}, torch::kInt64)})
                   .logits[0][1];
  EXPECT_TRUE(torch::allclose(masked, alone, 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(masked, model_->forward({ids, {}, {}}).logits[0][3], 1e-3, 1e-3));
}

TEST_F(Scoring, AccNormDividesByUtf8BytesNotCharacters) {
  // Choice 0 is 3 characters in 6 bytes, choice 1 is 3 ASCII bytes. Byte-level tokens: log-likelihoods add
  // up per byte, so dividing by characters would almost always prefer the shorter byte string.
  std::vector<McItem> items;
  for (int i = 0; i < 12; ++i)
    items.push_back({std::string("n").append(std::to_string(i)), std::string("item ").append(std::to_string(i * 7)).append(":"),
                     {" \xC3\xA9\xC3\xA9", " abc"}, 0});
  Task t;
  t.name = "utf8";
  t.items = items;
  auto prep = prepareTask(*tok_, t);
  auto res = evaluate(*model_, *tok_, prep, {});
  int differsFromCharRule = 0;
  for (const auto& r : res.items) {
    const double b0 = r.loglik[0] / 5.0, b1 = r.loglik[1] / 4.0;  // " éé" = 5 bytes, " abc" = 4 bytes
    const double c0 = r.loglik[0] / 3.0, c1 = r.loglik[1] / 4.0;  // characters: 3 and 4
    EXPECT_EQ(r.predictedNorm, b1 > b0 ? 1 : 0) << r.id;
    differsFromCharRule += (b1 > b0 ? 1 : 0) != (c1 > c0 ? 1 : 0);
  }
  EXPECT_GT(differsFromCharRule, 0) << "test data does not separate the byte and character rules";
}

TEST_F(Scoring, BatchedGreedyDecodingEqualsOneItemLoop) {
  Task t;
  t.name = "short";
  t.items = std::vector<ShortItem>{{"s1", "abc", "x"}, {"s2", "a longer prompt", "y"}, {"s3", "zz", "z"}};
  auto prep = prepareTask(*tok_, t);
  ScoringOptions so;
  so.batchSize = 3;
  so.maxNewTokens = 6;
  so.stopString = "";  // decode all 6 steps
  auto res = evaluate(*model_, *tok_, prep, so);
  c10::InferenceMode guard;
  for (size_t i = 0; i < prep.items.size(); ++i) {
    std::vector<int64_t> seq(prep.items[i].prompt.begin(), prep.items[i].prompt.end());
    std::vector<int32_t> gen;
    for (int s = 0; s < 6; ++s) {
      auto ids = torch::tensor(seq, torch::kInt64).view({1, -1});
      auto logits = model_->forward({ids, {}, {}}).logits[0][int64_t(seq.size()) - 1];
      const int64_t next = logits.narrow(0, 0, kByteVocabSize).argmax().item<int64_t>();
      if (next == kByteEos) break;
      gen.push_back(int32_t(next));
      seq.push_back(next);
    }
    EXPECT_EQ(res.items[i].generated, tok_->decode(gen, true)) << prep.items[i].id;
  }
}

TEST(ScoringText, NormalisationAndExtraction) {
  EXPECT_EQ(normaliseAnswer("  The  Answer\n is 42 "), "the answer is 42");
  EXPECT_EQ(extractAnswer("so it is 1,234. then 56.", AnswerExtraction::LastNumber), "56");
  EXPECT_EQ(extractAnswer("total 1,234.", AnswerExtraction::LastNumber), "1234");
  EXPECT_EQ(extractAnswer("x = -7", AnswerExtraction::LastNumber), "-7");
  EXPECT_EQ(extractAnswer("thus \\boxed{\\frac{1}{2}} done", AnswerExtraction::Boxed), "\\frac{1}{2}");
  EXPECT_EQ(extractAnswer(" 803", AnswerExtraction::None), "803");
  EXPECT_THROW(parseAnswerExtraction("bogus"), InvalidArgument);
}
