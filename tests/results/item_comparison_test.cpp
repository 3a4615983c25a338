// items.jsonl reader, the prompt join with the task file, and the item-by-item comparison statistics against
// independent reference values.
//
// Reference values: /usr/bin/python3 with scipy 1.10.1, computed independently of this code:
//   p  = scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue          (exact McNemar; statsmodels' mcnemar(exact=True)
//                                                                     is the same binomial test)
//   CI = Newcombe (1998, Stat Med 17:873, method 10) with the Wilson intervals from
//        scipy.stats.binomtest(x, n).proportion_ci(method='wilson') and phi = (ad - bc) / sqrt((a+b)(c+d)(a+c)(b+d))
// for the table a = both correct, b = only A correct, c = only B correct, d = both wrong; difference = acc(B) - acc(A).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "results/item_comparison.h"
#include "tests/common/test_util.h"

using namespace layerscope;
using results::ItemRecord;

namespace {

// Items with ids 0..n-1 whose correctness in A and B follows the table (a, b, c, d).
std::pair<std::vector<ItemRecord>, std::vector<ItemRecord>> table(int a, int b, int c, int d) {
  std::vector<ItemRecord> A, B;
  int id = 0;
  auto add = [&](int count, bool ca, bool cb) {
    for (int i = 0; i < count; ++i, ++id) {
      ItemRecord ra, rb;
      ra.id = rb.id = "item-" + std::to_string(id);
      ra.correct = ca;
      rb.correct = cb;
      A.push_back(ra);
      B.push_back(rb);
    }
  };
  add(a, true, true);
  add(b, true, false);
  add(c, false, true);
  add(d, false, false);
  return {A, B};
}

struct Reference {
  int a, b, c, d;
  double p, diff, low, high;
};

// Printed by the scipy script described at the top of this file.
const Reference kReferences[] = {
    {36, 2, 12, 0, 0.012939453125, 0.2, 0.0569295840032, 0.340427602975},
    {36, 12, 2, 0, 0.012939453125, -0.2, -0.340427602975, -0.0569295840032},
    {100, 7, 15, 78, 0.133800506592, 0.04, -0.00547122726266, 0.0850206271277},
    {50, 0, 0, 50, 1.0, 0.0, 0.0, 0.0},
    {10, 3, 3, 4, 1.0, 0.0, -0.22510900894, 0.22510900894},
    {400, 25, 50, 25, 0.00522824300401, 0.05, 0.0163153722034, 0.0843469286153},
    {5, 0, 5, 0, 0.0625, 0.5, 0.11736746745, 0.763406909487},
};

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string readError(const std::string& text) {
  test::TempDir d;
  write(d / "items.jsonl", text);
  try {
    results::readItemsJsonl(d / "items.jsonl");
  } catch (const results::ResultsError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ItemComparison, McNemarAndNewcombeIntervalMatchScipy) {
  for (const auto& r : kReferences) {
    auto [A, B] = table(r.a, r.b, r.c, r.d);
    const auto c = results::compareItems(A, B, "base", "adapter");
    SCOPED_TRACE(testing::Message() << r.a << "," << r.b << "," << r.c << "," << r.d);
    EXPECT_EQ(c.paired, r.a + r.b + r.c + r.d);
    EXPECT_EQ(c.bothCorrect, r.a);
    EXPECT_EQ(c.onlyA, r.b);
    EXPECT_EQ(c.onlyB, r.c);
    EXPECT_EQ(c.bothWrong, r.d);
    EXPECT_EQ(int(c.brokenIds.size()), r.b);
    EXPECT_EQ(int(c.fixedIds.size()), r.c);
    EXPECT_NEAR(c.mcnemarP, r.p, 1e-10);
    EXPECT_NEAR(c.difference, r.diff, 1e-12);
    EXPECT_NEAR(c.ci.low, r.low, 1e-9);
    EXPECT_NEAR(c.ci.high, r.high, 1e-9);
  }
}

TEST(ItemComparison, ExactMcNemarForLargeCounts) {
  // scipy.stats.binomtest(480, 1000, 0.5).pvalue = 0.2174482932041409; binomtest(0, 2000, .5).pvalue = 0.0 (underflow).
  EXPECT_NEAR(results::mcnemarExactP(480, 520), 0.2174482932041409, 1e-9);
  EXPECT_LT(results::mcnemarExactP(0, 2000), 1e-300);
  EXPECT_EQ(results::mcnemarExactP(0, 0), 1.0);
}

TEST(ItemComparison, PairsByIdAndCountsUnpairedItems) {
  auto [A, B] = table(3, 1, 2, 1);
  std::reverse(B.begin(), B.end());  // order does not matter, ids do
  ItemRecord extra;
  extra.id = "only-in-b";
  B.push_back(extra);
  A.erase(A.begin());  // item-0 only in B now
  const auto c = results::compareItems(A, B);
  EXPECT_EQ(c.paired, 6);
  EXPECT_EQ(c.onlyInA, 0);
  EXPECT_EQ(c.onlyInB, 2);
  EXPECT_EQ(c.fixedIds, (std::vector<std::string>{"item-4", "item-5"}));
  EXPECT_EQ(c.brokenIds, (std::vector<std::string>{"item-3"}));
  EXPECT_NE(c.summary().find("2 fixed / 1 broken"), std::string::npos) << c.summary();
  // No shared id: a clear error, not a comparison of nothing.
  std::vector<ItemRecord> other(1);
  other[0].id = "x";
  EXPECT_THROW(results::compareItems(A, other), results::ResultsError);
}

TEST(ItemsReader, ReadsFieldsScoresAndJoinsPrompts) {
  test::TempDir d;
  write(d / "items.jsonl",
        R"({"id":"q1","correct":true,"prediction":" b","gold":" b","loglik":[-3.0,-0.5,-2.0],"correct_norm":false,"predicted":1,"decision_position":12,"completion_tokens":2})"
        "\n\n"
        R"({"id":"q2","correct":false,"prediction":" a","gold":" c","loglik":[-1.0,-4.0,null],"predicted":0,"decision_position":9,"completion_tokens":2})"
        "\n");
  write(d / "task.jsonl",
        R"({"id":"q1","prompt":"first prompt A:","choices":[" a"," b"," c"],"answer":1})"
        "\n"
        R"({"id":"q2","prompt":"second prompt A:","choices":[" a"," b"," c"],"answer":2})"
        "\n");
  write(d / "scores.json", R"({"task": {"path": ")" + (d / "task.jsonl").string() + R"("}})");
  const auto set = results::readItemsOfResults(d.path());
  ASSERT_EQ(set.items.size(), 2u);
  EXPECT_EQ(set.scoreKeys, (std::vector<std::string>{"completion_tokens", "decision_position"}));
  EXPECT_DOUBLE_EQ(set.accuracy(), 0.5);
  EXPECT_EQ(set.maxChoices(), 3);
  EXPECT_TRUE(set.promptNote.empty()) << set.promptNote;
  const auto& q1 = set.items[0];
  EXPECT_EQ(q1.prompt, "first prompt A:");
  EXPECT_EQ(q1.goldIndex, 1);
  EXPECT_EQ(q1.predicted, 1);
  EXPECT_EQ(q1.correctNorm, std::optional<bool>(false));
  EXPECT_DOUBLE_EQ(q1.scores.at("decision_position"), 12);
  EXPECT_DOUBLE_EQ(q1.margin(), -0.5 - -2.0);
  EXPECT_TRUE(std::isnan(set.items[1].loglik[2]));
  EXPECT_TRUE(std::isnan(set.items[1].margin()));  // the gold choice's log-likelihood is unknown
}

TEST(ItemsReader, MissingTaskFileIsANoteNotAnError) {
  test::TempDir d;
  write(d / "items.jsonl", R"({"id":"q1","correct":true,"loglik":[-1,-2]})" "\n");
  auto set = results::readItemsJsonl(d / "items.jsonl");
  results::attachPrompts(set, d / "gone.jsonl");
  EXPECT_NE(set.promptNote.find("not found"), std::string::npos);
  EXPECT_TRUE(set.items[0].prompt.empty());
}

TEST(ItemsReader, MalformedLinesNameFileAndLine) {
  EXPECT_NE(readError("{\"id\":\"a\",\"correct\":true}\nnot json\n").find("line 2"), std::string::npos);
  EXPECT_NE(readError("{\"id\":\"a\"}\n").find("correct"), std::string::npos);
  EXPECT_NE(readError("{\"id\":\"a\",\"correct\":1}\n").find("expected true or false"), std::string::npos);
  EXPECT_NE(readError("{\"id\":\"a\",\"correct\":true}\n{\"id\":\"a\",\"correct\":false}\n").find("twice"), std::string::npos);
  EXPECT_NE(readError("{\"id\":\"a\",\"correct\":true,\"loglik\":\"x\"}\n").find("loglik"), std::string::npos);
  EXPECT_NE(readError("\n").find("holds no items"), std::string::npos);
  EXPECT_NE(readError("[1]\n").find("expected a JSON object"), std::string::npos);
}
