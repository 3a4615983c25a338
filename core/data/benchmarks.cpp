// Benchmark JSONL loaders (see benchmarks.h). Templates (lm-evaluation-harness defaults):
//   MMLU  "{question}\nA. {c0}\nB. {c1}\n...\nAnswer:" -> " A" / " B" ...
//   ARC   "Question: {question}\nAnswer:" -> " {choice text}"
//   GPQA  "What is the correct answer to this question: {question}\nChoices:\n(A) ...\nAnswer:" -> " (A)" ...
//   MGSM  "Question: {question}\nAnswer:" -> " {number}" (short answer, last-number extraction)
//   MATH  "Problem: {problem}\nAnswer:" -> " {last \boxed{} of the solution}" (short answer, boxed extraction)
#include "core/data/benchmarks.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/data/task_suite.h"

namespace layerscope::core {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Line {
  json value;
  int number = 0;
};

std::vector<Line> readJsonl(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DatasetError(path.string() + ": cannot be read");
  std::vector<Line> out;
  std::string s;
  int n = 0;
  while (std::getline(in, s)) {
    ++n;
    if (s.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back({json::parse(s), n});
    } catch (const json::exception& e) {
      throw DatasetError(path.string() + ":" + std::to_string(n) + ": invalid JSON: " + e.what());
    }
    if (!out.back().value.is_object()) throw DatasetError(path.string() + ":" + std::to_string(n) + ": not a JSON object");
  }
  if (out.empty()) throw DatasetError(path.string() + ": no items");
  return out;
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Field access with "<file>:<line>: field 'x' ..." errors.
struct Ctx {
  const fs::path& path;
  int line;
  [[noreturn]] void fail(const std::string& what) const {
    throw DatasetError(path.string() + ":" + std::to_string(line) + ": " + what);
  }
  const json& field(const json& j, std::initializer_list<const char*> names) const {
    for (const char* n : names)
      if (j.contains(n)) return j.at(n);
    std::string list;
    for (const char* n : names) list += std::string(list.empty() ? "" : " or ") + "'" + n + "'";
    fail("missing field " + list);
  }
  std::string str(const json& j) const {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_number_integer()) return std::to_string(j.get<long long>());
    if (j.is_number()) {
      std::ostringstream os;
      os << j.get<double>();
      return os.str();
    }
    fail("expected a string, found " + j.dump());
  }
};

std::string letter(size_t i) { return std::string(1, char('A' + i)); }

size_t answerIndex(const Ctx& c, const json& a, const std::vector<std::string>& labels) {
  if (a.is_number_integer()) {
    const long long v = a.get<long long>();
    if (v < 0 || size_t(v) >= labels.size()) c.fail("answer index " + std::to_string(v) + " is out of range");
    return size_t(v);
  }
  const std::string s = trim(c.str(a));
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == s) return i;
  c.fail("answer '" + s + "' names no choice");
}

std::string idOf(const json& j, const std::string& stem, int line) {
  for (const char* k : {"id", "question_id", "Record ID", "unique_id"})
    if (j.contains(k) && (j[k].is_string() || j[k].is_number_integer()))
      return j[k].is_string() ? j[k].get<std::string>() : std::to_string(j[k].get<long long>());
  return stem + "-" + std::to_string(line);
}

// One item in a neutral form before few-shot and casting to a Task.
struct Raw {
  std::string id, prompt;
  std::vector<std::string> choices;  // MC
  size_t answer = 0;
  std::string target;  // short
};

