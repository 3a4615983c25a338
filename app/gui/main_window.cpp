#include "app/gui/main_window.h"

#include <QAction>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonObject>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollArea>
#include <QStatusBar>
#include <QToolBar>
#include <QVBoxLayout>

#include "app/gui/ablation_panel.h"
#include "app/gui/analysis_job.h"
#include "app/gui/analysis_panel.h"
#include "app/gui/app_settings.h"
#include "app/gui/first_run.h"
#include "app/gui/inputs_panel.h"
#include "app/gui/job_runner.h"
#include "app/gui/reproduce_dialog.h"
#include "app/gui/results_area.h"
#include "app/gui/spin_boxes.h"
#include "app/gui/split_check.h"
#include "app/gui/train_panel.h"
#include "analysis/pipeline.h"
#include "core/data/dataset.h"
#include "core/model/scoring.h"
#include "experiments/common.h"
#include "results/item_comparison.h"
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
  guardWheelUnder(this);  // every spin / combo box: the wheel scrolls the dock unless the box has focus
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
  // What is on screen, for File > Reopen last session at start (written whether or not the option is on, so
  // turning it on reopens the window as it was last closed).
  try {
    saveSession(currentSession(), settings_->lastSessionFile());
  } catch (const std::exception&) {
    // Closing must not fail on an unwritable settings folder; the option then finds no file.
  }
  e->accept();
}

