// The numbers of the reproduce report (docs/reproduce.md, "The report"), read from a `reproduce` results folder:
// the analysis and ablation bundles, HumanEval(+) pass@1 per arm, the "paper vs this run" rows and the provenance.
// Plain C++ (no Qt): views/report_writer.h draws and writes it. Every table here is also written as CSV.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/results.h"

namespace layerscope::views {

/// A table as text cells, written both into the report and as CSV beside it.
struct ReportTable {
  std::string name;  ///< file stem of its CSV (data/<name>.csv)
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string csv() const;
};

/// The values the study reported in its abstract (arXiv 2604.07766), on Llama 3.1 8B.
struct PaperValues {
  static constexpr int kLayers = 32;
  static constexpr double kSpearmanR = -0.735;
  static constexpr double kSpearmanP = 1.66e-6;
  static constexpr double kHumanEvalPlusPassAt1 = 0.671;
  static constexpr double kAblationMarginLowPts = 4, kAblationMarginHighPts = 16;
  static std::vector<int> sensitivityLayers();  ///< 23-31
  static std::vector<int> ropeLayers();         ///< 0-9
};

/// HumanEval(+) pass@1 of one arm (C5: the mean over its seed runs).
struct CodeArmResult {
  std::string arm;  ///< base, C1..C4, C5
  double passAt1 = results::kNaN;
  int passed = 0, problems = 0, runs = 0;
  double seconds = 0;  ///< generation + execution, summed over runs
};

struct ReproduceReportData {
  std::filesystem::path dir;          ///< the reproduce output folder
  nlohmann::json summary;             ///< summary.json
  results::ResultsBundle bundle;      ///< analysis/ merged with ablation/ (HumanEval pass@1 added as a task)
  std::vector<CodeArmResult> code;    ///< empty when HumanEval(+) was missing
  std::string codeTask;               ///< the task name HumanEval got in bundle.ablation ("" when none)
  bool sameShapeAsPaper = false;      ///< the model's config has Llama 3.1 8B's shape
  std::vector<std::string> shapeDifferences;  ///< "layers 12 vs 32", ... (empty when the same shape)

  ReportTable paperVsRun() const;
  ReportTable colocalization() const;  ///< r_s, p, permutation p, bootstrap CI, Kendall, Jaccard, verdict
  ReportTable topK() const;            ///< S_sens and S_rope with k, and the paper's
  ReportTable ablation() const;        ///< accuracy per task and arm, deltas vs base and C1 - best other
  ReportTable humaneval() const;
  ReportTable provenance() const;      ///< model, task, fingerprints, options, version, machine, timings
  /// Every value of the tables above and the summary, as one JSON document (data/report.json).
  nlohmann::json toJson() const;
};

/// Reads `dir` (summary.json, analysis/, ablation/report.json, humaneval/<arm>/result.json). Throws
/// results::ResultsError naming the file when a part is missing or malformed.
ReproduceReportData readReproduceReport(const std::filesystem::path& dir);

/// "23-31", "0-3, 7, 9-10" (sorted, runs joined).
std::string layerRanges(std::vector<int> layers);

}  // namespace layerscope::views