std::vector<Raw> parseItems(const fs::path& path, const BenchmarkOptions& opt) {
  std::vector<Raw> out;
  const std::string stem = path.stem().string();
  for (const auto& [j, n] : readJsonl(path)) {
    Ctx c{path, n};
    Raw r;
    r.id = idOf(j, stem, n);
    switch (opt.format) {
      case BenchmarkFormat::Mmlu: {
        const json& ch = c.field(j, {"choices"});
        if (!ch.is_array() || ch.size() < 2) c.fail("'choices' must be an array of at least 2 strings");
        std::string p = trim(c.str(c.field(j, {"question"}))) + "\n";
        std::vector<std::string> labels;
        for (size_t i = 0; i < ch.size(); ++i) {
          p += letter(i) + ". " + c.str(ch[i]) + "\n";
          labels.push_back(letter(i));
          r.choices.push_back(std::string(1, ' ').append(letter(i)));
        }
        r.prompt = p + "Answer:";
        r.answer = answerIndex(c, c.field(j, {"answer"}), labels);
        break;
      }
      case BenchmarkFormat::Arc: {
        const json* q = &c.field(j, {"question"});
        const json* ch = j.contains("choices") ? &j["choices"] : nullptr;
        std::string question;
        std::vector<std::string> texts, labels;
        if (q->is_object()) {  // original AI2 layout: question {stem, choices [{text, label}]}
          question = c.str(c.field(*q, {"stem"}));
          for (const auto& e : c.field(*q, {"choices"})) texts.push_back(c.str(c.field(e, {"text"}))), labels.push_back(c.str(c.field(e, {"label"})));
        } else {
          question = c.str(*q);
          if (!ch || !ch->is_object()) c.fail("'choices' must be an object with 'text' and 'label' arrays");
          for (const auto& t : c.field(*ch, {"text"})) texts.push_back(c.str(t));
          for (const auto& l : c.field(*ch, {"label"})) labels.push_back(c.str(l));
        }
        if (texts.size() != labels.size() || texts.size() < 2) c.fail("choices.text and choices.label must have the same length >= 2");
        r.prompt = "Question: " + trim(question) + "\nAnswer:";
        for (const auto& t : texts) r.choices.push_back(" " + t);
        r.answer = answerIndex(c, c.field(j, {"answerKey", "answer"}), labels);
        break;
      }
      case BenchmarkFormat::Gpqa: {
        const std::string question = trim(c.str(c.field(j, {"Question", "question"})));
        std::vector<std::string> answers{trim(c.str(c.field(j, {"Correct Answer", "correct_answer"})))};
        if (j.contains("incorrect_answers")) {
          for (const auto& a : j["incorrect_answers"]) answers.push_back(trim(c.str(a)));
        } else {
          for (int k = 1; k <= 3; ++k) answers.push_back(trim(c.str(c.field(j, {("Incorrect Answer " + std::to_string(k)).c_str()}))));
        }
        // Seeded per-item shuffle (Fisher-Yates, platform-independent PRNG): position of the correct answer.
        std::vector<size_t> order(answers.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        SuiteRng rng(splitmix64(opt.seed ^ fnv1a64(r.id)));
        for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[size_t(rng.below(i))]);
        std::string p = "What is the correct answer to this question: " + question + "\nChoices:\n";
        for (size_t i = 0; i < order.size(); ++i) {
          p.append("(").append(letter(i)).append(") ").append(answers[order[i]]).append("\n");
          r.choices.push_back(std::string(" (").append(letter(i)).append(")"));
          if (order[i] == 0) r.answer = i;
        }
        r.prompt = p + "Answer:";
        break;
      }
      case BenchmarkFormat::Mgsm: {
        r.prompt = "Question: " + trim(c.str(c.field(j, {"question"}))) + "\nAnswer:";
        if (j.contains("answer_number")) {
          r.target = " " + c.str(j["answer_number"]);
        } else {
          const std::string a = c.str(c.field(j, {"answer"}));
          const std::string num = lastNumber(a);
          if (num.empty()) c.fail("'answer' contains no number");
          r.target = " " + num;
        }
        break;
      }
      case BenchmarkFormat::Math: {
        r.prompt = "Problem: " + trim(c.str(c.field(j, {"problem", "question"}))) + "\nAnswer:";
        std::string ans;
        if (j.contains("answer")) ans = c.str(j["answer"]);
        else {
          ans = lastBoxed(c.str(c.field(j, {"solution"})));
          if (ans.empty()) c.fail("'solution' has no \\boxed{...} answer (and there is no 'answer' field)");
        }
        r.target = " " + trim(ans);
        break;
      }
      case BenchmarkFormat::Native: break;
    }
    out.push_back(std::move(r));
    if (opt.limit && out.size() >= opt.limit) break;
  }
  return out;
}

}  // namespace

