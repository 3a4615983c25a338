// "Analysis" (left dock, under the inputs): the options of an analysis run with the defaults of
// docs/methods.md, one checkbox per registered extra profile (analysis::registeredProfiles()), the
// co-localization pair, Run / Cancel, and progress with stage, percent and ETA. The run is an AnalysisJob on the
// shared JobRunner; the window supplies the model, task and output folder (runRequested) and shows the results.
#pragma once

#include <QElapsedTimer>
#include <QGroupBox>
#include <QJsonObject>
#include <QPointer>

#include "app/gui/analysis_job.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace layerscope::app {

class Job;
class JobRunner;

class AnalysisPanel : public QGroupBox {
  Q_OBJECT
 public:
  explicit AnalysisPanel(JobRunner* runner, QWidget* parent = nullptr);

  /// The panel's options as a job; modelDir, adapterDir, taskFile and outDir are left empty.
  AnalysisJob jobOptions() const;
  /// The options for a session file (snake_case keys), and back; absent keys keep the current value.
  QJsonObject optionsJson() const;
  void applyOptionsJson(const QJsonObject& o);

  /// Starts `job` on the runner; false while a job runs.
  bool start(const AnalysisJob& job);
  /// Starts the cost estimate of `job` (no output folder needed) and shows it under Run; false while a job runs.
  bool startEstimate(const AnalysisJob& job);
  /// The estimate's text (the table, or why the run would not fit), empty before the first estimate.
  QString estimateText() const;
  QPushButton* estimateButton() const { return estimateButton_; }
  /// Asks the running analysis to stop at its next layer / batch check.
  void cancel();
  bool isRunning() const { return !job_.isNull(); }

  /// One checkbox per registered extra profile, in registration order; objectName() is the profile's name.
  const QList<QCheckBox*>& profileBoxes() const { return profileBoxes_; }
  /// The checkbox of the profile called `name`, or nullptr.
  QCheckBox* profileBox(const QString& name) const;
  /// The co-localization pair: item data is the layer_scores key, "" for the side's default (first item).
  QComboBox* colocFirstCombo() const { return colocFirst_; }
  QComboBox* colocSecondCombo() const { return colocSecond_; }
  QComboBox* semanticsCombo() const { return semantics_; }

  /// Takes Run / Cancel, the progress bar and the status line out of the panel for the caller to place (the
  /// window keeps them under the scrolling options, always in view); the caller owns the returned widget.
  QWidget* detachRunControls();

  QPushButton* runButton() const { return runButton_; }
  QPushButton* cancelButton() const { return cancelButton_; }
  QLabel* statusLabel() const { return status_; }

 Q_SIGNALS:
  /// Run was clicked: the window completes the job and calls start().
  void runRequested();
  /// Estimate was clicked: the window completes the job and calls startEstimate().
  void estimateRequested();
  /// An estimate was shown (`fits` false: above the available memory, or refused by the memory plan).
  void estimateShown(bool fits);
  /// The running job's stage and fraction (-1: unknown), as the status line shows them.
  void progressShown(const QString& stage, double fraction);
  void finished(const QString& resultsDir);
  void cancelled();
  void failed(const QString& message);

 private:
  void onProgress(const QString& stage, double fraction, double etaSeconds);
  /// Refills the pair's combos with the layer_scores keys the current options produce (analysis::layerScoreKeys,
  /// interval bounds left out), keeping each side's choice while its key is still produced, else its default.
  void refreshColocKeys();
  void selectColocKey(QComboBox* combo, const QString& key);
  void setRunning(bool running);
  /// Run waits while any job runs (one at a time across the panels); Cancel while this one runs.
  void updateButtons();

  JobRunner* runner_;
  QPointer<Job> job_;
  QElapsedTimer clock_;

  QComboBox* sensMode_;
  QComboBox* position_;
  QComboBox* metric_;
  QComboBox* ropeMode_;
  QComboBox* semantics_;  ///< definition of redundancy / manipulations (docs/analyses.md)
  QDoubleSpinBox* eps_;
  QCheckBox* redundancy_;
  QListWidget* manipulations_;
  QList<QCheckBox*> profileBoxes_;
  QComboBox* colocFirst_;
  QComboBox* colocSecond_;
  QSpinBox* kSens_;
  QSpinBox* kRope_;
  QSpinBox* bootstrap_;
  QSpinBox* seed_;
  QComboBox* dtype_;
  QComboBox* device_;
  QSpinBox* batch_;
  QSpinBox* processes_;  ///< > 1: layerscope-cli launch --nproc N (app/gui/cli_processes.h)
  QWidget* runControls_;
  QPushButton* runButton_;
  QPushButton* cancelButton_;
  QPushButton* estimateButton_;
  QLabel* estimate_;
  QProgressBar* progress_;
  QLabel* status_;
};

}  // namespace layerscope::app
