#include "app/gui/main_window.h"

#include <QAction>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QStatusBar>
#include <QToolBar>
#include <QVBoxLayout>

#include "app/gui/ablation_panel.h"
#include "app/gui/analysis_panel.h"
#include "app/gui/app_settings.h"
#include "app/gui/first_run.h"
#include "app/gui/inputs_panel.h"
#include "app/gui/job_runner.h"
#include "app/gui/results_area.h"
#include "app/gui/train_panel.h"
#include "views/layer_selection.h"

namespace layerscope::app {
namespace {

QScrollArea* scrolled(QWidget* w, int minWidth) {
  auto* s = new QScrollArea;
  s->setWidget(w);
  s->setWidgetResizable(true);
  s->setMinimumWidth(minWidth);
  return s;
}

}  // namespace

MainWindow::MainWindow(const QString& settingsFile, QWidget* parent)
    : QMainWindow(parent),
      settings_(new AppSettings(settingsFile, this)),
      runner_(new JobRunner(this)),
      results_(new ResultsArea),
      inputs_(new InputsPanel),
      analysis_(new AnalysisPanel(runner_)),
      trainPanel_(new TrainPanel(runner_)),
      ablationPanel_(new AblationPanel(runner_)) {
  setWindowTitle(tr("LayerScope"));
  addToolBar(results_->figureToolBar());
  setCentralWidget(results_);
  buildDocks();
  buildMenus();
  connectPanels();
  resize(1400, 860);
  restoreGeometry(settings_->windowGeometry());
  restoreState(settings_->windowState());
}

MainWindow::~MainWindow() {
  // Stop the worker thread before the panels it reports to go away.
  delete runner_;
  runner_ = nullptr;
}

void MainWindow::closeEvent(QCloseEvent* e) {
  settings_->saveWindow(saveGeometry(), saveState());
  e->accept();
}

void MainWindow::buildDocks() {
  auto* dock = new QDockWidget(tr("Model, task and analysis"), this);
  dock->setObjectName(QStringLiteral("inputsDock"));
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  layout->addWidget(inputs_);
  layout->addWidget(analysis_);
  layout->addStretch();
  // The options scroll; Run / Cancel and the progress stay below them, in view however many options there are.
  auto* body = new QWidget;
  auto* bodyLayout = new QVBoxLayout(body);
  bodyLayout->setContentsMargins(0, 0, 0, 0);
  bodyLayout->addWidget(scrolled(panel, 330), 1);
  QWidget* run = analysis_->detachRunControls();
  run->setContentsMargins(6, 2, 6, 4);
  bodyLayout->addWidget(run);
  dock->setWidget(body);
  addDockWidget(Qt::LeftDockWidgetArea, dock);

  // Adapters: training on the selection and the 4-way ablation, in right docks (hidden until asked for).
  trainPanel_->setSelection(results_->selection());
  trainDock_ = new QDockWidget(tr("Train on selection (LS-LoRA / GARFA)"), this);
  trainDock_->setObjectName(QStringLiteral("trainDock"));
  trainDock_->setWidget(scrolled(trainPanel_, 380));
  addDockWidget(Qt::RightDockWidgetArea, trainDock_);
  trainDock_->hide();
  ablationDock_ = new QDockWidget(tr("4-way cross-layer ablation"), this);
  ablationDock_->setObjectName(QStringLiteral("ablationDock"));
  ablationDock_->setWidget(scrolled(ablationPanel_, 380));
  addDockWidget(Qt::RightDockWidgetArea, ablationDock_);
  tabifyDockWidget(trainDock_, ablationDock_);
  ablationDock_->hide();
}

void MainWindow::connectPanels() {
  connect(settings_, &AppSettings::recentChanged, this, &MainWindow::rebuildRecentMenu);
  connect(inputs_, &InputsPanel::modelDirChanged, this, [this](const QString& dir) {
    trainPanel_->setModelDir(dir);
    ablationPanel_->setModelDir(dir);
    if (!dir.isEmpty()) settings_->addRecent(AppSettings::Recent::Models, dir);
  });
  connect(inputs_, &InputsPanel::taskAdded, this, [this](const QString& f) { settings_->addRecent(AppSettings::Recent::Tasks, f); });
  connect(inputs_, &InputsPanel::summaryReady, this, &MainWindow::modelSummaryReady);
  connect(results_, &ResultsArea::bundleChanged, this, &MainWindow::onResultsChanged);
  connect(results_, &ResultsArea::statusMessage, statusBar(), &QStatusBar::showMessage);
  connect(results_, &ResultsArea::errorOccurred, this, &MainWindow::showError);

  connect(analysis_, &AnalysisPanel::runRequested, this, [this] { startAnalysis(); });
  connect(analysis_, &AnalysisPanel::finished, this, [this](const QString& dir) {
    openResults(dir);
    Q_EMIT analysisFinished(dir);
  });
  connect(analysis_, &AnalysisPanel::cancelled, this, &MainWindow::analysisCancelled);
  connect(analysis_, &AnalysisPanel::failed, this, [this](const QString& message) {
    Q_EMIT analysisFailed(message);
    showError(tr("Analysis failed"), message);
  });
  connect(trainPanel_, &TrainPanel::failed, this, &MainWindow::showError);
  connect(ablationPanel_, &AblationPanel::failed, this, &MainWindow::showError);
  connect(ablationPanel_, &AblationPanel::finished, this, [this](const QString& dir) {
    // Merge report.json into the results shown (the analysis stays) and show the grouped bars.
    if (openResults(dir, bundle().has_value())) results_->showAblationTab();
  });
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("Open &model folder..."), QKeySequence::Open, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open model folder"));
    if (!d.isEmpty()) setModelDir(d);
  });
  file->addAction(tr("Open &adapter folder..."), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open adapter folder"));
    if (!d.isEmpty()) setAdapterDir(d);
  });
  file->addAction(tr("Add &task file..."), this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Add task file"), {}, tr("Task files (*.jsonl)"));
    if (!f.isEmpty()) addTaskFile(f);
  });
  file->addAction(tr("Open &results folder..."), QKeySequence(tr("Ctrl+R")), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open results folder"));
    if (!d.isEmpty()) openResults(d);
  });
  file->addAction(tr("Add results folder (merge)..."), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Add results folder"));
    if (!d.isEmpty()) openResults(d, true);
  });
  recentMenu_ = file->addMenu(tr("Recent"));
  rebuildRecentMenu();
  file->addSeparator();
  file->addAction(tr("&Save session..."), QKeySequence::Save, this, &MainWindow::saveSessionAs);
  file->addAction(tr("Open s&ession..."), this, &MainWindow::openSessionDialog);
  file->addSeparator();
  file->addAction(tr("&Export figure..."), QKeySequence(tr("Ctrl+E")), results_, &ResultsArea::exportCurrentFigure);
  file->addAction(tr("Export &all figures..."), QKeySequence(tr("Ctrl+Shift+E")), results_, &ResultsArea::exportAllFigures);
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
  QMenu* select = menuBar()->addMenu(tr("&Selection"));
  select->addAction(tr("Top-k sensitivity layers (S_sens)"), this, [this] {
    if (bundle() && bundle()->stats) selection()->setLayers(QVector<int>(bundle()->stats->topSens.begin(), bundle()->stats->topSens.end()));
  });
  select->addAction(tr("Top-k RoPE layers (S_rope)"), this, [this] {
    if (bundle() && bundle()->stats) selection()->setLayers(QVector<int>(bundle()->stats->topRope.begin(), bundle()->stats->topRope.end()));
  });
  select->addAction(tr("Clear"), QKeySequence(Qt::Key_Escape), selection(), &views::LayerSelection::clear);
  QMenu* adapters = menuBar()->addMenu(tr("&Adapters"));
  adapters->addAction(tr("&Train on selection..."), QKeySequence(tr("Ctrl+T")), this, &MainWindow::showTrainPanel);
  adapters->addAction(tr("Run 4-way &ablation..."), this, &MainWindow::showAblationPanel);
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("About LayerScope"), this, [this] {
    QMessageBox::about(this, tr("About LayerScope"),
                       tr("<b>LayerScope</b>: layer-wise interpretability for GQA transformers.<p>Click or drag on a "
                          "layer axis to select layers (Ctrl adds); the selection is shared by every view. Hover for "
                          "exact values. Figures export to PDF, SVG and PNG with their data as CSV.</p>"));
  });
}

