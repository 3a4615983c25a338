// Per-item evaluation results (items.jsonl, docs/results-format.md) for the item explorer and the item-by-item
// comparison of two evaluations: the reader, and the join with the task file that holds the prompts.
// Header-only, no Qt, no torch.
#pragma once

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "results/reader.h"

namespace layerscope::results {

/// One evaluated item (one line of items.jsonl), plus its prompt and choices when the task file was found.
struct ItemRecord {
  std::string id;
  bool correct = false;
  std::optional<bool> correctNorm;  ///< multiple choice: acc_norm
  std::string prediction;           ///< chosen choice / extracted answer / preferred completion
  std::string gold;
  std::string generated;            ///< short answer: raw generated text
  std::vector<double> loglik;       ///< multiple choice: per choice; pairs: {correct, incorrect}; short: empty
  int predicted = -1;               ///< multiple choice: argmax choice index
  int goldIndex = -1;               ///< index of the gold answer in loglik (-1: unknown, short answer)
  /// Every other numeric field of the line (decision_position, completion_tokens, and any per-item score an
  /// analysis adds), by key: shown as extra columns without a code change.
  std::map<std::string, double> scores;
  std::string prompt;                ///< from the task file ("" when it was not found)
  std::vector<std::string> choices;  ///< from the task file: MC choices, pairs {correct, incorrect}

  /// Log-likelihood of the gold answer minus the best other one (> 0: the gold one wins); NaN when unknown.
  double margin() const {
    if (goldIndex < 0 || goldIndex >= int(loglik.size()) || loglik.size() < 2) return kNaN;
    double best = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < loglik.size(); ++i)
      if (int(i) != goldIndex) best = std::max(best, loglik[i]);
    return loglik[size_t(goldIndex)] - best;
  }
};

/// The items of one evaluation.
struct ItemSet {
  std::filesystem::path file;           ///< the items.jsonl read
  std::vector<ItemRecord> items;
  std::vector<std::string> scoreKeys;   ///< union of ItemRecord::scores keys, sorted
  std::filesystem::path taskFile;       ///< where prompts came from ("" when none)
  std::string promptNote;               ///< why prompts are missing, in words ("" when they were found)

  double accuracy() const {
    if (items.empty()) return kNaN;
    return double(std::count_if(items.begin(), items.end(), [](const ItemRecord& r) { return r.correct; })) /
           double(items.size());
  }
  int maxChoices() const {
    size_t m = 0;
    for (const auto& r : items) m = std::max(m, r.loglik.size());
    return int(m);
  }
};

/// Reads items.jsonl: one JSON object per line with at least "id" (string, unique) and "correct" (bool). Errors
/// are ResultsErrors naming the file and the line.
inline ItemSet readItemsJsonl(const std::filesystem::path& file) {
  using namespace detail;
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ResultsError("cannot open '" + file.string() + "': the file is missing or unreadable");
  ItemSet set;
  set.file = file;
  std::set<std::string> keys, ids;
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::string where(1, '\'');  // appended piece by piece (GCC 12 -Wstringop-overflow, see reader.h)
    where += file.string();
    where += "', line " + std::to_string(lineNo);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      throw ResultsError(where + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw ResultsError(where + ": expected a JSON object, found " + describe(j));
    const Where w{file, "line " + std::to_string(lineNo)};
    ItemRecord r;
    r.id = toString(require(j, "id", w), w / "id");
    const json& c = require(j, "correct", w);
    if (!c.is_boolean()) throw ResultsError((w / "correct").str() + ": expected true or false, found " + describe(c));
    r.correct = c.get<bool>();
    if (!ids.insert(r.id).second) throw ResultsError(where + ": item id '" + r.id + "' appears twice");
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      const json& v = it.value();
      if (k == "id" || k == "correct") continue;
      if (k == "correct_norm") {
        if (!v.is_boolean()) throw ResultsError((w / k).str() + ": expected true or false, found " + describe(v));
        r.correctNorm = v.get<bool>();
      } else if (k == "prediction" || k == "gold" || k == "generated") {
        const std::string s = v.is_null() ? std::string() : toString(v, w / k);
        (k == "prediction" ? r.prediction : k == "gold" ? r.gold : r.generated) = s;
      } else if (k == "loglik") {
        r.loglik = toDoubles(v, w / k);
      } else if (k == "predicted") {
        r.predicted = toInt(v, w / k);
      } else if (v.is_number()) {
        r.scores[k] = v.get<double>();
        keys.insert(k);
      }
    }
    set.items.push_back(std::move(r));
  }
  if (set.items.empty()) throw ResultsError("'" + file.string() + "' holds no items");
  set.scoreKeys.assign(keys.begin(), keys.end());
  return set;
}

/// Joins the prompts (and MC choices / pairs completions) of `taskFile` (a LayerScope task JSONL) to the items by
/// id and sets each item's gold index. Never throws: when the file is missing or unreadable, or no id matches, the
/// reason goes to `set.promptNote` and the items keep no prompt.
inline void attachPrompts(ItemSet& set, const std::filesystem::path& taskFile) {
  using nlohmann::json;
  std::ifstream in(taskFile, std::ios::binary);
  if (taskFile.empty() || !in) {
    set.promptNote = taskFile.empty() ? "no task file recorded with these results"
                                      : "task file '" + taskFile.string() + "' not found";
    return;
  }
  struct Task {
    std::string prompt;
    std::vector<std::string> choices;
    int gold = -1;
  };
  std::map<std::string, Task> byId;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) continue;
    Task t;
    if (j.contains("prompt") && j["prompt"].is_string()) t.prompt = j["prompt"].get<std::string>();
    if (j.contains("choices") && j["choices"].is_array()) {
      for (const auto& c : j["choices"]) t.choices.push_back(c.is_string() ? c.get<std::string>() : c.dump());
      if (j.contains("answer") && j["answer"].is_number_integer()) t.gold = j["answer"].get<int>();
    } else if (j.contains("correct") && j.contains("incorrect") && j["correct"].is_string() && j["incorrect"].is_string()) {
      t.choices = {j["correct"].get<std::string>(), j["incorrect"].get<std::string>()};
      t.gold = 0;  // pairs: loglik = {correct, incorrect}
    }
    byId[j["id"].get<std::string>()] = std::move(t);
  }
  int matched = 0;
  for (auto& r : set.items) {
    auto it = byId.find(r.id);
    if (it == byId.end()) continue;
    ++matched;
    r.prompt = it->second.prompt;
    if (it->second.choices.size() == r.loglik.size()) {
      r.choices = it->second.choices;
      r.goldIndex = it->second.gold;
    }
  }
  if (matched == 0) {
    set.promptNote = "no item id of '" + taskFile.string() + "' matches the results (a different task file?)";
    return;
  }
  set.taskFile = taskFile;
  if (matched < int(set.items.size()))
    set.promptNote = std::to_string(set.items.size() - size_t(matched)) + " item(s) not found in '" + taskFile.string() + "'";
}

/// items.jsonl of results directory `dir`, with prompts from the task file scores.json records (when present).
inline ItemSet readItemsOfResults(const std::filesystem::path& dir) {
  ItemSet set = readItemsJsonl(dir / "items.jsonl");
  std::filesystem::path task;
  if (std::filesystem::exists(dir / "scores.json")) {
    const auto j = detail::readJsonFile(dir / "scores.json");
    if (j.contains("task") && j["task"].is_object() && j["task"].contains("path") && j["task"]["path"].is_string())
      task = j["task"]["path"].get<std::string>();
  }
  attachPrompts(set, task);
  return set;
}

}  // namespace layerscope::results
