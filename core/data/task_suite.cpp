// The demo task suite generator (see task_suite.h, docs/tasks.md). Everything here is integer arithmetic on
// our own PRNG so the bytes are the same on every platform; std distributions are never used.
#include "core/data/task_suite.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace layerscope::core {

namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
constexpr int kSplitBuckets = 20;  // prompt hash mod 20: 0 eval (5%), 1 held-out (5%), 2..19 train (90%)

constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/// Seed of a named stream: (seed, tag, index) -> 64 bits, each part passed through splitmix64.
std::uint64_t streamSeed(std::uint64_t seed, std::string_view tag, std::uint64_t index) {
  std::uint64_t x = splitmix64(seed);
  x = splitmix64(x ^ fnv1a64(tag));
  return splitmix64(x ^ index);
}

/// Fisher-Yates with our own PRNG.
template <class T>
void shuffle(std::vector<T>& v, SuiteRng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

/// k distinct values from [0, n), in random order.
std::vector<int> sampleDistinct(int n, int k, SuiteRng& rng) {
  std::vector<int> pool(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) pool[std::size_t(i)] = i;
  for (int i = 0; i < k; ++i) std::swap(pool[std::size_t(i)], pool[std::size_t(i) + rng.below(std::uint64_t(n - i))]);
  pool.resize(std::size_t(k));
  return pool;
}

/// List items are a lowercase letter and a digit ("k3"): 260 distinct 2-byte tokens.
std::string listItem(int code) {
  return std::string{char('a' + code / 10), char('0' + code % 10)};
}

std::string ordinal(int n) {
  const int mod100 = n % 100;
  const char* suffix = "th";
  if (mod100 < 11 || mod100 > 13) {
    if (n % 10 == 1) suffix = "st";
    if (n % 10 == 2) suffix = "nd";
    if (n % 10 == 3) suffix = "rd";
  }
  return std::to_string(n) + suffix;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

/// A raw item: gold answer and distractor candidates (hardest first, then in preference order), plus a
/// fallback that draws one more random wrong answer when the candidates run out.
struct Draft {
  std::string prompt;
  std::string gold;                    // without the leading space
  std::vector<std::string> candidates;  // wrong answers, hardest first
  std::function<std::string(SuiteRng&)> fallback;
  int numChoices = 4;
};

TaskInstance finish(Draft d, SuiteRng& rng) {
  std::vector<std::string> wrong;
  auto accept = [&](const std::string& c) {
    if (c.empty() || c == d.gold) return;
    if (std::find(wrong.begin(), wrong.end(), c) != wrong.end()) return;
    wrong.push_back(c);
  };
  for (const auto& c : d.candidates) {
    if (int(wrong.size()) == d.numChoices - 1) break;
    accept(c);
  }
  for (int tries = 0; int(wrong.size()) < d.numChoices - 1; ++tries) {
    if (tries > 10000) throw Error("task suite: cannot find enough distinct distractors for '" + d.prompt + "'");
    accept(d.fallback(rng));
  }
  TaskInstance inst;
  inst.prompt = std::move(d.prompt);
  inst.incorrect = " " + wrong.front();
  inst.answer = std::size_t(rng.below(std::uint64_t(d.numChoices)));
  std::size_t w = 0;
  for (int i = 0; i < d.numChoices; ++i)
    inst.choices.push_back(" " + (std::size_t(i) == inst.answer ? d.gold : wrong[w++]));
  return inst;
}

// --- the families ------------------------------------------------------------------------------------------

TaskInstance makeKvRecall(SuiteRng& rng, const TaskSuiteOptions& o) {
  const int n = rng.range(o.kvPairs.lo, o.kvPairs.hi);
  const std::vector<int> keys = sampleDistinct(26, n, rng);
  std::vector<int> values(static_cast<std::size_t>(n));
  for (auto& v : values) v = int(rng.below(10));
  const int q = int(rng.below(std::uint64_t(n)));
  std::vector<std::string> pairs;
  for (int i = 0; i < n; ++i)
    pairs.push_back(std::string{char('a' + keys[std::size_t(i)]), '=', char('0' + values[std::size_t(i)])});
  Draft d;
  d.prompt = "recall: " + join(pairs, " ") + ". " + char('a' + keys[std::size_t(q)]) + "? A:";
  d.gold = std::string(1, char('0' + values[std::size_t(q)]));
  d.numChoices = o.numChoices;
  // Hardest: a neighbouring key's value (the off-by-one retrieval error); then the other values in the list.
  std::vector<int> neighbours;
  if (q > 0) neighbours.push_back(q - 1);
  if (q + 1 < n) neighbours.push_back(q + 1);
  shuffle(neighbours, rng);
  for (int i : neighbours) d.candidates.push_back(std::string(1, char('0' + values[std::size_t(i)])));
  std::vector<std::string> others;
  for (int i = 0; i < n; ++i)
    if (i != q) others.push_back(std::string(1, char('0' + values[std::size_t(i)])));
  shuffle(others, rng);
  d.candidates.insert(d.candidates.end(), others.begin(), others.end());
  d.fallback = [](SuiteRng& r) { return std::string(1, char('0' + r.below(10))); };
  return finish(std::move(d), rng);
}

TaskInstance makeListIndex(SuiteRng& rng, const TaskSuiteOptions& o) {
  const int n = rng.range(o.listLength.lo, o.listLength.hi);
  std::vector<std::string> items;
  for (int c : sampleDistinct(260, n, rng)) items.push_back(listItem(c));
  const int q = int(rng.below(std::uint64_t(n)));
  Draft d;
  d.prompt = "list: " + join(items, " ") + ". " + ordinal(q + 1) + "? A:";
  d.gold = items[std::size_t(q)];
  d.numChoices = o.numChoices;
  std::vector<int> neighbours;
  if (q > 0) neighbours.push_back(q - 1);
  if (q + 1 < n) neighbours.push_back(q + 1);
  shuffle(neighbours, rng);
  for (int i : neighbours) d.candidates.push_back(items[std::size_t(i)]);
  std::vector<std::string> others;
  for (int i = 0; i < n; ++i)
    if (i != q) others.push_back(items[std::size_t(i)]);
  shuffle(others, rng);
  d.candidates.insert(d.candidates.end(), others.begin(), others.end());
  d.fallback = [](SuiteRng& r) { return listItem(int(r.below(260))); };
  return finish(std::move(d), rng);
}

TaskInstance makeFirstOfTwo(SuiteRng& rng, IntRange length) {
  const int n = rng.range(length.lo, length.hi);
  std::vector<std::string> items;
  for (int c : sampleDistinct(260, n, rng)) items.push_back(listItem(c));
  // Two positions at least n/4 apart, so the answer is not decided by adjacent tokens alone.
  const int gap = std::max(1, n / 4);
  int i = 0, j = 0;
  do {
    i = int(rng.below(std::uint64_t(n)));
    j = int(rng.below(std::uint64_t(n)));
  } while (std::abs(i - j) < gap);
  const int early = std::min(i, j), late = std::max(i, j);
  // The question names the two items in random order, so the order in the question carries no signal.
  const bool earlyFirst = rng.below(2) == 0;
  const std::string& a = items[std::size_t(earlyFirst ? early : late)];
  const std::string& b = items[std::size_t(earlyFirst ? late : early)];
  TaskInstance inst;
  inst.prompt = "order: " + join(items, " ") + ". " + a + " or " + b + " first? A:";
  inst.choices = {" " + a, " " + b};
  inst.answer = earlyFirst ? 0 : 1;
  inst.incorrect = " " + items[std::size_t(late)];
  return inst;
}

std::string randomLetters(SuiteRng& rng, int n) {
  std::string s;
  for (int c : sampleDistinct(26, n, rng)) s += char('a' + c);
  return s;
}

std::string adjacentSwap(std::string s, SuiteRng& rng) {
  const std::size_t p = std::size_t(rng.below(s.size() - 1));
  std::swap(s[p], s[p + 1]);
  return s;
}

/// Two letters at least two apart exchanged (any two when the string is shorter than 3). Every distractor is
/// a permutation of the prompt's letters, so none can be ruled out by content alone.
std::string distantSwap(std::string s, SuiteRng& rng) {
  if (s.size() < 3) return adjacentSwap(std::move(s), rng);
  std::size_t p = 0, q = 0;
  do {
    p = std::size_t(rng.below(s.size()));
    q = std::size_t(rng.below(s.size()));
  } while ((p > q ? p - q : q - p) < 2);
  std::swap(s[p], s[q]);
  return s;
}

std::string rotateOne(const std::string& s) { return s.substr(1) + s.front(); }

TaskInstance makeCopyOrReverse(SuiteRng& rng, const TaskSuiteOptions& o, bool reverse) {
  const int n = rng.range(o.stringLength.lo, o.stringLength.hi);
  const std::string s = randomLetters(rng, n);
  const std::string rev(s.rbegin(), s.rend());
  Draft d;
  d.prompt = std::string(reverse ? "reverse: " : "copy: ") + s + " A:";
  d.gold = reverse ? rev : s;
  d.numChoices = o.numChoices;
  // Hardest: two neighbouring letters transposed (a local position error); then the other operation's
  // output, a rotation, and two distant letters exchanged. All permutations of the prompt's letters.
  d.candidates = {adjacentSwap(d.gold, rng)};
  std::vector<std::string> others = {reverse ? s : rev, rotateOne(d.gold), distantSwap(d.gold, rng)};
  shuffle(others, rng);
  d.candidates.insert(d.candidates.end(), others.begin(), others.end());
  const std::string gold = d.gold;
  d.fallback = [gold](SuiteRng& r) { return r.below(2) ? adjacentSwap(gold, r) : distantSwap(gold, r); };
  return finish(std::move(d), rng);
}

std::int64_t pow10(int k) {
  std::int64_t p = 1;
  while (k-- > 0) p *= 10;
  return p;
}

/// Digit-wise sum without carries (the classic carry error), or -1 when that would drop the leading digit
/// (111+991 -> "2" is not a plausible answer to anyone).
std::int64_t noCarrySum(std::int64_t a, std::int64_t b) {
  const std::int64_t sum = a + b;
  std::int64_t out = 0, place = 1;
  while (a > 0 || b > 0) {
    out += ((a % 10 + b % 10) % 10) * place;
    a /= 10, b /= 10, place *= 10;
  }
  return std::to_string(out).size() == std::to_string(sum).size() ? out : -1;
}

/// The sum with the lowest carry between two operand columns forgotten (sum - 10^k), or -1 without one.
std::int64_t firstCarryDropped(std::int64_t a, std::int64_t b) {
  const std::int64_t sum = a + b;
  std::int64_t place = 1;
  int carry = 0;
  while (a > 0 || b > 0) {
    if (carry) return sum - place;
    carry = (a % 10 + b % 10 + carry) >= 10;
    a /= 10, b /= 10, place *= 10;
  }
  return -1;  // no carry, or only the final carry out of the top column
}

TaskInstance makeAdd(SuiteRng& rng, const TaskSuiteOptions& o) {
  const int da = rng.range(o.addDigits.lo, o.addDigits.hi);
  const int db = rng.range(o.addDigits.lo, o.addDigits.hi);
  auto operand = [&](int digits) {
    const std::int64_t lo = digits == 1 ? 0 : pow10(digits - 1);
    return lo + std::int64_t(rng.below(std::uint64_t(pow10(digits) - lo)));
  };
  const std::int64_t a = operand(da), b = operand(db), sum = a + b;
  Draft d;
  d.prompt = "add: " + std::to_string(a) + "+" + std::to_string(b) + " A:";
  d.gold = std::to_string(sum);
  d.numChoices = o.numChoices;
  const std::int64_t dropped = firstCarryDropped(a, b);
  auto num = [](std::int64_t v) { return v < 0 ? std::string() : std::to_string(v); };  // "" is rejected
  const std::int64_t sign = rng.below(2) ? 1 : -1;
  // Hardest: one forgotten carry when there is a carry, else the sum off by ten; then off by one, ten and a
  // hundred, and the sum with no carries at all.
  d.candidates.push_back(dropped >= 0 ? num(dropped) : num(sum + 10 * sign));
  std::vector<std::string> others = {num(sum + 1),  num(sum - 1),   num(sum + 10),         num(sum - 10),
                                     num(sum + 100), num(sum - 100), num(noCarrySum(a, b))};
  shuffle(others, rng);
  d.candidates.insert(d.candidates.end(), others.begin(), others.end());
  d.fallback = [sum, num](SuiteRng& r) { return num(sum + std::int64_t(r.below(41)) - 20); };
  return finish(std::move(d), rng);
}

TaskInstance makeInstance(TaskFamily f, SuiteRng& rng, const TaskSuiteOptions& o) {
  switch (f) {
    case TaskFamily::KvRecall: return makeKvRecall(rng, o);
    case TaskFamily::ListIndex: return makeListIndex(rng, o);
    case TaskFamily::FirstOfTwo: return makeFirstOfTwo(rng, o.orderLength);
    case TaskFamily::Copy: return makeCopyOrReverse(rng, o, false);
    case TaskFamily::Reverse: return makeCopyOrReverse(rng, o, true);
    case TaskFamily::Add: return makeAdd(rng, o);
    case TaskFamily::LongFirst: return makeFirstOfTwo(rng, o.longOrderLength);
  }
  throw InvalidArgument("unknown task family");
}

std::string itemId(TaskFamily f, std::size_t index, std::size_t n) {
  std::string digits = std::to_string(index);
  const std::size_t width = std::max<std::size_t>(4, std::to_string(n > 0 ? n - 1 : 0).size());
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return std::string(familyInfo(f).name) + "-" + digits;
}

void checkRange(const char* name, IntRange r, int lo, int hi) {
  if (r.lo < lo || r.hi > hi || r.lo > r.hi)
    throw InvalidArgument(std::string("task suite option ") + name + ": expected " + std::to_string(lo) +
                          " <= lo <= hi <= " + std::to_string(hi) + ", found [" + std::to_string(r.lo) + ", " +
                          std::to_string(r.hi) + "]");
}

}  // namespace

// --- PRNG ----------------------------------------------------------------------------------------------------

SuiteRng::SuiteRng(std::uint64_t seed) {
  for (int i = 0; i < 4; ++i) s_[i] = splitmix64(seed + std::uint64_t(i) * kGolden);
}

std::uint64_t SuiteRng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t SuiteRng::below(std::uint64_t n) {
  // Reject the lowest (2^64 mod n) values so every residue is equally likely.
  const std::uint64_t threshold = (0 - n) % n;
  for (;;) {
    const std::uint64_t r = next();
    if (r >= threshold) return r % n;
  }
}

int SuiteRng::range(int lo, int hi) { return lo + int(below(std::uint64_t(hi - lo) + 1)); }

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

PromptSplit promptSplit(std::string_view prompt) {
  const std::uint64_t bucket = fnv1a64(prompt) % kSplitBuckets;
  return bucket == 0 ? PromptSplit::Eval : bucket == 1 ? PromptSplit::Heldout : PromptSplit::Train;
}

// --- families --------------------------------------------------------------------------------------------------

const std::vector<FamilyInfo>& taskFamilies() {
  static const std::vector<FamilyInfo> kFamilies = {
      {TaskFamily::KvRecall, "kv_recall", "content", false},
      {TaskFamily::ListIndex, "list_index", "position", false},
      {TaskFamily::FirstOfTwo, "first_of_two", "position", false},
      {TaskFamily::Copy, "copy", "position", false},
      {TaskFamily::Reverse, "reverse", "position", false},
      {TaskFamily::Add, "add", "computation", false},
      {TaskFamily::LongFirst, "long_first", "position", true},
  };
  return kFamilies;
}

const FamilyInfo& familyInfo(TaskFamily family) { return taskFamilies().at(static_cast<std::size_t>(family)); }

TaskFamily taskFamilyFromName(std::string_view name) {
  std::string valid;
  for (const auto& f : taskFamilies()) {
    if (f.name == name) return f.family;
    valid += (valid.empty() ? "" : ", ") + std::string(f.name);
  }
  throw InvalidArgument("unknown task family '" + std::string(name) + "' (expected one of: " + valid + ")");
}

void validateOptions(const TaskSuiteOptions& o) {
  if (o.numChoices < 2 || o.numChoices > 10)
    throw InvalidArgument("task suite option numChoices: expected 2..10, found " + std::to_string(o.numChoices));
  checkRange("kvPairs", o.kvPairs, 1, 26);
  checkRange("listLength", o.listLength, 2, 260);
  checkRange("orderLength", o.orderLength, 2, 260);
  checkRange("stringLength", o.stringLength, 2, 26);
  checkRange("addDigits", o.addDigits, 1, 9);
  checkRange("longOrderLength", o.longOrderLength, 2, 260);
}

// --- eval sets ---------------------------------------------------------------------------------------------------

std::vector<TaskInstance> generateEvalInstances(TaskFamily family, std::uint64_t seed, std::size_t n,
                                                const TaskSuiteOptions& options) {
  validateOptions(options);
  SuiteRng rng(streamSeed(seed, "eval/" + std::string(familyInfo(family).name), 0));
  std::vector<TaskInstance> out;
  std::set<std::string> seen;
  const std::size_t maxTries = 1000 * n + 100000;
  for (std::size_t tries = 0; out.size() < n; ++tries) {
    if (tries > maxTries)
      throw InvalidArgument("task suite: cannot draw " + std::to_string(n) + " distinct eval items of " +
                            std::string(familyInfo(family).name) + " (found " + std::to_string(out.size()) +
                            "); widen the difficulty ranges or ask for fewer");
    TaskInstance inst = makeInstance(family, rng, options);
    if (promptSplit(inst.prompt) != PromptSplit::Eval) continue;
    if (!seen.insert(inst.prompt).second) continue;
    inst.id = itemId(family, out.size(), n);
    out.push_back(std::move(inst));
  }
  return out;
}

Task instancesToTask(const std::vector<TaskInstance>& instances, TaskFamily family, TaskKind form) {
  Task t;
  t.name = std::string(familyInfo(family).name) + "." + std::string(taskKindName(form));
  switch (form) {
    case TaskKind::MultipleChoice: {
      std::vector<McItem> v;
      for (const auto& i : instances) v.push_back({i.id, i.prompt, i.choices, i.answer});
      t.items = std::move(v);
      break;
    }
    case TaskKind::ShortAnswer: {
      std::vector<ShortItem> v;
      for (const auto& i : instances) v.push_back({i.id, i.prompt, i.gold()});
      t.items = std::move(v);
      break;
    }
    case TaskKind::Pairs: {
      std::vector<PairItem> v;
      for (const auto& i : instances) v.push_back({i.id, i.prompt, i.gold(), i.incorrect});
      t.items = std::move(v);
      break;
    }
  }
  return t;
}

Task generateEvalTask(TaskFamily family, TaskKind form, std::uint64_t seed, std::size_t n,
                      const TaskSuiteOptions& options) {
  return instancesToTask(generateEvalInstances(family, seed, n, options), family, form);
}

// --- training text -------------------------------------------------------------------------------------------

TrainingMix TrainingMix::demo() {
  TrainingMix m;
  for (const auto& f : taskFamilies())
    if (!f.longContext) m.weights.emplace_back(f.family, 1u);
  return m;
}

TrainingTextStream::TrainingTextStream(std::uint64_t seed, TextSplit split, TrainingMix mix, TaskSuiteOptions options)
    : seed_(seed), split_(split), mix_(std::move(mix)), options_(options) {
  validateOptions(options_);
  for (const auto& [family, w] : mix_.weights) totalWeight_ += w;
  if (totalWeight_ == 0) throw InvalidArgument("training mix: expected at least one family with a positive weight");
}

TaskInstance TrainingTextStream::instance(std::uint64_t index, TaskFamily* familyOut) const {
  // The family is the first draw of the document's PRNG, so family() needs no generation.
  SuiteRng rng(streamSeed(seed_, split_ == TextSplit::Train ? "train" : "heldout", index));
  std::uint64_t pick = rng.below(totalWeight_);
  TaskFamily family = mix_.weights.front().first;
  for (const auto& [f, w] : mix_.weights) {
    if (pick < w) {
      family = f;
      break;
    }
    pick -= w;
  }
  if (familyOut) {
    *familyOut = family;
    return {};
  }
  const PromptSplit want = split_ == TextSplit::Train ? PromptSplit::Train : PromptSplit::Heldout;
  for (int tries = 0;; ++tries) {
    if (tries > 100000) throw Error("training text: no prompt in the requested split after 100000 draws");
    TaskInstance inst = makeInstance(family, rng, options_);
    if (promptSplit(inst.prompt) == want) return inst;
  }
}

TrainingExample TrainingTextStream::example(std::uint64_t index) const {
  TrainingExample ex{family(index), {}, {}};
  TaskInstance inst = instance(index, nullptr);
  ex.prompt = std::move(inst.prompt);
  ex.completion = inst.gold() + "\n";
  return ex;
}

std::string TrainingTextStream::document(std::uint64_t index) const {
  const TaskInstance inst = instance(index, nullptr);
  return inst.prompt + inst.gold() + "\n";
}

TaskFamily TrainingTextStream::family(std::uint64_t index) const {
  TaskFamily f{};
  instance(index, &f);
  return f;
}

std::string TrainingTextStream::next() { return document(position_++); }

}  // namespace layerscope::core
