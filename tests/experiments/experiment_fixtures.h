// Shared inputs of the experiment tests (experiments_tests and crash_tests): the tiny model, the train / held-out
// multiple-choice tasks and the analysis directory an ablation reads, and report comparison without timings.
#pragma once

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/dataset.h"
#include "tests/common/tiny_model.h"

namespace layerscope::test {

/// `n` three-choice items whose prompts and answers depend on `offset` (distinct tasks for distinct offsets).
inline core::Task experimentMcTask(const std::string& name, int n, int offset) {
  core::Task t;
  t.name = name;
  std::vector<core::McItem> items;
  for (int i = 0; i < n; ++i)
    items.push_back({name + std::to_string(i), "q " + std::to_string((i + offset) * 7 % 31) + ":", {" a", " b", " c"},
                     size_t((i + offset) % 3)});
  t.items = items;
  return t;
}

/// The 4-layer tiny model the experiment tests train and ablate.
inline TinyByteModel* newExperimentModel() {
  return new TinyByteModel(byteConfig({.hidden = 16, .intermediate = 32, .layers = 4, .heads = 4, .maxPositions = 128}),
                           {.seed = 5, .weightStd = 0.3});
}

/// train.jsonl (12 items), heldout.jsonl (9 items) and analysis/stats.json (the only file of an analysis results
/// directory the ablation reads: its top-k sets) in `dir`.
inline void writeExperimentInputs(const std::filesystem::path& dir) {
  core::writeTask(dir / "train.jsonl", experimentMcTask("train", 12, 0));
  core::writeTask(dir / "heldout.jsonl", experimentMcTask("heldout", 9, 100));
  std::filesystem::create_directories(dir / "analysis");
  std::ofstream(dir / "analysis" / "stats.json") << R"({"top_k": {"S_sens": [2, 3], "S_rope": [0, 1]}})";
}

/// `j` without what legitimately differs between two runs of the same job: every key containing "seconds", and
/// the keys in `alsoDrop` (for example "timings", "created", "resumed_from_step").
inline nlohmann::json withoutTimings(const nlohmann::json& j, const std::set<std::string>& alsoDrop = {}) {
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : j.items())
      if (k.find("seconds") == std::string::npos && !alsoDrop.count(k)) out[k] = withoutTimings(v, alsoDrop);
    return out;
  }
  if (j.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : j) out.push_back(withoutTimings(v, alsoDrop));
    return out;
  }
  return j;
}

}  // namespace layerscope::test
