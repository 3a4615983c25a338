// The 4-way cross-layer ablation (docs/methods.md section 8) as a job for the JobRunner: the ablation panel's
// inputs as plain Qt values, run in-process by experiments::runAblation (the function `layerscope-cli ablate`
// calls) on the runner's kept base model.
#pragma once

#include <QString>
#include <QStringList>
#include <QVariant>

namespace layerscope::app {

class JobContext;

/// The panel's inputs; every other option keeps the default of docs/methods.md (as the CLI's).
struct AblationJob {
  QString modelDir;
  QString analysisDir;    ///< results folder whose stats.json has top_k.S_sens / S_rope
  QString trainFile;      ///< task JSONL, or demo:N / demo:FAMILY:N
  QStringList evalFiles;  ///< at least one
  int steps = 200;        ///< per arm
  int controlSeeds = 3;   ///< C5 runs
  qulonglong seed = 0;
  int batchSize = 8;
  QString dtype = QStringLiteral("float32");
  QString outDir;         ///< report.json, report.csv, arms/, logs/; an existing one resumes arm by arm
};

/// The job body: posts the experiment's log lines (QString) and returns outDir once report.json is written.
QVariant runAblationJob(const AblationJob& job, JobContext& ctx);

}  // namespace layerscope::app
