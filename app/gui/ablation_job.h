// The 4-way cross-layer ablation (docs/methods.md section 8) as a job for the JobRunner: the ablation panel's
// inputs as plain Qt values, run in-process by experiments::runAblation (the function `layerscope-cli ablate`
// calls) on the runner's kept base model.
#pragma once

#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVariant>

namespace layerscope::core {
class JobControl;
}  // namespace layerscope::core

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

/// One arm's training as experiments::estimateTraining plans it (`train --dry-run`'s numbers).
struct AblationArmEstimate {
  QString name;                 ///< C1..C4, C5-s0, ...
  QString lora, garfa;          ///< layer lists ("3,5-7", "none")
  int backwardLayers = 0;       ///< from the first adapted layer up
  double seconds = 0;           ///< training alone (steps), without loading the model
  double secondsPerStep = 0;
  double peakBytes = 0;
  double msPerToken = 0;        ///< measured: one layer's forward + backward per row-token
  int probeBatch = 0, probeTokens = 0;
};

/// The ablation's training time before it runs: every arm of experiments::ablationArms (on the analysis's top-k
/// sets) through experiments::estimateTraining, each arm with its own layer-rate probe measured on this machine.
/// Evaluations (the base and every arm on every eval file) are not included.
struct AblationEstimate {
  QList<AblationArmEstimate> arms;
  double loadSeconds = 0;   ///< reading the weights once (counted even when the runner already holds the model)
  double seconds = 0;       ///< loadSeconds + every arm's training
  double peakBytes = 0;     ///< the largest arm's peak resident memory
  double budgetBytes = 0;   ///< what the process may grow to (resident + MemAvailable)
  QString dtype, device;
  qulonglong items = 0;     ///< training sequences
  double meanTokens = 0;
  int evalFiles = 0;
};

/// Throws InvalidArgument naming the file on a bad configuration (no stats.json top-k, top-k layers the model
/// lacks, an unreadable train file, empty layer sets), Cancelled when `job` is stopped; writes nothing.
AblationEstimate estimateAblation(const AblationJob& job, const core::JobControl* control = nullptr);

/// The estimate as the panel shows it: the total, a table of the arms and the basis ("measured rate on this
/// machine ..."), with a warning when the largest arm's peak exceeds the memory available.
QString ablationEstimateHtml(const AblationEstimate& estimate, const AblationJob& job);

/// The job body of the panel's Estimate: estimateAblation with the runner's progress and cancel.
QVariant estimateAblationJob(const AblationJob& job, JobContext& ctx);

/// The job body: posts the experiment's log lines (QString) and returns outDir once report.json is written.
QVariant runAblationJob(const AblationJob& job, JobContext& ctx);

}  // namespace layerscope::app

Q_DECLARE_METATYPE(layerscope::app::AblationEstimate)
