// Demo task-suite generator (core/data/task_suite.h): PRNG reference values, determinism, gold answers recomputed
// independently from the prompt text, length budgets, split disjointness of eval and training text, and the
// bundled resources/tasks/demo files being exactly what the recorded command produces.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "core/data/dataset.h"
#include "core/base/error.h"
#include "core/data/task_suite.h"

namespace fs = std::filesystem;
using namespace layerscope;
using namespace layerscope::core;

namespace {

std::vector<std::string> splitSpaces(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

/// The gold answer (with its leading space) computed from the prompt text alone, without the generator.
std::string recomputeAnswer(TaskFamily family, const std::string& prompt) {
  std::smatch m;
  switch (family) {
    case TaskFamily::KvRecall: {
      static const std::regex re(R"(^recall: ((?:[a-z]=[0-9] )*[a-z]=[0-9])\. ([a-z])\? A:$)");
      if (!std::regex_match(prompt, m, re)) return "<no match>";
      std::map<std::string, std::string> kv;
      for (const auto& pair : splitSpaces(m[1].str())) {
        EXPECT_EQ(kv.count(pair.substr(0, 1)), 0u) << "duplicate key in " << prompt;
        kv[pair.substr(0, 1)] = pair.substr(2);
      }
      return kv.count(m[2].str()) ? " " + kv[m[2].str()] : "<key not in list>";
    }
    case TaskFamily::ListIndex: {
      static const std::regex re(R"(^list: ([a-z0-9 ]+)\. ([0-9]+)(st|nd|rd|th)\? A:$)");
      if (!std::regex_match(prompt, m, re)) return "<no match>";
      const auto items = splitSpaces(m[1].str());
      const int k = std::stoi(m[2].str());
      const std::string suffix = (k % 100 >= 11 && k % 100 <= 13) ? "th"
                                 : k % 10 == 1                    ? "st"
                                 : k % 10 == 2                    ? "nd"
                                 : k % 10 == 3                    ? "rd"
                                                                  : "th";
      EXPECT_EQ(m[3].str(), suffix) << prompt;
      return k >= 1 && k <= int(items.size()) ? " " + items[std::size_t(k - 1)] : "<index out of list>";
    }
    case TaskFamily::FirstOfTwo:
    case TaskFamily::LongFirst: {
      static const std::regex re(R"(^order: ([a-z0-9 ]+)\. ([a-z0-9]+) or ([a-z0-9]+) first\? A:$)");
      if (!std::regex_match(prompt, m, re)) return "<no match>";
      const auto items = splitSpaces(m[1].str());
      const auto a = std::find(items.begin(), items.end(), m[2].str());
      const auto b = std::find(items.begin(), items.end(), m[3].str());
      if (a == items.end() || b == items.end() || a == b) return "<items not in list>";
      return " " + (a < b ? m[2].str() : m[3].str());
    }
    case TaskFamily::Copy: {
      static const std::regex re(R"(^copy: ([a-z]+) A:$)");
      return std::regex_match(prompt, m, re) ? " " + m[1].str() : "<no match>";
    }
    case TaskFamily::Reverse: {
      static const std::regex re(R"(^reverse: ([a-z]+) A:$)");
      if (!std::regex_match(prompt, m, re)) return "<no match>";
      const std::string s = m[1].str();
      return " " + std::string(s.rbegin(), s.rend());
    }
    case TaskFamily::Add: {
      static const std::regex re(R"(^add: ([0-9]+)\+([0-9]+) A:$)");
      if (!std::regex_match(prompt, m, re)) return "<no match>";
      return " " + std::to_string(std::stoll(m[1].str()) + std::stoll(m[2].str()));
    }
  }
  return "<unknown family>";
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// Reference values: splitmix64 and xoshiro256** from prng.di.unimi.it, re-implemented independently in Python
// (arbitrary-precision ints masked to 64 bits); splitmix64(0) is also the well-known first output
// 0xe220a8397b1dcdaf. FNV-1a 64 vectors from the FNV reference test suite ("a", "foobar").
TEST(DataSuiteRng, MatchesIndependentReference) {
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(1), 0x910a2dec89025cc1ULL);
  SuiteRng rng(42);
  EXPECT_EQ(rng.next(), 0x15780b2e0c2ec716ULL);
  EXPECT_EQ(rng.next(), 0x6104d9866d113a7eULL);
  EXPECT_EQ(rng.next(), 0xae17533239e499a1ULL);
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(DataSuiteRng, BelowStaysInRangeAndHitsEveryValue) {
  SuiteRng rng(7);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const auto v = rng.below(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_GT(c, 800);  // expected 1000 each; 800 is > 6 sigma below
  for (int i = 0; i < 1000; ++i) {
    const int v = rng.range(-2, 2);
    ASSERT_GE(v, -2);
    ASSERT_LE(v, 2);
  }
}

TEST(DataSuite, SameSeedSameBytesDifferentSeedDifferentBytes) {
  SuiteRequest req;
  req.seed = 99;
  req.n = 40;
  const GeneratedSuite a = generateSuite(req);
  const GeneratedSuite b = generateSuite(req);
  req.seed = 100;
  const GeneratedSuite c = generateSuite(req);
  ASSERT_EQ(a.files.size(), taskFamilies().size() * 3);
  ASSERT_EQ(a.files.size(), c.files.size());
  EXPECT_EQ(a.manifest, b.manifest);
  for (std::size_t i = 0; i < a.files.size(); ++i) {
    EXPECT_EQ(a.files[i].contents, b.files[i].contents) << a.files[i].fileName;
    EXPECT_EQ(a.files[i].fingerprint, contentFingerprint(a.files[i].contents));
    EXPECT_NE(a.files[i].contents, c.files[i].contents) << a.files[i].fileName;
  }
  EXPECT_NE(a.manifest, c.manifest);
}

TEST(DataSuite, PrefixStableInN) {
  for (const auto& f : taskFamilies()) {
    const auto small = generateEvalInstances(f.family, 5, 30);
    const auto big = generateEvalInstances(f.family, 5, 120);
    for (std::size_t i = 0; i < small.size(); ++i) {
      EXPECT_EQ(small[i].prompt, big[i].prompt) << f.name;
      EXPECT_EQ(small[i].choices, big[i].choices) << f.name;
    }
  }
}

TEST(DataSuite, GoldAnswersMatchIndependentRecomputation) {
  for (const auto& f : taskFamilies()) {
    const std::size_t n = 300;
    const auto inst = generateEvalInstances(f.family, 2024, n);
    ASSERT_EQ(inst.size(), n);
    const Task mc = instancesToTask(inst, f.family, TaskKind::MultipleChoice);
    const Task sa = instancesToTask(inst, f.family, TaskKind::ShortAnswer);
    const Task pr = instancesToTask(inst, f.family, TaskKind::Pairs);
    std::set<std::string> prompts, ids;
    std::vector<int> answerCounts(8, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const std::string& prompt = mc.mc()[i].prompt;
      const std::string gold = recomputeAnswer(f.family, prompt);
      const McItem& m = mc.mc()[i];
      EXPECT_EQ(m.choices[m.answer], gold) << f.name << ": " << prompt;
      EXPECT_EQ(sa.shortAnswer()[i].target, gold) << prompt;
      EXPECT_EQ(pr.pairs()[i].correct, gold) << prompt;
      EXPECT_NE(pr.pairs()[i].incorrect, gold) << prompt;
      // The pairs' incorrect completion is one of the multiple-choice distractors.
      EXPECT_NE(std::find(m.choices.begin(), m.choices.end(), pr.pairs()[i].incorrect), m.choices.end());
      std::size_t wrongEqualToGold = 0;
      for (const auto& c : m.choices) {
        EXPECT_EQ(c[0], ' ') << "choice must start with a space: " << prompt;
        if (c == gold) ++wrongEqualToGold;
        if (f.family == TaskFamily::Copy || f.family == TaskFamily::Reverse) {
          // Every choice is a permutation of the gold, so no choice can be ruled out by its letters.
          std::string sc = c, sg = gold;
          std::sort(sc.begin(), sc.end());
          std::sort(sg.begin(), sg.end());
          EXPECT_EQ(sc, sg) << "copy/reverse choices are permutations of the gold: " << prompt << " ->" << c;
        }
      }
      EXPECT_EQ(wrongEqualToGold, 1u) << "exactly one choice equals the gold: " << prompt;
      EXPECT_EQ(m.choices.size(), f.family == TaskFamily::FirstOfTwo || f.family == TaskFamily::LongFirst ? 2u : 4u);
      EXPECT_EQ(prompt.substr(prompt.size() - 2), "A:");
      EXPECT_EQ(promptSplit(prompt), PromptSplit::Eval) << prompt;
      prompts.insert(prompt);
      ids.insert(m.id);
      ++answerCounts[m.answer];
    }
    EXPECT_EQ(prompts.size(), n) << f.name << ": eval prompts must be distinct";
    EXPECT_EQ(ids.size(), n);
    EXPECT_EQ(mc.mc()[7].id, std::string(f.name) + "-0007");
    // The gold position is uniform: every slot used, none dominating (expected n/k each).
    for (std::size_t k = 0; k < mc.mc()[0].choices.size(); ++k) {
      EXPECT_GT(answerCounts[k], int(n / mc.mc()[0].choices.size()) / 2) << f.name << " slot " << k;
    }
  }
}

TEST(DataSuite, FirstOfTwoGoldIsTheEarlierItemAndIncorrectTheLaterOne) {
  for (TaskFamily fam : {TaskFamily::FirstOfTwo, TaskFamily::LongFirst}) {
    for (const auto& inst : generateEvalInstances(fam, 3, 200)) {
      // Both completions already start with the space; the item is followed by a space or ". ".
      const std::size_t a = inst.prompt.find(inst.gold());
      const std::size_t b = inst.prompt.find(inst.incorrect);
      ASSERT_NE(a, std::string::npos);
      ASSERT_NE(b, std::string::npos);
      EXPECT_LT(a, b) << inst.prompt;
    }
  }
}

TEST(DataSuite, AddDistractorsAreNearMisses) {
  // Each wrong sum is within 100 of the true one or is the digit-wise sum without carries (computed here from
  // the digit strings), and the pairs' incorrect sum nearly always has the gold's digit count, so it cannot be
  // rejected on length alone.
  int sameLength = 0;
  const auto insts = generateEvalInstances(TaskFamily::Add, 8, 300);
  for (const auto& inst : insts) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(inst.prompt, m, std::regex(R"(^add: ([0-9]+)\+([0-9]+) A:$)")));
    std::string a = m[1].str(), b = m[2].str();
    const std::size_t w = std::max(a.size(), b.size());
    a.insert(0, w - a.size(), '0');
    b.insert(0, w - b.size(), '0');
    std::string noCarry;
    for (std::size_t i = 0; i < w; ++i) noCarry += char('0' + (a[i] - '0' + b[i] - '0') % 10);
    const long long sum = std::stoll(a) + std::stoll(b);
    for (const auto& c : inst.choices) {
      ASSERT_TRUE(std::regex_match(c, std::regex(R"(^ (0|[1-9][0-9]*)$)"))) << c;
      const long long v = std::stoll(c.substr(1));
      EXPECT_TRUE(std::llabs(v - sum) <= 100 || v == std::stoll(noCarry)) << inst.prompt << " ->" << c;
    }
    sameLength += inst.incorrect.size() == inst.gold().size();
  }
  EXPECT_GE(sameLength, int(insts.size() * 9 / 10));
}

TEST(DataSuite, LengthBudgetsForTheBytePretrainingContext) {
  // Short families: prompt + answer + "\n" must fit 128 tokens with BOS and EOS (1 token per byte).
  // LongFirst: prompts longer than the 128-byte context, at most 300 bytes.
  for (const auto& f : taskFamilies()) {
    for (const auto& inst : generateEvalInstances(f.family, 11, 300)) {
      std::size_t longest = 0;
      for (const auto& c : inst.choices) longest = std::max(longest, c.size());
      for (unsigned char ch : inst.prompt) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << "ASCII only: " << inst.prompt;
      if (f.longContext) {
        EXPECT_GT(inst.prompt.size(), 128u) << inst.prompt;
        EXPECT_LE(inst.prompt.size() + longest, 300u) << inst.prompt;
      } else {
        EXPECT_LE(inst.prompt.size() + longest + 1, 126u) << inst.prompt;
      }
    }
  }
}

TEST(DataSuite, DifficultyKnobsAreHonoured) {
  TaskSuiteOptions o;
  o.kvPairs = {9, 9};
  o.stringLength = {5, 5};
  o.addDigits = {3, 3};
  o.numChoices = 3;
  for (const auto& inst : generateEvalInstances(TaskFamily::KvRecall, 1, 50, o)) {
    EXPECT_EQ(std::count(inst.prompt.begin(), inst.prompt.end(), '='), 9) << inst.prompt;
    EXPECT_EQ(inst.choices.size(), 3u);
  }
  for (const auto& inst : generateEvalInstances(TaskFamily::Reverse, 1, 50, o)) EXPECT_EQ(inst.gold().size(), 6u);
  std::regex re(R"(^add: [1-9][0-9]{2}\+[1-9][0-9]{2} A:$)");
  for (const auto& inst : generateEvalInstances(TaskFamily::Add, 1, 50, o)) EXPECT_TRUE(std::regex_match(inst.prompt, re));

  TaskSuiteOptions bad;
  bad.kvPairs = {5, 27};
  EXPECT_THROW(validateOptions(bad), InvalidArgument);
  bad = {};
  bad.stringLength = {6, 5};
  EXPECT_THROW(generateEvalInstances(TaskFamily::Copy, 1, 5, bad), InvalidArgument);
  bad = {};
  bad.numChoices = 1;
  EXPECT_THROW(validateOptions(bad), InvalidArgument);
}

TEST(DataSuite, FamilyNames) {
  for (const auto& f : taskFamilies()) EXPECT_EQ(taskFamilyFromName(f.name), f.family);
  EXPECT_THROW(taskFamilyFromName("kv"), InvalidArgument);
  EXPECT_EQ(taskKindFromName("pairs"), TaskKind::Pairs);
  EXPECT_THROW(taskKindFromName("mcq"), InvalidArgument);
  SuiteRequest req;
  req.suite = "mmlu";
  EXPECT_THROW(generateSuite(req), InvalidArgument);
}

TEST(DataTrainingText, DeterministicRandomAccessAndResumable) {
  TrainingTextStream a(5, TextSplit::Train), b(5, TextSplit::Train), c(6, TextSplit::Train);
  std::vector<std::string> seq;
  for (int i = 0; i < 50; ++i) seq.push_back(a.next());
  EXPECT_EQ(a.position(), 50u);
  int differ = 0;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(b.document(std::uint64_t(i)), seq[std::size_t(i)]);
    differ += c.document(std::uint64_t(i)) != seq[std::size_t(i)];
  }
  EXPECT_GT(differ, 45);
  b.seek(30);
  EXPECT_EQ(b.next(), seq[30]);
  EXPECT_EQ(b.family(30), a.family(30));
  for (std::uint64_t i = 0; i < 20; ++i) {
    const TrainingExample ex = a.example(i);
    EXPECT_EQ(ex.prompt + ex.completion, seq[i]);
    EXPECT_EQ(ex.prompt.substr(ex.prompt.size() - 2), "A:");
    EXPECT_EQ(ex.family, a.family(i));
  }
}

TEST(DataTrainingText, DocumentsAreCorrectAndNeverOverlapEvalOrEachOther) {
  // Eval prompts from several seeds: the split is by prompt hash, so no seed can produce an overlap.
  std::set<std::string> evalPrompts;
  for (std::uint64_t seed : {1234u, 1u, 2u})
    for (const auto& f : taskFamilies())
      for (const auto& inst : generateEvalInstances(f.family, seed, 200)) evalPrompts.insert(inst.prompt);

  std::map<TaskFamily, int> familyCounts;
  std::set<std::string> trainPrompts;
  TrainingTextStream train(1234, TextSplit::Train);
  TrainingTextStream heldout(1234, TextSplit::Heldout);
  const int kDocs = 12000;
  for (int i = 0; i < kDocs; ++i) {
    const std::string doc = train.document(std::uint64_t(i));
    ASSERT_EQ(doc.back(), '\n');
    const std::size_t cut = doc.rfind("A:") + 2;
    const std::string prompt = doc.substr(0, cut);
    const TaskFamily fam = train.family(std::uint64_t(i));
    EXPECT_EQ(doc.substr(cut, doc.size() - cut - 1), recomputeAnswer(fam, prompt)) << doc;
    EXPECT_LE(doc.size(), 126u) << doc;
    EXPECT_EQ(evalPrompts.count(prompt), 0u) << "training prompt is an eval prompt: " << prompt;
    EXPECT_EQ(promptSplit(prompt), PromptSplit::Train);
    trainPrompts.insert(prompt);
    ++familyCounts[fam];
  }
  // Demo mix: the six short families with equal weight, never the long-context one.
  EXPECT_EQ(familyCounts.count(TaskFamily::LongFirst), 0u);
  EXPECT_EQ(familyCounts.size(), 6u);
  for (const auto& [fam, count] : familyCounts) {
    EXPECT_GT(count, kDocs / 6 - 300) << familyInfo(fam).name;  // binomial sd ~41
    EXPECT_LT(count, kDocs / 6 + 300) << familyInfo(fam).name;
  }
  for (int i = 0; i < 2000; ++i) {
    const std::string doc = heldout.document(std::uint64_t(i));
    const std::string prompt = doc.substr(0, doc.rfind("A:") + 2);
    EXPECT_EQ(evalPrompts.count(prompt), 0u) << prompt;
    EXPECT_EQ(trainPrompts.count(prompt), 0u) << "held-out prompt also in train: " << prompt;
    EXPECT_EQ(promptSplit(prompt), PromptSplit::Heldout);
  }
}

// The bundled eval files are exactly what the recorded command (resources/tasks/demo/README.md) produces from the
// seed, n and knobs in the manifest, and they pass the loader.
TEST(DataBundledSuite, MatchesGeneratorAndLoads) {
  const fs::path dir = fs::path(LAYERSCOPE_SOURCE_DIR) / "resources" / "tasks" / "demo";
  ASSERT_TRUE(fs::exists(dir / "manifest.json")) << dir;
  const auto manifest = nlohmann::json::parse(readFile(dir / "manifest.json"));
  EXPECT_EQ(manifest.at("generator_version").get<int>(), kTaskSuiteVersion)
      << "generator changed: regenerate resources/tasks/demo with the command in its README";
  SuiteRequest req;
  req.seed = manifest.at("seed").get<std::uint64_t>();
  req.n = manifest.at("n").get<std::size_t>();
  for (const auto& [knob, value] : manifest.at("options").items()) {  // difficulty knobs recorded in the manifest
    const std::string text = value.is_array() ? std::to_string(value[0].get<int>()) + "-" + std::to_string(value[1].get<int>())
                                              : std::to_string(value.get<int>());
    setKnob(req.options, knob, text);
  }
  const GeneratedSuite suite = generateSuite(req);
  EXPECT_EQ(readFile(dir / "manifest.json"), suite.manifest);
  for (const auto& f : suite.files) {
    EXPECT_EQ(readFile(dir / f.fileName), f.contents) << f.fileName << " differs from the generator's output";
    const Task t = readTask(dir / f.fileName, f.form);
    EXPECT_EQ(t.size(), req.n);
    EXPECT_EQ(t.fingerprint, f.fingerprint);
  }
}

TEST(DataKnobs, SetKnobParsesRangesAndRejectsBadOnes) {
  TaskSuiteOptions o;
  setKnob(o, "string_length", "9-14");
  EXPECT_EQ(o.stringLength, (IntRange{9, 14}));
  setKnob(o, "num_choices", "3");
  EXPECT_EQ(o.numChoices, 3);
  EXPECT_THROW(setKnob(o, "string_lenght", "4-8"), layerscope::InvalidArgument);
  EXPECT_THROW(setKnob(o, "kv_pairs", "9-4"), layerscope::InvalidArgument);
  EXPECT_THROW(setKnob(o, "kv_pairs", "x"), layerscope::InvalidArgument);
}
