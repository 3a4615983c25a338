// Greedy generation with stop sequences (core/model/generation.h) on a tiny random byte-level model: batched
// generation equals a one-prompt argmax loop written here, and a stop sequence taken from that unstopped text cuts
// the continuation right before its first occurrence.
#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/model/generation.h"
#include "tests/common/tiny_model.h"

namespace layerscope::core {
namespace {

class Generation_ : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tiny_ = new test::TinyByteModel(test::byteConfig(), {.seed = 11, .weightStd = 0.3});
    model_ = tiny_->load(torch::kFloat32);
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete tiny_;
  }
  // The reference: one prompt at a time, full forward per step, argmax over the byte vocabulary.
  static std::string loop(const std::string& prompt, int steps) {
    c10::InferenceMode guard;
    const auto& tok = tiny_->tokenizer();
    auto ids32 = tok.encode(prompt, {.addSpecialTokens = true});
    std::vector<int64_t> seq(ids32.begin(), ids32.end());
    std::vector<int32_t> gen;
    for (int s = 0; s < steps; ++s) {
      auto ids = torch::tensor(seq, torch::kInt64).view({1, -1});
      auto logits = model_->forward({ids, {}, {}}).logits[0][int64_t(seq.size()) - 1];
      const int64_t next = logits.narrow(0, 0, kByteVocabSize).argmax().item<int64_t>();
      if (next == kByteEos) break;
      gen.push_back(int32_t(next));
      seq.push_back(next);
    }
    return tok.decode(gen, true);
  }
  static inline test::TinyByteModel* tiny_ = nullptr;
  static inline std::shared_ptr<const LlamaModel> model_;
};

TEST_F(Generation_, BatchedGreedyEqualsOnePromptLoopAndStopsCut) {
  const std::vector<std::string> prompts = {"def add(a, b):\n", "x", "a somewhat longer prompt here"};
  GenerationOptions opt;
  opt.stopSequences = {};
  opt.maxNewTokens = 16;
  opt.batchSize = 2;
  const auto free = generateGreedy(*model_, tiny_->tokenizer(), prompts, opt);
  ASSERT_EQ(free.size(), 3u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(free[i].text, loop(prompts[i], 16)) << i;
    EXPECT_EQ(free[i].stop, free[i].tokens == 16 ? "max_tokens" : "<eos>");
  }
  // Stop sequences taken from inside the unstopped text: the continuation ends right before the first occurrence.
  ASSERT_GE(free[0].text.size(), 8u) << "the random model ended too early to test stops";
  const std::string stop = free[0].text.substr(5, 2);
  opt.stopSequences = {"never-appears", stop};
  const auto cut = generateGreedy(*model_, tiny_->tokenizer(), {prompts[0]}, opt);
  EXPECT_EQ(cut[0].text, free[0].text.substr(0, free[0].text.find(stop)));
  EXPECT_EQ(cut[0].stop, stop);
  EXPECT_LE(cut[0].tokens, 7);
}

TEST_F(Generation_, StopsAtTheContextAndRefusesPromptsThatFillIt) {
  GenerationOptions opt;
  opt.stopSequences = {};
  opt.maxNewTokens = 250;  // byteConfig: 256 positions; the prompt takes 250
  const auto g = generateGreedy(*model_, tiny_->tokenizer(), {std::string(250, 'a')}, opt);
  ASSERT_NE(g[0].stop, "max_tokens");
  if (g[0].stop != "<eos>") {
    EXPECT_EQ(g[0].stop, "context");
    EXPECT_EQ(g[0].tokens, 256 - int(tiny_->tokenizer().encode(std::string(250, 'a'), {.addSpecialTokens = true}).size()));
  }
  EXPECT_THROW(generateGreedy(*model_, tiny_->tokenizer(), {std::string(256, 'a')}, opt), InvalidArgument);
  opt.maxNewTokens = 0;
  EXPECT_THROW(generateGreedy(*model_, tiny_->tokenizer(), {"a"}, opt), InvalidArgument);
}

TEST(GenerationStops, EarliestOfSeveralAndHumanEvalDefaults) {
  const auto stops = humanEvalStopSequences();
  ASSERT_EQ(stops.size(), 5u);
  const std::string text = "    return a + b\n\n\nprint(add(1, 2))\ndef g():\n";
  const auto [at, which] = findEarliestStop(text, stops);
  EXPECT_EQ(at, text.find("\nprint"));
  EXPECT_EQ(stops[size_t(which)], "\nprint");
  EXPECT_EQ(findEarliestStop("    return 1\n", stops).second, -1);
  EXPECT_EQ(findEarliestStop("x\n#y", {"", "\n#"}).first, 1u);
}

}  // namespace
}  // namespace layerscope::core
