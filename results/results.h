// Plain value types for LayerScope results (docs/results-format.md): what the views draw and the figure
// command exports. Header-only, no Qt, no torch; filled by results/reader.h.
#pragma once

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace layerscope::results {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// A results file is missing, malformed or inconsistent; the message names the file and the key.
class ResultsError : public Error {
 public:
  using Error::Error;
};

/// Per-layer scores by name ("sensitivity.rel_l2", "rope_influence.gradient", ...); index = layer.
using LayerScores = std::map<std::string, std::vector<double>>;

/// A layer x head matrix (rows = layers, columns = KV heads).
struct HeadMatrix {
  std::vector<std::vector<double>> values;  ///< values[layer][head]
  int layers() const { return int(values.size()); }
  int heads() const { return values.empty() ? 0 : int(values.front().size()); }
};

/// scores.json: the per-layer and per-head profiles of one `analyze` run.
struct Scores {
  int numLayers = 0;
  int numKvHeads = 0;
  LayerScores layerScores;
  std::map<std::string, HeadMatrix> layerHeadScores;
  nlohmann::json model;    ///< model path, fingerprint, adapter, config summary
  nlohmann::json task;     ///< task path, fingerprint, kind, counts
  nlohmann::json options;  ///< every analysis option that produced the scores
  std::map<std::string, double> timingsSeconds;
  std::string createdUtc;

  bool has(const std::string& key) const { return layerScores.count(key) != 0; }
  /// The scores of `key`, or nullptr when absent.
  const std::vector<double>* find(const std::string& key) const {
    auto it = layerScores.find(key);
    return it == layerScores.end() ? nullptr : &it->second;
  }
};

/// stats.json: co-localization statistics between the sensitivity and RoPE-influence profiles.
struct Stats {
  std::string sensitivityKey = "sensitivity.rel_l2";
  std::string ropeKey = "rope_influence.gradient";
  double spearmanR = kNaN, spearmanP = kNaN, spearmanPPerm = kNaN, spearmanCiLow = kNaN, spearmanCiHigh = kNaN;
  double kendallTau = kNaN, kendallP = kNaN;
  int kSens = 0, kRope = 0;
  std::vector<int> topSens, topRope;  ///< S_sens and S_rope, layer indices
  double jaccard = kNaN;
  double centreOfMassSens = kNaN, centreOfMassRope = kNaN;  ///< in layer units
  std::string verdict;      ///< co-localized | anti-localized | inconclusive
  std::string verdictText;  ///< one sentence for titles and reports
};

/// manipulation.json: task accuracy against the layer k where previous-token states are manipulated.
struct ManipulationCurves {
  std::vector<int> k;                                   ///< layers, x axis
  std::map<std::string, std::vector<double>> accuracy;  ///< mode -> accuracy per k
  double baseAccuracy = kNaN;                           ///< unmanipulated model
  nlohmann::json options;
};

/// drop.json: a layer-drop plan with its evaluation.
struct DropPlan {
  struct Module {
    int layer = 0;
    std::string module;  ///< "attn" | "mlp"
  };
  std::string plan;  ///< one-shot | iterative | joint
  int n = 0;
  std::vector<Module> dropped;
  std::map<std::string, std::vector<double>> similarity;  ///< "attn" / "mlp" -> per layer
  double accuracy = kNaN, baseAccuracy = kNaN, speedup = kNaN;
  nlohmann::json options;

  bool isDropped(int layer, const std::string& module) const {
    for (const auto& m : dropped)
      if (m.layer == layer && m.module == module) return true;
    return false;
  }
};

/// report.json: the 4-way cross-layer ablation (docs/methods.md section 8).
struct AblationReport {
  struct Arm {
    std::string name;
    std::vector<int> loraLayers, garfaLayers;
    long long trainableParameters = 0;
    double wallSeconds = kNaN;
    std::map<std::string, double> accuracy;  ///< task -> accuracy in [0, 1] (C5: the mean over its seeds)
    /// An arm of several seeded runs (C5): task -> accuracy of each run, in report order; empty otherwise.
    std::map<std::string, std::vector<double>> runAccuracy;
  };
  std::vector<Arm> arms;
  std::map<std::string, double> baseAccuracy;
  std::vector<std::string> tasks;
};

/// layers.csv: the table view's data, columns in file order.
struct LayerTable {
  std::vector<std::string> columns;         ///< without the leading "layer"
  std::vector<std::vector<double>> rows;    ///< rows[layer][column]
};

/// Everything found in one results directory; at least one part is present.
struct ResultsBundle {
  std::filesystem::path dir;
  std::optional<Scores> scores;
  std::optional<Stats> stats;
  std::optional<LayerTable> layers;
  std::optional<ManipulationCurves> manipulation;
  std::optional<DropPlan> drop;
  std::optional<AblationReport> ablation;
  /// Short fingerprints of the inputs (model, task) for figure captions and export manifests.
  nlohmann::json fingerprints() const {
    nlohmann::json j = nlohmann::json::object();
    if (scores) {
      if (scores->model.contains("fingerprint")) j["model"] = scores->model["fingerprint"];
      if (scores->task.contains("fingerprint")) j["task"] = scores->task["fingerprint"];
    }
    return j;
  }
  /// Number of layers known from any part (0 when none says).
  int numLayers() const {
    if (scores) return scores->numLayers;
    if (layers) return int(layers->rows.size());
    if (manipulation && !manipulation->k.empty()) return int(manipulation->k.size());
    if (drop && !drop->similarity.empty()) return int(drop->similarity.begin()->second.size());
    return 0;
  }
};

}  // namespace layerscope::results