std::string lastNumber(std::string_view s) {
  std::string last, cur;
  for (size_t i = 0; i <= s.size(); ++i) {
    const char ch = i < s.size() ? s[i] : '\0';
    const bool digit = ch >= '0' && ch <= '9';
    if (digit || (ch == '.' && !cur.empty()) || (ch == ',' && !cur.empty()) ||
        (ch == '-' && cur.empty() && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9')) {
      if (ch != ',') cur += ch;
    } else if (!cur.empty()) {
      while (!cur.empty() && cur.back() == '.') cur.pop_back();
      if (!cur.empty() && cur != "-") last = cur;
      cur.clear();
    }
  }
  return last;
}

BenchmarkFormat parseBenchmarkFormat(std::string_view name) {
  if (name == "native") return BenchmarkFormat::Native;
  if (name == "mmlu") return BenchmarkFormat::Mmlu;
  if (name == "arc") return BenchmarkFormat::Arc;
  if (name == "gpqa") return BenchmarkFormat::Gpqa;
  if (name == "mgsm") return BenchmarkFormat::Mgsm;
  if (name == "math") return BenchmarkFormat::Math;
  throw InvalidArgument("unknown benchmark format '" + std::string(name) + "' (expected auto, native, mmlu, arc, gpqa, mgsm or math)");
}

std::string benchmarkFormatName(BenchmarkFormat f) {
  switch (f) {
    case BenchmarkFormat::Native: return "native";
    case BenchmarkFormat::Mmlu: return "mmlu";
    case BenchmarkFormat::Arc: return "arc";
    case BenchmarkFormat::Gpqa: return "gpqa";
    case BenchmarkFormat::Mgsm: return "mgsm";
    case BenchmarkFormat::Math: return "math";
  }
  return "native";
}

BenchmarkFormat detectBenchmarkFormat(const fs::path& path) {
  const json j = readJsonl(path).front().value;
  if (j.contains("prompt") && (j.contains("choices") || j.contains("target") || j.contains("correct")))
    return BenchmarkFormat::Native;
  if (j.contains("Correct Answer") || j.contains("correct_answer")) return BenchmarkFormat::Gpqa;
  if (j.contains("answerKey")) return BenchmarkFormat::Arc;
  if (j.contains("problem") || j.contains("solution")) return BenchmarkFormat::Math;
  if (j.contains("choices") && j.contains("answer")) return BenchmarkFormat::Mmlu;
  if (j.contains("question") && (j.contains("answer_number") || j.contains("answer"))) return BenchmarkFormat::Mgsm;
  throw DatasetError(path.string() + ": cannot tell the layout from the first line's fields (pass --format)");
}

std::string defaultExtractionName(BenchmarkFormat f) {
  if (f == BenchmarkFormat::Mgsm) return "last_number";
  if (f == BenchmarkFormat::Math) return "boxed";
  return "none";
}

std::string lastBoxed(std::string_view text) {
  size_t at = std::string_view::npos, skip = 0;
  for (std::string_view tag : {"\\boxed{", "\\fbox{"}) {
    const size_t p = text.rfind(tag);
    if (p != std::string_view::npos && (at == std::string_view::npos || p > at)) at = p, skip = tag.size();
  }
  if (at == std::string_view::npos) return "";
  int depth = 1;
  std::string inner;
  for (size_t i = at + skip; i < text.size(); ++i) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return inner;
    inner += text[i];
  }
  return "";  // unbalanced
}

Task loadBenchmark(const fs::path& path, const BenchmarkOptions& opt) {
  if (opt.format == BenchmarkFormat::Native) {
    if (!opt.fewshotFile.empty() || opt.numFewshot > 0)
      throw InvalidArgument("few-shot examples need a benchmark layout (--format mmlu|arc|gpqa|mgsm|math)");
    return readTask(path);
  }
  auto items = parseItems(path, opt);
  std::string prefix;
  if (opt.numFewshot > 0) {
    if (opt.fewshotFile.empty()) throw InvalidArgument("--num-fewshot needs --fewshot FILE");
    BenchmarkOptions fo = opt;
    fo.limit = size_t(opt.numFewshot);
    const auto shots = parseItems(opt.fewshotFile, fo);
    if (shots.size() < size_t(opt.numFewshot))
      throw DatasetError(opt.fewshotFile.string() + ": has " + std::to_string(shots.size()) + " items, " +
                         std::to_string(opt.numFewshot) + " few-shot examples were asked for");
    for (const auto& s : shots) prefix += s.prompt + (s.choices.empty() ? s.target : s.choices[s.answer]) + "\n\n";
  }
  Task task;
  task.name = path.stem().string();
  task.source = path.string();
  const bool mc = opt.format == BenchmarkFormat::Mmlu || opt.format == BenchmarkFormat::Arc || opt.format == BenchmarkFormat::Gpqa;
  if (mc) {
    std::vector<McItem> v;
    for (auto& r : items) v.push_back({r.id, prefix + r.prompt, r.choices, r.answer});
    task.items = std::move(v);
  } else {
    std::vector<ShortItem> v;
    for (auto& r : items) v.push_back({r.id, prefix + r.prompt, r.target});
    task.items = std::move(v);
  }
  // Validate with the task reader's rules (distinct choices, unique ids, ...) through a JSONL round trip.
  const std::string text = toJsonl(task);
  Task checked = parseTask(text, path.string());
  checked.name = task.name;
  checked.fingerprint = fileFingerprint(path);
  return checked;
}

}  // namespace layerscope::core
