// An analysis run as a job for the JobRunner: the options panel's values as plain Qt values, turned into an
// analysis::AnalyzeRequest (defaults of docs/methods.md) and run by analysis::runAnalysis on the worker thread.
#pragma once

#include <QString>
#include <QStringList>
#include <QVariant>

namespace layerscope::analysis {
struct AnalyzeRequest;  // analysis/pipeline.h
}
namespace layerscope::results {
struct Scores;  // results/results.h
}

namespace layerscope::app {

class JobContext;

/// Names of the registered extra profiles that run by default (analysis::defaultProfileNames()).
QStringList defaultExtraProfiles();

/// Everything one analysis run needs.
struct AnalysisJob {
  QString modelDir;
  QString adapterDir;   ///< empty: none
  QString taskFile;
  QString outDir;       ///< results directory to create (must not exist)
  // options of docs/methods.md (defaults as in AnalyzeRequest)
  QString sensitivityMode = QStringLiteral("outcome");
  QString position = QStringLiteral("auto");
  QString metric = QStringLiteral("rel_l2");  ///< co-localization profile; all metrics are computed
  QString ropeMode = QStringLiteral("gradient");
  bool redundancy = true;
  QString semantics = QStringLiteral("layerscope");  ///< layerscope | llm-drop | shortgpt | afcl
  QStringList manipulations;
  /// Registered extra per-layer profiles to run (analysis/profile_registry.h), e.g. "logit_lens".
  QStringList profiles = defaultExtraProfiles();
  /// The co-localization pair: layer_scores keys, "" = that side's default (sensitivity.<metric> /
  /// rope_influence.<ropeMode>).
  QString colocFirst, colocSecond;
  int kSens = 0, kRope = 0;  ///< 0 = ceil(0.28 L) / ceil(0.31 L)
  int bootstrap = 1000;
  qulonglong seed = 1234;
  double eps = 0.1;
  QString dtype = QStringLiteral("float32");
  QString device = QStringLiteral("auto");  ///< cpu | cuda:N | auto
  int batchSize = 0;  // 0 = auto (AnalyzeRequest::batchSize)
  /// > 1: a local data-parallel run of that many processes (`layerscope-cli launch`, app/gui/cli_processes.h).
  int processes = 1;
};

/// The request `job` stands for. A pair with one side chosen gets the other side's default, since the pipeline
/// takes both keys or neither.
analysis::AnalyzeRequest analyzeRequestOf(const AnalysisJob& job);

/// The analysis that wrote `scores` (scores.json: model and task paths, "options"), as a job: what "Analyse with
/// this adapter" runs again with an adapter. Every option the job has is taken from the record (a key the record
/// lacks keeps the job's default); options the GUI does not set (the CLI's --stop-string, --rope-loss, ...) take
/// their defaults. The adapter and the output folder are left empty, the device "auto".
AnalysisJob analysisJobOfScores(const results::Scores& scores);

/// The cost estimate of `job` (analysis/cost_estimate.h, docs/scale.md), measured on layers of the model's shape:
/// {"text": the table, "peak_bytes", "available_bytes" (resident + available memory now), "seconds"}. Throws the
/// plan's InvalidArgument when even one row does not fit.
QVariant estimateAnalysisJob(const AnalysisJob& job, JobContext& ctx);

/// `layerscope-cli analyze` arguments for the request of `job` (analyzeRequestOf): what a multi-process run executes.
QStringList analyzeArgsOf(const AnalysisJob& job);

/// The job body: writes the results directory job.outDir (atomically; nothing when cancelled or failed) and
/// returns it as a QString. With job.processes > 1 the analysis runs in that many local processes.
QVariant runAnalysisJob(const AnalysisJob& job, JobContext& ctx);

}  // namespace layerscope::app
