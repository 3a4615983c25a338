// Task scoring (core/model/scoring.h, docs/methods.md section 9): lm-eval-harness context/continuation split, BOS never
// doubled, acc_norm by UTF-8 bytes, batched log-likelihoods equal an unbatched direct computation, batched
// greedy decoding equals a one-item greedy loop, answer normalisation and extraction.
#include <gtest/gtest.h>

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

TEST_F(Scoring, AccNormDividesByUtf8BytesNotCharacters) {
  // Choice 0 is 3 characters in 6 bytes, choice 1 is 3 ASCII bytes. Byte-level tokens: log-likelihoods add
  // up per byte, so dividing by characters would almost always prefer the shorter byte string.
  std::vector<McItem> items;
  for (int i = 0; i < 12; ++i)
    items.push_back({"n" + std::to_string(i), "item " + std::to_string(i * 7) + ":", {" \xC3\xA9\xC3\xA9", " abc"}, 0});
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