void MainWindow::buildSessionMenu(QMenu* file) {
  file->addAction(tr("&Save session..."), QKeySequence::Save, this, &MainWindow::saveSessionAs);
  file->addAction(tr("Open s&ession..."), this, &MainWindow::openSessionDialog);
  recentSessionsMenu_ = file->addMenu(tr("Recent Sessions"));
  QAction* reopen = file->addAction(tr("Reopen last session at start"));
  reopen->setCheckable(true);
  reopen->setChecked(settings_->reopenLastSession());
  reopen->setToolTip(tr("At start, open the window as it was when it last closed (%1)").arg(settings_->lastSessionFile()));
  connect(reopen, &QAction::toggled, settings_, &AppSettings::setReopenLastSession);
  rebuildRecentMenu();
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
  connect(analysis_, &AnalysisPanel::estimateRequested, this, [this] {
    if (const auto job = completedAnalysisJob()) analysis_->startEstimate(*job);
  });
  connect(analysis_, &AnalysisPanel::finished, this, [this](const QString& dir) {
    const bool adapted = !comparisonAdapted_.isEmpty() && dir == comparisonAdapted_;
    const QString base = comparisonBase_;
    comparisonBase_.clear();
    comparisonAdapted_.clear();
    // The adapted analysis: shown (the base stays in the Runs list), then compared with the base.
    if (openResults(dir) && adapted && results_->showRunComparison(base, dir)) Q_EMIT adapterComparisonShown(base, dir);
    Q_EMIT analysisFinished(dir);
  });
  connect(analysis_, &AnalysisPanel::cancelled, this, [this] {
    comparisonBase_.clear();
    comparisonAdapted_.clear();
    Q_EMIT analysisCancelled();
  });
  connect(analysis_, &AnalysisPanel::failed, this, [this](const QString& message) {
    comparisonBase_.clear();
    comparisonAdapted_.clear();
    if (isOneSidedTaskError(message)) {
      // The pipeline's own check ("Run anyway" after a one-sided sample, or pairs tasks): the GUI's words.
      static const QRegularExpression counts(QStringLiteral("answers (\\d+) items correctly and (\\d+) incorrectly"));
      const QRegularExpressionMatch m = counts.match(message);
      SplitCheck c;
      c.correct = m.captured(1).toInt();
      c.incorrect = m.captured(2).toInt();
      c.total = c.checked = c.correct + c.incorrect;
      AnalysisJob job = analysis_->jobOptions();
      job.taskFile = inputs_->currentTask();
      refuseOneSidedTask(job, c);
      return;
    }
    Q_EMIT analysisFailed(message);
    showError(tr("Analysis failed"), message);
  });
  connect(trainPanel_, &TrainPanel::failed, this, &MainWindow::showError);
  connect(trainPanel_, &TrainPanel::analyseWithAdapterRequested, this, &MainWindow::analyseWithAdapter);
  // Evaluate vs base: every item of both evaluations, compared, in the Items tab.
  connect(trainPanel_, &TrainPanel::evaluationFinished, this, [this](const EvalOutcome& o) {
    results_->showItemComparison(o.baseItems, o.adapterItems, o.comparison);
  });
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
  file->addAction(tr("&Compare items with results folder..."), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Results folder to compare item by item with the one shown"));
    if (!d.isEmpty()) compareItemsWith(d);
  });
  recentMenu_ = file->addMenu(tr("Recent"));
  rebuildRecentMenu();
  file->addSeparator();
  buildSessionMenu(file);
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
  adapters->addAction(tr("&Reproduce the co-localization study..."), this, [this] {
    auto* dialog = new ReproduceDialog(runner_, inputs_->modelDir(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->show();
  });
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
  if (!recentSessionsMenu_) return;
  recentSessionsMenu_->clear();
  for (const QString& f : settings_->recent(AppSettings::Recent::Sessions)) {
    QAction* a = recentSessionsMenu_->addAction(QFileInfo(f).fileName(), this, [this, f] { openSessionFile(f); });
    a->setToolTip(f);
    a->setStatusTip(f);
  }
  recentSessionsMenu_->setEnabled(!recentSessionsMenu_->isEmpty());
}

QTabWidget* MainWindow::tabs() const { return results_; }
views::LayerSelection* MainWindow::selection() const { return results_->selection(); }
const std::optional<results::ResultsBundle>& MainWindow::bundle() const { return results_->bundle(); }
QList<views::PlotView*> MainWindow::plotViews() const { return results_->plotViews(); }
views::LayersTableModel* MainWindow::layersModel() const { return results_->layersModel(); }
QPushButton* MainWindow::runButton() const { return analysis_->runButton(); }
QPushButton* MainWindow::cancelButton() const { return analysis_->cancelButton(); }
bool MainWindow::isRunning() const { return analysis_->isRunning() || splitCheckJob_; }

void MainWindow::showError(const QString& title, const QString& message) {
  statusBar()->showMessage(title, 8000);
  Q_EMIT errorShown(message);
  if (quietErrors_) return;
  QMessageBox box(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box.exec();
}

void MainWindow::setModelDir(const QString& dir) { inputs_->setModelDir(dir); }
void MainWindow::setAdapterDir(const QString& dir) {
  inputs_->setAdapterDir(dir);
  trainPanel_->showTrainingRun(dir);  // its loss curves, when the folder holds a finished run's training_log.json
}
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

bool MainWindow::compareItemsWith(const QString& dir) {
  try {
    if (!results_->items())
      throw results::ResultsError("the results shown hold no items.jsonl: open a results folder of analyze, manipulate "
                                  "or drop first");
    const results::ItemSet& a = *results_->items();
    const results::ItemSet b = results::readItemsOfResults(dir.toStdString());
    const auto label = [](const std::filesystem::path& items) { return items.parent_path().filename().string(); };
    std::string la = label(a.file), lb = label(b.file);
    if (la == lb) la += " (shown)", lb += " (other)";
    results_->showItemComparison(a, b, results::compareItems(a.items, b.items, la, lb));
  } catch (const std::exception& e) {
    showError(tr("Cannot compare items"), QString::fromUtf8(e.what()));
    return false;
  }
  return true;
}

void MainWindow::onResultsChanged() {
  const auto& b = bundle();
  // The analysis on screen: its task and top-k sets are the defaults of training and the ablation.
  QString task;
  if (b && b->scores && b->scores->task.contains("path") && b->scores->task["path"].is_string())
    task = QString::fromStdString(b->scores->task["path"].get<std::string>());
  if (b && b->stats)
    trainPanel_->setAnalysisDefaults(b->scores ? task : QString(),
                                     QVector<int>(b->stats->topSens.begin(), b->stats->topSens.end()),
                                     QVector<int>(b->stats->topRope.begin(), b->stats->topRope.end()));
  for (const QString& d : results_->dirs()) ablationPanel_->setAnalysisDir(d, task);
}

std::optional<AnalysisJob> MainWindow::completedAnalysisJob() {
  if (runner_->isBusy()) return std::nullopt;  // one job at a time
  AnalysisJob job = analysis_->jobOptions();
  job.modelDir = inputs_->modelDir();
  job.adapterDir = inputs_->adapterDir();
  job.taskFile = inputs_->currentTask();
  if (job.modelDir.isEmpty() || !QFileInfo(job.modelDir).isDir()) {
    showError(tr("No model"), tr("Choose a model folder (File > Open model folder) before running an analysis."));
    return std::nullopt;
  }
  if (job.taskFile.isEmpty() || !QFileInfo(job.taskFile).isFile()) {
    showError(tr("No task"), tr("Add a task file (File > Add task file) and select it in the list."));
    return std::nullopt;
  }
  return job;
}

bool MainWindow::startAnalysis(const QString& outDir) {
  std::optional<AnalysisJob> completed = completedAnalysisJob();
  if (!completed) return false;
  AnalysisJob& job = *completed;
  if (outDir.isEmpty()) {
    const QString root = settings_->resultsRoot();
    QDir().mkpath(root);
    job.outDir = QStringLiteral("%1/%2_%3_%4").arg(root, QFileInfo(job.modelDir).fileName(), QFileInfo(job.taskFile).completeBaseName(),
                                                   QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")));
  } else {
    job.outDir = outDir;
  }
  // Outcome mode needs correct and incorrect items: checked first on a sample (an adapter's model is only
  // built by the pipeline, which checks the full evaluation itself).
  if (job.sensitivityMode == QLatin1String("outcome") && job.adapterDir.isEmpty()) return startSplitCheck(job);
  return analysis_->start(job);
}

bool MainWindow::startSplitCheck(const AnalysisJob& job) {
  const analysis::AnalyzeRequest req = analyzeRequestOf(job);
  core::ScoringOptions so;  // as the pipeline scores the task
  constexpr int kSample = 48;
  so.batchSize = req.batchSize > 0 ? req.batchSize : kSample / 3;  // auto: the sample in three forwards
  so.stopString = req.stopString;
  so.maxNewTokens = req.maxNewTokens;
  so.extraction = core::parseAnswerExtraction(req.extraction);
  Job* check = runner_->start(tr("Checking the task"), [job, so](JobContext& ctx) -> QVariant {
    ctx.stage(QObject::tr("checking the task: correct and incorrect items"));
    const experiments::ModelHandle& m = ctx.model(job.modelDir, job.dtype, job.device);
    const core::PreparedTask prepared = core::prepareTask(*m.tokenizer, core::readTask(job.taskFile.toStdString()));
    const SplitCheck c = checkOutcomeSplit(*m.model, *m.tokenizer, prepared, so, kSample, ctx.control());
    return QVariantList{c.total, c.checked, c.correct, c.incorrect};
  });
  if (!check) return false;
  splitCheckJob_ = check;
  analysis_->runButton()->setEnabled(false);
  statusBar()->showMessage(tr("Checking %1: does the model answer some items correctly and some incorrectly?")
                               .arg(QFileInfo(job.taskFile).fileName()));
  connect(check, &Job::finished, this, [this, job](const QVariant& v) {
    splitCheckJob_ = nullptr;
    const QVariantList l = v.toList();
    SplitCheck c;
    c.total = l.value(0).toInt();
    c.checked = l.value(1).toInt();
    c.correct = l.value(2).toInt();
    c.incorrect = l.value(3).toInt();
    statusBar()->clearMessage();
    if (!c.bothOutcomes()) {
      refuseOneSidedTask(job, c);
    } else if (!analysis_->start(job)) {
      Q_EMIT analysisFailed(tr("the analysis could not start"));
    }
  });
  connect(check, &Job::cancelled, this, [this] {
    splitCheckJob_ = nullptr;
    statusBar()->clearMessage();
    Q_EMIT analysisCancelled();
  });
  connect(check, &Job::failed, this, [this](const QString& message) {
    splitCheckJob_ = nullptr;
    statusBar()->clearMessage();
    Q_EMIT analysisFailed(message);
    showError(tr("Analysis failed"), message);
  });
  return true;
}

void MainWindow::refuseOneSidedTask(const AnalysisJob& job, const SplitCheck& check) {
  const QString message = oneSidedTaskMessage(job.taskFile, check);
  Q_EMIT analysisFailed(message);
  statusBar()->showMessage(tr("Not analysed: the model's answers on %1 are all %2")
                               .arg(QFileInfo(job.taskFile).fileName(), check.correct ? tr("correct") : tr("incorrect")), 8000);
  Q_EMIT errorShown(message);
  if (quietErrors_) return;
  QMessageBox box(QMessageBox::Information, tr("This task cannot be analysed in outcome mode"), message, QMessageBox::NoButton, this);
  QPushButton* pairs = box.addButton(tr("Use pairs mode"), QMessageBox::AcceptRole);
  QPushButton* anyway = check.checked < check.total ? box.addButton(tr("Run anyway"), QMessageBox::DestructiveRole) : nullptr;
  box.addButton(QMessageBox::Close);
  box.setDefaultButton(pairs);
  box.exec();
  if (box.clickedButton() == pairs) switchToPairsMode(job.taskFile);
  else if (anyway && box.clickedButton() == anyway) analysis_->start(job);
}

void MainWindow::switchToPairsMode(const QString& taskFile) {
  QJsonObject o = analysis_->optionsJson();
  o.insert(QStringLiteral("sensitivity_mode"), QStringLiteral("pairs"));
  analysis_->applyOptionsJson(o);
  const QString pairs = pairsTaskBeside(taskFile);
  if (pairs.isEmpty()) return;
  addTaskFile(pairs);
  inputs_->selectTask(pairs);
}

void MainWindow::cancelAnalysis() {
  if (splitCheckJob_) splitCheckJob_->cancel();
  analysis_->cancel();
}

void MainWindow::showTrainPanel() {
  if (!trainPanel_->isRunning()) trainPanel_->prefillUnedited();
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
  s.currentTask = inputs_->currentTask();
  s.options = analysis_->optionsJson();
  s.resultsDirs = results_->dirs();
  s.selection = selection()->layers();
  s.train = trainPanel_->sessionJson();
  s.ablation = ablationPanel_->sessionJson();
  s.view = results_->sessionJson();
  s.trainedAdapters = trainPanel_->trainedAdapters();
  s.trainDockOpen = !trainDock_->isHidden();
  s.ablationDockOpen = !ablationDock_->isHidden();
  return s;
}

QStringList MainWindow::applySession(const Session& sIn) {
  Session s = sIn;
  QStringList problems;
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
  if (!s.currentTask.isEmpty() && !inputs_->selectTask(s.currentTask))
    problems << tr("current_task: '%1' is not among the tasks").arg(s.currentTask);
  analysis_->applyOptionsJson(s.options);
  results_->restoreRunFolders(s.view, problems);
  bool first = true;
  for (const QString& d : s.resultsDirs) {
    if (!openResults(d, !first)) problems << tr("results: '%1' could not be opened").arg(d);
    first = false;
  }
  // After the results: opening them prefills the ablation's analysis folder, which the session then overrides.
  trainPanel_->applySessionJson(s.train, s.trainedAdapters, problems);
  ablationPanel_->applySessionJson(s.ablation, problems);
  results_->applySessionJson(s.view, problems);
  trainDock_->setVisible(s.trainDockOpen);
  ablationDock_->setVisible(s.ablationDockOpen);
  if (s.trainDockOpen && s.ablationDockOpen) trainDock_->raise();
  selection()->setLayers(s.selection);
  return problems;
}

bool MainWindow::saveSessionFile(const QString& file) {
  try {
    saveSession(currentSession(), file);
  } catch (const std::exception& e) {
    showError(tr("Cannot save the session"), QString::fromUtf8(e.what()));
    return false;
  }
  settings_->addRecent(AppSettings::Recent::Sessions, file);
  statusBar()->showMessage(tr("Session saved to %1").arg(file), 8000);
  return true;
}

void MainWindow::saveSessionAs() {
  const QString file = QFileDialog::getSaveFileName(this, tr("Save session"), {}, tr("LayerScope session (*.lssession)"));
  if (!file.isEmpty()) saveSessionFile(file);
}

void MainWindow::openSessionDialog() {
  const QString file = QFileDialog::getOpenFileName(this, tr("Open session"), {}, tr("LayerScope session (*.lssession);;All files (*)"));
  if (!file.isEmpty()) openSessionFile(file);
}

bool MainWindow::openSessionFile(const QString& file) {
  Session s;
  try {
    s = loadSession(file);
  } catch (const std::exception& e) {
    showError(tr("Cannot open the session"), QString::fromUtf8(e.what()));
    return false;
  }
  const QStringList problems = applySession(s);
  settings_->addRecent(AppSettings::Recent::Sessions, file);
  if (!problems.isEmpty())
    showError(tr("Session partly restored"),
              tr("The session '%1' was opened, but these values were not applied:\n%2").arg(file, problems.join(QLatin1Char('\n'))));
  return true;
}

bool MainWindow::reopenLastSession() {
  const QString file = settings_->lastSessionFile();
  if (!settings_->reopenLastSession() || !QFileInfo::exists(file)) return false;
  return openSessionFile(file);
}

void MainWindow::offerDemoOnFirstStart() {
  if (!settings_->takeFirstStart()) return;
  const DemoFiles demo = findDemo();
  if (demo.empty() || !askToOpenDemo(this, demo)) return;
  openDemo(demo);
}

void MainWindow::openDemo(const DemoFiles& demo) {
  if (!demo.modelDir.isEmpty()) setModelDir(demo.modelDir);
  for (const QString& f : demo.taskFiles) addTaskFile(f);
  // A task the demo model gets partly right, so the default Run ends in real heatmaps.
  const QString task = defaultDemoTask(demo);
  if (!task.isEmpty()) inputs_->selectTask(task);
}

}  // namespace layerscope::app
