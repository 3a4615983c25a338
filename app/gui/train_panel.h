// "Train on selection": LS-LoRA / GARFA fine-tuning from the GUI (docs/methods.md section 7). The linked layer
// selection or the analysis's S_sens / S_rope fill the layer sets; hyperparameters default to docs/methods.md
// section 7; Start / Cancel / Resume and "Evaluate vs base" run as jobs on the shared JobRunner (one job at a
// time, the base model kept between jobs); a live LossCurveView, tokens/s and ETA; when done the adapter folder
// and "Analyse with this adapter". The task and layer sets follow the analysis on screen until the user edits them.
#pragma once

#include <QJsonObject>
#include <QPointer>
#include <QSet>
#include <QVector>
#include <QWidget>

#include "app/gui/train_jobs.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace layerscope::views {
class LayerSelection;
class LossCurveView;
}  // namespace layerscope::views

namespace layerscope::app {

class Job;
class JobRunner;
struct SettingWidget;

class TrainPanel : public QWidget {
  Q_OBJECT
 public:
  explicit TrainPanel(JobRunner* runner, QWidget* parent = nullptr);

  void setModelDir(const QString& dir);
  QString modelDir() const { return modelDir_; }
  /// The linked selection used by "Use selection" (and prefillFromSelection).
  void setSelection(views::LayerSelection* selection) { selection_ = selection; }
  /// S_sens / S_rope of the analysis shown (stats.json top_k); empty disables the buttons.
  void setTopK(const QVector<int>& sSens, const QVector<int>& sRope);
  /// Both layer sets from the current selection (no-op when nothing is selected). Returns true if filled.
  bool prefillFromSelection();
  /// Both layer sets from S_sens (true) or S_rope (false).
  bool prefillFromTopK(bool sens);
  /// The analysis on screen: its task file and top-k sets. setTopK, then every input the user has not edited
  /// follows it: the train file becomes the task (when it is a file), LS-LoRA S_sens, GARFA S_rope. An empty
  /// task means no analysis (Analyse with this adapter is then disabled).
  void setAnalysisDefaults(const QString& taskFile, const QVector<int>& sSens, const QVector<int>& sRope);
  /// When the dock opens: the layer sets the user has not edited from the linked selection when layers are
  /// selected, else LS-LoRA from S_sens and GARFA from S_rope.
  void prefillUnedited();
  /// True once the user typed into `edit`, browsed for it or filled it with a button (kept in sessions).
  bool isUserSet(const QLineEdit* edit) const { return userSet_.contains(edit); }
  /// Starts a fine-tune (resume: from the output folder's newest checkpoint, with its recorded options).
  /// False (with failed()) if it cannot start, false while another job runs.
  bool startTraining(bool resume = false);
  /// Shows a finished run's curves from DIR/training_log.json (training loss per step, the learning rate from the
  /// recorded schedule, held-out points) as this run; the run on screen becomes a dashed earlier run. Returns the
  /// problem ("" when shown; "no training_log.json" when DIR holds none). Implemented in train_log.cpp.
  QString showTrainingRun(const QString& dir);
  bool startEvaluation();
  void cancel();
  bool isRunning() const { return !job_.isNull(); }
  /// Restores the hyperparameters and layer sets recorded in DIR/train_options.json (false if absent).
  bool loadOptionsFrom(const QString& dir);
  TrainJob jobFromPanel() const;
  /// Estimate: the dock's fine-tune costed before it runs (app/gui/train_estimate.cpp); false when busy or no model.
  bool startEstimate();
  /// The estimate's table (HTML), or empty when none is shown.
  QString estimateText() const;
  /// Adapter folders trained in this window, oldest first (a folder trained again moves to the end).
  QStringList trainedAdapters() const { return trainedAdapters_; }
  /// Sessions (panel_sessions.cpp): every input, the loss curves and the status lines as one object, and back;
  /// problems are appended as "train.KEY: ...".
  QJsonObject sessionJson() const;
  void applySessionJson(const QJsonObject& o, const QStringList& trainedAdapters, QStringList& problems);