void MainWindow::rebuildRecentMenu() {
  if (!recentMenu_) return;
  recentMenu_->clear();
  for (const QString& d : settings_->recent(AppSettings::Recent::Results))
    recentMenu_->addAction(tr("Results: %1").arg(d), this, [this, d] { openResults(d); });
  for (const QString& d : settings_->recent(AppSettings::Recent::Models))
    recentMenu_->addAction(tr("Model: %1").arg(d), this, [this, d] { setModelDir(d); });
  for (const QString& f : settings_->recent(AppSettings::Recent::Tasks))
    recentMenu_->addAction(tr("Task: %1").arg(f), this, [this, f] { addTaskFile(f); });
  recentMenu_->setEnabled(!recentMenu_->isEmpty());
}

QTabWidget* MainWindow::tabs() const { return results_; }
views::LayerSelection* MainWindow::selection() const { return results_->selection(); }
const std::optional<results::ResultsBundle>& MainWindow::bundle() const { return results_->bundle(); }
QList<views::PlotView*> MainWindow::plotViews() const { return results_->plotViews(); }
views::LayersTableModel* MainWindow::layersModel() const { return results_->layersModel(); }
QPushButton* MainWindow::runButton() const { return analysis_->runButton(); }
QPushButton* MainWindow::cancelButton() const { return analysis_->cancelButton(); }
bool MainWindow::isRunning() const { return analysis_->isRunning(); }

