// The LayerScope main window: the frame (menus, docks, status bar, error dialogs) that wires the panels to each
// other and to the one JobRunner: model / task inputs and analysis options (left dock), the results tabs
// (centre), training and the 4-way ablation (right docks, hidden until asked for), sessions, recent files
// (AppSettings, one INI file) and the first-start demo offer.
#pragma once

#include <QMainWindow>
#include <optional>

#include "app/gui/session.h"
#include "results/results.h"

class QDockWidget;
class QMenu;
class QPushButton;
class QTabWidget;

namespace layerscope::views {
class LayerSelection;
class LayersTableModel;
class PlotView;
}  // namespace layerscope::views

namespace layerscope::app {

class AblationPanel;
class AnalysisPanel;
struct AnalysisJob;
struct DemoFiles;
class Job;
struct SplitCheck;
class AppSettings;
class InputsPanel;
class JobRunner;
class ResultsArea;
class TrainPanel;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  /// `settingsFile`: the one INI file for recent files, window layout and preferences.
  explicit MainWindow(const QString& settingsFile, QWidget* parent = nullptr);
  /// Cancels a running job and waits for it to stop.
  ~MainWindow() override;

  /// Opens a results directory (merged with those already shown when `add`); errors go to a dialog.
  bool openResults(const QString& dir, bool add = false);
  /// File > Compare items with results folder: the items shown (A) against `dir`'s items.jsonl (B), paired by id,
  /// in the Items tab. Errors are dialogs; false when nothing was compared.
  bool compareItemsWith(const QString& dir);
  void setModelDir(const QString& dir);
  void setAdapterDir(const QString& dir);
  void addTaskFile(const QString& file);
  /// Starts an analysis of the model on the selected task into `outDir` (empty: a new folder under the results
  /// root); false (with a dialog) if an input is missing, false while any job runs. In outcome mode a short
  /// check comes first (split_check.h): a task the model answers all right or all wrong is refused at once.
  bool startAnalysis(const QString& outDir = {});
  void cancelAnalysis();
  /// "Analyse with this adapter": the analysis on screen (its scores.json: model, task, options) run again with
  /// `adapterDir` applied into a new folder under the results root; when it finishes, the Runs tab compares it
  /// with the base results (base = A, adapted = B). False (with a dialog) when no analysis is on screen, its model
  /// or task is gone, the adapter was trained on another model, or a job runs.
  bool analyseWithAdapter(const QString& adapterDir);
  /// An analysis is running.
  bool isRunning() const;
  Session currentSession() const;
  /// Restores a session; a model folder that has moved is a question (locate it?), not a failure. Returns the
  /// values that could not be applied ("KEY: problem"; openSessionFile shows them in one dialog naming the file).
  QStringList applySession(const Session& s);
  /// Shows the "Train on selection" dock, its layer sets filled from the selection (else S_sens).
  void showTrainPanel();
  void showAblationPanel();
  /// When true, errors are emitted as errorShown() instead of modal dialogs (tests).
  void setQuietErrors(bool quiet) { quietErrors_ = quiet; }
  /// Offers the bundled demo model and tasks when they exist and this is the first start.
  void offerDemoOnFirstStart();
  /// Opens the demo: its model, every task file, and selects defaultDemoTask() (first_run.h).
  void openDemo(const DemoFiles& demo);
  /// Reads and applies a session file; false (with an error dialog naming the file) when it cannot be read.
  /// Values it could not apply are one dialog naming the file and each key (the rest is applied).
  bool openSessionFile(const QString& file);
  /// Saves currentSession() to `file` and lists it under File > Recent Sessions; false (with a dialog) on error.
  bool saveSessionFile(const QString& file);
  /// At start: when File > Reopen last session at start is on and the window wrote one when it last closed,
  /// opens it (true); else false.
  bool reopenLastSession();
  AppSettings* appSettings() const { return settings_; }
  QMenu* recentSessionsMenu() const { return recentSessionsMenu_; }
  /// Sensitivity mode "pairs" in the options and, when it exists, the pairs form of `taskFile` added and selected.
  void switchToPairsMode(const QString& taskFile);

  // For tests and the screenshot script.
  QTabWidget* tabs() const;
  views::LayerSelection* selection() const;
  const std::optional<results::ResultsBundle>& bundle() const;
  QList<views::PlotView*> plotViews() const;
  views::LayersTableModel* layersModel() const;
  QPushButton* runButton() const;
  QPushButton* cancelButton() const;
  AnalysisPanel* analysisPanel() const { return analysis_; }
  ResultsArea* resultsArea() const { return results_; }
  TrainPanel* trainPanel() const { return trainPanel_; }
  AblationPanel* ablationPanel() const { return ablationPanel_; }
  JobRunner* jobRunner() const { return runner_; }
  InputsPanel* inputsPanel() const { return inputs_; }

 Q_SIGNALS:
  void analysisFinished(const QString& resultsDir);
  void analysisCancelled();
  void analysisFailed(const QString& message);
  /// The adapted analysis of analyseWithAdapter finished and the comparison with the base is on screen.
  void adapterComparisonShown(const QString& baseDir, const QString& adaptedDir);
  void errorShown(const QString& message);
  void modelSummaryReady();

 protected:
  void closeEvent(QCloseEvent* e) override;

 private:
  void buildDocks();
  void buildMenus();
  void connectPanels();
  void showError(const QString& title, const QString& message);
  void rebuildRecentMenu();
  /// File menu: Save / Open session, Recent Sessions, Reopen last session at start.
  void buildSessionMenu(QMenu* file);
  void saveSessionAs();
  void openSessionDialog();
  /// New results: the training panel's S_sens / S_rope and the ablation's analysis folder follow them.
  void onResultsChanged();
  /// The outcome-split check of startAnalysis, then the analysis itself when the task has both outcomes.
  bool startSplitCheck(const AnalysisJob& job);
  /// The analysis panel's options with the model, adapter and task of the inputs; nullopt (after an error dialog)
  /// when one is missing or a job runs.
  std::optional<AnalysisJob> completedAnalysisJob();
  /// A one-sided task: the GUI-worded message with "Use pairs mode" (and "Run anyway" after a sample).
  void refuseOneSidedTask(const AnalysisJob& job, const SplitCheck& check);

  AppSettings* settings_;
  JobRunner* runner_;
  ResultsArea* results_;
  InputsPanel* inputs_;
  AnalysisPanel* analysis_;
  TrainPanel* trainPanel_;
  AblationPanel* ablationPanel_;
  QDockWidget* trainDock_ = nullptr;
  QDockWidget* ablationDock_ = nullptr;
  QMenu* recentMenu_ = nullptr;
  QMenu* recentSessionsMenu_ = nullptr;
  Job* splitCheckJob_ = nullptr;
  QString comparisonBase_, comparisonAdapted_;  // analyseWithAdapter's folders while its analysis runs
  bool quietErrors_ = false;
};

}  // namespace layerscope::app