  // Widgets, for MainWindow and tests.
  QLineEdit* loraLayersEdit() const { return loraEdit_; }
  QLineEdit* garfaLayersEdit() const { return garfaEdit_; }
  QLineEdit* trainFileEdit() const { return trainEdit_; }
  QLineEdit* evalFileEdit() const { return evalEdit_; }
  QLineEdit* outDirEdit() const { return outEdit_; }
  QSpinBox* stepsSpin() const { return steps_; }
  QSpinBox* batchSpin() const { return batch_; }
  QSpinBox* rankSpin() const { return rank_; }
  QSpinBox* checkpointEverySpin() const { return checkpointEvery_; }
  QPushButton* startButton() const { return startButton_; }
  QPushButton* cancelButton() const { return cancelButton_; }
  QPushButton* resumeButton() const { return resumeButton_; }
  QPushButton* evaluateButton() const { return evalButton_; }
  QPushButton* estimateButton() const { return estimateButton_; }
  /// "Analyse with this adapter": the analysis on screen again with the newest adapter trained here.
  QPushButton* analyseButton() const { return analyseButton_; }
  QLabel* sameFileWarning() const { return sameFile_; }
  views::LossCurveView* lossView() const { return loss_; }
  QLabel* resultLabel() const { return result_; }
  QLabel* evalResultLabel() const { return evalResult_; }
  QLabel* statusLabel() const { return status_; }
  QDoubleSpinBox* smoothingSpin() const { return smoothing_; }
  QCheckBox* logScaleBox() const { return logScale_; }

 Q_SIGNALS:
  void trainingFinished(const QString& adapterDir);
  void trainingCancelled();
  void evaluationFinished(const layerscope::app::EvalOutcome& outcome);
  /// "Analyse with this adapter" was pressed: run the analysis on screen with `adapterDir` and compare.
  void analyseWithAdapterRequested(const QString& adapterDir);
  /// A job failed or could not start; MainWindow shows the dialog.
  void failed(const QString& title, const QString& message);
  /// An estimate was shown (`fits` false: above the available memory, or refused).
  void estimateShown(bool fits);

 private:
  /// Connects the outcome signals shared by training and evaluation.
  void watch(Job* job);
  void setRunning(bool running);
  /// Start / Resume / Evaluate wait while any job runs (one at a time across the panels).
  void updateButtons();
  void onSteps(const QVariantList& steps);
  void onTrained(const TrainOutcome& o);
  void onEvaluated(const EvalOutcome& o);
  void onStage(const QString& text, double fraction, double etaSeconds);
  void onCancelled();
  void onFailed(const QString& message);
  QString defaultOutDir() const;
  /// The inputs a session saves, by key.
  QList<SettingWidget> settingWidgets() const;

  JobRunner* runner_;
  QPointer<Job> job_;
  views::LayerSelection* selection_ = nullptr;
  QString modelDir_;
  QVector<int> sSens_, sRope_;
  bool evaluating_ = false, stepSeen_ = false;

  QLabel* modelLabel_;
  QLineEdit* loraEdit_;
  QLineEdit* garfaEdit_;
  QList<QPushButton*> topKButtons_;
  QSpinBox* rank_;
  QDoubleSpinBox* alpha_;
  QDoubleSpinBox* dropout_;
  QLineEdit* targets_;
  QDoubleSpinBox* loraLr_;
  QDoubleSpinBox* garfaLr_;
  QCheckBox* clamp_;
  QCheckBox* evalLoss_ = nullptr;  ///< held-out loss curve on the eval file during training
  QDoubleSpinBox* minAlpha_;
  QDoubleSpinBox* maxAlpha_;
  QSpinBox* steps_;
  QSpinBox* batch_;
  QSpinBox* gradAccum_;
  QSpinBox* processes_;  ///< > 1: layerscope-cli launch --nproc N (app/gui/cli_processes.h)
  QSpinBox* checkpointEvery_;
  QSpinBox* seed_;
  QComboBox* dtype_;
  QComboBox* device_;
  QLineEdit* trainEdit_;
  QLineEdit* evalEdit_;
  QLineEdit* outEdit_;
  QPushButton* startButton_;
  QPushButton* cancelButton_;
  QPushButton* resumeButton_;
  QPushButton* evalButton_;
  QPushButton* estimateButton_;
  QLabel* estimate_ = nullptr;  ///< the estimate's table, under the buttons
  QPushButton* makeEstimateButton();  ///< also makes estimate_
  QPushButton* analyseButton_;
  QLabel* sameFile_;
  QString analysisTask_;              // task file of the analysis on screen ("" = none)
  QSet<const QLineEdit*> userSet_;    // inputs the user chose: the analysis on screen no longer fills them
  QProgressBar* progress_;
  QLabel* status_;
  QLabel* result_;
  QLabel* evalResult_;
  QDoubleSpinBox* smoothing_ = nullptr;
  QCheckBox* logScale_ = nullptr;
  QString lastRunLabel_;         // the finished run on the loss curve (kept as an earlier run when a new one starts)
  QVector<double> lastRunSteps_;
  QStringList trainedAdapters_;
  views::LossCurveView* loss_;
};

}  // namespace layerscope::app
