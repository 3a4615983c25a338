// The LayerScope main window: model / adapter / task inputs with a model summary, the analysis options
// panel (METHODS defaults), Run / progress with ETA / Cancel through AnalysisWorker on its own thread, the
// linked views in tabs, figure export, sessions and recent files (QSettings in one INI file).
#pragma once

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QMainWindow>
#include <QPointer>
#include <QThread>
#include <optional>

#include "app/gui/analysis_worker.h"
#include "app/gui/session.h"
#include "results/results.h"
#include "views/figure_style.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSettings;
class QSpinBox;
class QTableView;
class QTabWidget;
class QTextBrowser;
class QDockWidget;

namespace layerscope::views {
class AblationView;
class HeatmapView;
class LayerSelection;
class LayersTableModel;
class ManipulationView;
class PlotView;
class ProfileView;
class RedundancyView;
class ScatterView;
}  // namespace layerscope::views

namespace layerscope::app {

class AblationLauncher;
class TrainPanel;

/// Model summary computed off the GUI thread (config.json + safetensors headers only, no weights).
struct ModelSummary {
  QString dir;
  QString html;   ///< the panel text
  QString error;  ///< non-empty when the folder is not a loadable model
};

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  /// `settingsFile`: the one INI file for recent files, window layout and preferences.
  explicit MainWindow(const QString& settingsFile, QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Opens a results directory (merged with those already shown when `add`); errors go to a dialog.
  bool openResults(const QString& dir, bool add = false);
  void setModelDir(const QString& dir);
  void setAdapterDir(const QString& dir);
  void addTaskFile(const QString& file);
  /// Starts an analysis of the model on the selected task into `outDir`; false (with a dialog) if it cannot.
  bool startAnalysis(const QString& outDir = {});
  void cancelAnalysis();
  bool isRunning() const { return running_; }
  Session currentSession() const;
  void applySession(const Session& s);

  // For tests and the screenshot script.
  QTabWidget* tabs() const { return tabs_; }
  views::LayerSelection* selection() const { return selection_; }
  const std::optional<results::ResultsBundle>& bundle() const { return bundle_; }
  QList<views::PlotView*> plotViews() const;
  views::LayersTableModel* layersModel() const { return tableModel_; }
  QPushButton* runButton() const { return runButton_; }
  QPushButton* cancelButton() const { return cancelButton_; }
  TrainPanel* trainPanel() const { return trainPanel_; }
  AblationLauncher* ablationLauncher() const { return ablationLauncher_; }
  /// Shows the "Train on selection" dock, its layer sets filled from the selection (else S_sens).
  void showTrainPanel();
  void showAblationLauncher();
  /// When true, errors are emitted as errorShown() instead of modal dialogs (tests).
  void setQuietErrors(bool quiet) { quietErrors_ = quiet; }
  /// Offers the bundled demo model and tasks when they exist and this is the first start.
  void offerDemoOnFirstStart();

 Q_SIGNALS:
  void analysisFinished(const QString& resultsDir);
  void analysisCancelled();
  void analysisFailed(const QString& message);
  void errorShown(const QString& message);
  void modelSummaryReady();

 protected:
  void closeEvent(QCloseEvent* e) override;

 private:
  void buildUi();
  void buildMenus();
  QWidget* buildInputsPanel();
  QWidget* buildOptionsPanel();
  void showError(const QString& title, const QString& message);
  void showBundle();
  void onProgress(const QString& stage, double fraction);
  void onFinished(const QString& dir);
  void onCancelled();
  void onFailed(const QString& message);
  void setRunning(bool running);
  void addRecent(const QString& key, const QString& path);
  void rebuildRecentMenu();
  void exportCurrentFigure();
  void exportAllFigures();
  void saveSessionAs();
  void openSessionDialog();
  void updateStyle();
  views::FigureStyle screenStyle() const;
  AnalysisJob jobFromPanel() const;
  /// One job at a time across analysis, training and ablation: each start button waits for the others.
  void updateJobLocks();

  QSettings* settings_;
  QThread workerThread_;
  AnalysisWorker* worker_;
  bool running_ = false;
  QString pendingOut_;
  QElapsedTimer runClock_;
  bool quietErrors_ = false;
  QFutureWatcher<ModelSummary> summaryWatcher_;

  std::optional<results::ResultsBundle> bundle_;
  QStringList resultsDirs_;
  views::LayerSelection* selection_;

  // inputs
  QLineEdit* modelEdit_;
  QLineEdit* adapterEdit_;
  QListWidget* taskList_;
  QTextBrowser* summary_;
  // options
  QComboBox* sensMode_;
  QComboBox* position_;
  QComboBox* metric_;
  QComboBox* ropeMode_;
  QDoubleSpinBox* eps_;
  QCheckBox* redundancy_;
  QListWidget* manipulations_;
  QSpinBox* kSens_;
  QSpinBox* kRope_;
  QSpinBox* bootstrap_;
  QSpinBox* seed_;
  QComboBox* dtype_;
  QSpinBox* batch_;
  QPushButton* runButton_;
  QPushButton* cancelButton_;
  QProgressBar* progress_;
  QLabel* status_;
  // views
  QTabWidget* tabs_;
  views::ProfileView* profile_;
  views::HeatmapView* heatmap_;
  views::ScatterView* scatter_;
  views::RedundancyView* redundancyView_;
  views::ManipulationView* manipulation_;
  views::AblationView* ablation_;
  views::LayersTableModel* tableModel_;
  QTableView* table_;
  // display options
  QComboBox* sizePreset_;
  QCheckBox* twinAxes_;
  QCheckBox* ranks_;
  QComboBox* colormap_;
  QComboBox* heatmapKind_;
  QComboBox* profileMetric_;
  QMenu* recentMenu_ = nullptr;
  // adapters
  TrainPanel* trainPanel_ = nullptr;
  AblationLauncher* ablationLauncher_ = nullptr;
  QDockWidget* trainDock_ = nullptr;
  QDockWidget* ablationDock_ = nullptr;
};

}  // namespace layerscope::app