void MainWindow::showError(const QString& title, const QString& message) {
  statusBar()->showMessage(title, 8000);
  Q_EMIT errorShown(message);
  if (quietErrors_) return;
  QMessageBox box(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box.exec();
}

void MainWindow::setModelDir(const QString& dir) { inputs_->setModelDir(dir); }
void MainWindow::setAdapterDir(const QString& dir) { inputs_->setAdapterDir(dir); }
void MainWindow::addTaskFile(const QString& file) { inputs_->addTaskFile(file); }

bool MainWindow::openResults(const QString& dir, bool add) {
  try {
    results_->open(dir, add);
  } catch (const std::exception& e) {
    showError(tr("Cannot open results"), QString::fromUtf8(e.what()));
    return false;
  }
  settings_->addRecent(AppSettings::Recent::Results, dir);
  setWindowTitle(tr("LayerScope - %1").arg(QFileInfo(dir).fileName()));
  return true;
}

void MainWindow::onResultsChanged() {
  const auto& b = bundle();
  if (b && b->stats)
    trainPanel_->setTopK(QVector<int>(b->stats->topSens.begin(), b->stats->topSens.end()),
                         QVector<int>(b->stats->topRope.begin(), b->stats->topRope.end()));
  for (const QString& d : results_->dirs()) ablationPanel_->setAnalysisDir(d);
}

bool MainWindow::startAnalysis(const QString& outDir) {
  if (runner_->isBusy()) return false;  // one job at a time
  AnalysisJob job = analysis_->jobOptions();
  job.modelDir = inputs_->modelDir();
  job.adapterDir = inputs_->adapterDir();
  job.taskFile = inputs_->currentTask();
  if (job.modelDir.isEmpty() || !QFileInfo(job.modelDir).isDir()) {
    showError(tr("No model"), tr("Choose a model folder (File > Open model folder) before running an analysis."));
    return false;
  }
  if (job.taskFile.isEmpty() || !QFileInfo(job.taskFile).isFile()) {
    showError(tr("No task"), tr("Add a task file (File > Add task file) and select it in the list."));
    return false;
  }
  if (outDir.isEmpty()) {
    const QString root = settings_->resultsRoot();
    QDir().mkpath(root);
    job.outDir = QStringLiteral("%1/%2_%3_%4").arg(root, QFileInfo(job.modelDir).fileName(), QFileInfo(job.taskFile).completeBaseName(),
                                                   QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")));
  } else {
    job.outDir = outDir;
  }
  return analysis_->start(job);
}

void MainWindow::cancelAnalysis() { analysis_->cancel(); }

void MainWindow::showTrainPanel() {
  if (!trainPanel_->isRunning() && !trainPanel_->prefillFromSelection()) trainPanel_->prefillFromTopK(true);
  trainDock_->show();
  trainDock_->raise();
}

void MainWindow::showAblationPanel() {
  ablationDock_->show();
  ablationDock_->raise();
}

Session MainWindow::currentSession() const {
  Session s;
  s.modelDir = inputs_->modelDir();
  s.adapterDir = inputs_->adapterDir();
  s.taskFiles = inputs_->taskFiles();
  s.options = analysis_->optionsJson();
  s.resultsDirs = results_->dirs();
  s.selection = selection()->layers();
  return s;
}

void MainWindow::applySession(const Session& sIn) {
  Session s = sIn;
  if (!s.modelDir.isEmpty() && !QFileInfo(s.modelDir).isDir()) {
    if (quietErrors_) {
      Q_EMIT errorShown(tr("model folder not found: %1").arg(s.modelDir));
      s.modelDir.clear();
    } else {
      QMessageBox box(QMessageBox::Question, tr("Model not found"),
                      tr("The session's model folder does not exist:\n%1\n\nLocate it?").arg(s.modelDir), QMessageBox::NoButton, this);
      QPushButton* locate = box.addButton(tr("Locate..."), QMessageBox::AcceptRole);
      box.addButton(tr("Continue without model"), QMessageBox::RejectRole);
      box.exec();
      s.modelDir = box.clickedButton() == locate ? QFileDialog::getExistingDirectory(this, tr("Locate the model folder")) : QString();
    }
  }
  setModelDir(s.modelDir);
  setAdapterDir(s.adapterDir);
  inputs_->clearTasks();
  for (const QString& t : s.taskFiles) addTaskFile(t);
  analysis_->applyOptionsJson(s.options);
  bool first = true;
  for (const QString& d : s.resultsDirs) {
    openResults(d, !first);
    first = false;
  }
  selection()->setLayers(s.selection);
}

void MainWindow::saveSessionAs() {
  const QString file = QFileDialog::getSaveFileName(this, tr("Save session"), {}, tr("LayerScope session (*.lssession)"));
  if (file.isEmpty()) return;
  try {
    saveSession(currentSession(), file);
    settings_->addRecent(AppSettings::Recent::Sessions, file);
  } catch (const std::exception& e) {
    showError(tr("Cannot save the session"), QString::fromUtf8(e.what()));
  }
}

void MainWindow::openSessionDialog() {
  const QString file = QFileDialog::getOpenFileName(this, tr("Open session"), {}, tr("LayerScope session (*.lssession);;All files (*)"));
  if (file.isEmpty()) return;
  try {
    applySession(loadSession(file));
  } catch (const std::exception& e) {
    showError(tr("Cannot open the session"), QString::fromUtf8(e.what()));
  }
}

void MainWindow::offerDemoOnFirstStart() {
  if (!settings_->takeFirstStart()) return;
  const DemoFiles demo = findDemo();
  if (demo.empty() || !askToOpenDemo(this, demo)) return;
  if (!demo.modelDir.isEmpty()) setModelDir(demo.modelDir);
  for (const QString& f : demo.taskFiles) addTaskFile(f);
}

}  // namespace layerscope::app
