// "Run 4-way ablation" (docs/methods.md section 8): the analysis results folder (its stats.json top_k), train
// and eval files, steps per arm, C5 control seeds, seed, batch, dtype and output folder; Run / Cancel; progress
// over all arms with an ETA and the experiment's log. The run is an AblationJob on the shared JobRunner
// (experiments::runAblation in-process, the function `layerscope-cli ablate` calls). Cancel stops before the
// next step; finished arms stay and a run into the same folder resumes arm by arm. report.json appears only
// when every arm is done. Estimate (before the run) shows each arm's training time and the total from
// experiments::estimateTraining (a layer-rate probe measured on this machine per arm), as a cancellable job.
// The analysis folder and train file follow the analysis on screen until the user edits them; a warning shows
// while an eval file is the train file.
#pragma once

#include <QElapsedTimer>
#include <QJsonObject>
#include <QPointer>
#include <QSet>
#include <QWidget>
#include <utility>

#include "app/gui/ablation_job.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace layerscope::app {

class Job;
class JobRunner;
struct SettingWidget;

class AblationPanel : public QWidget {
  Q_OBJECT
 public:
  explicit AblationPanel(JobRunner* runner, QWidget* parent = nullptr);

  void setModelDir(const QString& dir);
  /// The analysis on screen: the analysis results folder becomes `dir` when it holds stats.json, and the train
  /// file `taskFile` (the analysis's task) when it is a file; inputs the user edited stay, nothing changes while
  /// the ablation runs.
  void setAnalysisDir(const QString& dir, const QString& taskFile = {});
  /// True once the user typed into `edit` or browsed for it (kept in sessions).
  bool isUserSet(const QLineEdit* edit) const { return userSet_.contains(edit); }
  /// Shown while one of the eval files is the train file (compared after resolving the paths).
  QLabel* sameFileWarning() const { return sameFile_; }
  /// The job the inputs describe (the output folder as typed; start() fills an empty one).
  AblationJob jobFromPanel() const;
  /// Starts the ablation; false (with failed()) when an input is missing, false while another job runs.
  bool start();
  /// Starts the estimate of every arm's training time (a job on the runner); false while another job runs or
  /// when an input is missing (the reason is then shown where the estimate goes, not a number).
  bool startEstimate();
  /// Cancels the running ablation or estimate.
  void cancel();
  bool isRunning() const { return !job_.isNull(); }
  bool isEstimating() const { return !estimateJob_.isNull(); }
  /// The total of the estimate on screen in seconds; < 0 when none is shown (none yet, an error, inputs changed).
  double estimatedSeconds() const { return estimatedSeconds_; }
  /// Overall fraction of the running (or last finished) ablation, in [0, 1].
  double fraction() const { return fraction_; }

  /// Sessions (panel_sessions.cpp): the inputs as one object, and back; problems as "ablation.KEY: ...".
  QJsonObject sessionJson() const;
  void applySessionJson(const QJsonObject& o, QStringList& problems);

  QLineEdit* analysisEdit() const { return analysisEdit_; }
  QLineEdit* trainEdit() const { return trainEdit_; }
  QLineEdit* evalEdit() const { return evalEdit_; }
  QLineEdit* outEdit() const { return outEdit_; }
  QSpinBox* stepsSpin() const { return steps_; }
  QSpinBox* controlSeedsSpin() const { return controlSeeds_; }
  QSpinBox* seedSpin() const { return seed_; }
  QSpinBox* batchSpin() const { return batch_; }
  QComboBox* dtypeCombo() const { return dtype_; }
  QPushButton* startButton() const { return startButton_; }
  QPushButton* estimateButton() const { return estimateButton_; }
  QLabel* estimateLabel() const { return estimate_; }
  QPushButton* cancelButton() const { return cancelButton_; }
  QLabel* statusLabel() const { return status_; }
  QPlainTextEdit* logView() const { return log_; }

 Q_SIGNALS:
  /// report.json was written into `outDir`.
  void finished(const QString& outDir);
  void cancelled();
  void failed(const QString& title, const QString& message);
  /// An estimate (ok) or the reason there is none (!ok) is on screen.
  void estimateShown(bool ok);

 private:
  void onProgress(const QString& stage, double fraction, double etaSeconds);
  void setRunning(bool running);
  void updateButtons();
  /// Why the inputs cannot run (title and message), or an empty title.
  std::pair<QString, QString> inputProblem(const AblationJob& job) const;
  void showEstimate(const QString& html, double seconds);
  void clearEstimate();
  void checkSameFile();
  /// The inputs a session saves, by key.
  QList<SettingWidget> settingWidgets() const;

  JobRunner* runner_;
  QPointer<Job> job_;
  QPointer<Job> estimateJob_;
  double estimatedSeconds_ = -1;
  QString modelDir_, runningOut_;
  QElapsedTimer clock_;
  double fraction_ = 0;

  QLabel* modelLabel_;
  QLineEdit* analysisEdit_;
  QLineEdit* trainEdit_;
  QLineEdit* evalEdit_;
  QLineEdit* outEdit_;
  QSpinBox* steps_;
  QSpinBox* controlSeeds_;
  QSpinBox* seed_;
  QSpinBox* batch_;
  QComboBox* dtype_;
  QPushButton* startButton_;
  QPushButton* estimateButton_;
  QPushButton* cancelButton_;
  QProgressBar* progress_;
  QLabel* status_;
  QLabel* estimate_;
  QLabel* sameFile_;
  QPlainTextEdit* log_;
  QSet<const QLineEdit*> userSet_;  // inputs the user chose: the analysis on screen no longer fills them
};

}  // namespace layerscope::app
