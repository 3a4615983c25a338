#include "app/gui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTextBrowser>
#include <QToolBar>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "app/gui/ablation_launcher.h"
#include "app/gui/train_panel.h"
#include "core/checkpoint.h"
#include "core/error.h"
#include "results/reader.h"
#include "results/transforms.h"
#include "views/ablation_view.h"
#include "views/figure_export.h"
#include "views/heatmap_view.h"
#include "views/layer_selection.h"
#include "views/layers_table_model.h"
#include "views/manipulation_view.h"
#include "views/profile_view.h"
#include "views/redundancy_view.h"
#include "views/scatter_view.h"

namespace layerscope::app {
namespace {

constexpr int kMaxRecent = 8;

QString humanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) { b /= 1024; ++u; }
  return QStringLiteral("%1 %2").arg(b, 0, 'f', u ? 1 : 0).arg(QLatin1String(units[u]));
}

/// Reads config.json and the safetensors headers (no weights) and formats the summary panel.
ModelSummary summarise(const QString& dir) {
  ModelSummary s{dir, {}, {}};
  try {
    const auto ck = core::Checkpoint::open(dir.toStdString());
    const auto j = ck.config().summary();
    const double params = double(ck.config().parameterCount());
    const std::string stored = ck.storedDtype();
    const double storedBytes = stored == "F32" ? 4 : 2;
    QString rows;
    auto row = [&](const QString& k, const QString& v) { rows += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>").arg(k, v); };
    row(QObject::tr("type"), QString::fromStdString(j.value("model_type", std::string("llama"))));
    row(QObject::tr("layers"), QString::number(j.value("layers", 0)));
    row(QObject::tr("heads / KV heads"), QStringLiteral("%1 / %2 (n_rep %3)").arg(j.value("heads", 0)).arg(j.value("kv_heads", 0))
                                             .arg(j.value("kv_heads", 1) ? j.value("heads", 0) / j.value("kv_heads", 1) : 0));
    row(QObject::tr("head_dim"), QString::number(j.value("head_dim", 0)));
    row(QObject::tr("hidden / MLP"), QStringLiteral("%1 / %2").arg(j.value("hidden", 0)).arg(j.value("intermediate", 0)));
    row(QObject::tr("vocabulary"), QString::number(j.value("vocab", 0)));
    row(QObject::tr("parameters"), QStringLiteral("%L1 (%2 B)").arg(qlonglong(params)).arg(params / 1e9, 0, 'f', 2));
    row(QObject::tr("stored dtype"), QString::fromStdString(stored));
    const auto& rope = j["rope"];
    QString ropeText = QStringLiteral("theta %1, %2").arg(rope.value("theta", 0.0)).arg(QString::fromStdString(rope.value("scaling", std::string("none"))));
    if (rope.contains("factor")) ropeText += QStringLiteral(" x%1").arg(rope["factor"].get<double>());
    row(QObject::tr("RoPE"), ropeText);
    row(QObject::tr("files"), humanBytes(double(ck.fileBytes())));
    // Weights dominate memory: float32 compute converts bf16 weights; bf16 compute keeps 2 bytes each.
    row(QObject::tr("memory estimate"), QObject::tr("%1 in float32, %2 in bfloat16 (+ activations)")
                                            .arg(humanBytes(params * 4), humanBytes(params * 2)));
    if (!ck.unexpected().empty()) row(QObject::tr("warning"), QObject::tr("%1 unused tensors").arg(ck.unexpected().size()));
    (void)storedBytes;
    s.html = QStringLiteral("<table cellspacing=2>%1</table>").arg(rows);
  } catch (const std::exception& e) {
    s.error = QString::fromUtf8(e.what());
  }
  return s;
}

QString findDemo(const QString& rel) {
  const QStringList roots{QCoreApplication::applicationDirPath() + QStringLiteral("/../share/layerscope"),
                          QStringLiteral(LAYERSCOPE_SOURCE_DIR) + QStringLiteral("/resources")};
  for (const QString& r : roots)
    if (QFileInfo::exists(r + QLatin1Char('/') + rel)) return QDir::cleanPath(r + QLatin1Char('/') + rel);
  return {};
}

}  // namespace

MainWindow::MainWindow(const QString& settingsFile, QWidget* parent)
    : QMainWindow(parent),
      settings_(new QSettings(settingsFile, QSettings::IniFormat, this)),
      worker_(new AnalysisWorker),
      selection_(new views::LayerSelection(this)) {
  qRegisterMetaType<AnalysisJob>("layerscope::app::AnalysisJob");
  setWindowTitle(tr("LayerScope"));
  worker_->moveToThread(&workerThread_);
  connect(&workerThread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(worker_, &AnalysisWorker::progress, this, &MainWindow::onProgress);
  connect(worker_, &AnalysisWorker::finished, this, &MainWindow::onFinished);
  connect(worker_, &AnalysisWorker::cancelled, this, &MainWindow::onCancelled);
  connect(worker_, &AnalysisWorker::failed, this, &MainWindow::onFailed);
  workerThread_.setObjectName(QStringLiteral("layerscope-worker"));
  workerThread_.start();
  connect(&summaryWatcher_, &QFutureWatcher<ModelSummary>::finished, this, [this] {
    const ModelSummary s = summaryWatcher_.result();
    if (s.dir != modelEdit_->text()) return;  // a newer folder was chosen meanwhile
    summary_->setHtml(s.error.isEmpty() ? s.html
                                        : tr("<p style='color:#b00'><b>Not a loadable model.</b></p><p>%1</p>").arg(s.error.toHtmlEscaped()));
    Q_EMIT modelSummaryReady();
  });
  buildUi();
  buildMenus();
  restoreGeometry(settings_->value(QStringLiteral("window/geometry")).toByteArray());
  restoreState(settings_->value(QStringLiteral("window/state")).toByteArray());
  setRunning(false);
}

MainWindow::~MainWindow() {
  worker_->cancel();
  workerThread_.quit();
  workerThread_.wait();  // the job stops at its next cancellation check
}

void MainWindow::closeEvent(QCloseEvent* e) {
  settings_->setValue(QStringLiteral("window/geometry"), saveGeometry());
  settings_->setValue(QStringLiteral("window/state"), saveState());
  settings_->sync();
  e->accept();
}

views::FigureStyle MainWindow::screenStyle() const {
  views::FigureStyle s = views::withPreset(views::FigureStyle{}, views::SizePreset(sizePreset_ ? sizePreset_->currentIndex() : 0));
  s.pxPerPt = std::max(1.0, logicalDpiY() / 72.0);
  s.normalise = !(twinAxes_ && twinAxes_->isChecked());
  s.ranks = ranks_ && ranks_->isChecked();
  if (colormap_) s.colormap = colormap_->currentText();
  return s;
}

void MainWindow::buildUi() {
  // Figure toolbar: display options shared by every view and by export.
  auto* figureBar = addToolBar(tr("Figure"));
  figureBar->setObjectName(QStringLiteral("figureToolbar"));
  figureBar->addWidget(new QLabel(tr(" Size ")));
  sizePreset_ = new QComboBox;
  sizePreset_->addItems(views::presetNames());
  figureBar->addWidget(sizePreset_);
  figureBar->addWidget(new QLabel(tr("  Colour map ")));
  colormap_ = new QComboBox;
  colormap_->addItems({QStringLiteral("viridis"), QStringLiteral("cividis")});
  figureBar->addWidget(colormap_);
  twinAxes_ = new QCheckBox(tr("Twin axes"));
  twinAxes_->setToolTip(tr("Profiles on their own axes instead of each divided by its maximum"));
  figureBar->addWidget(twinAxes_);
  ranks_ = new QCheckBox(tr("Ranks"));
  ranks_->setToolTip(tr("Correlation plot of average ranks (what Spearman's r_s correlates)"));
  figureBar->addWidget(ranks_);
  figureBar->addWidget(new QLabel(tr("  Profile ")));
  profileMetric_ = new QComboBox;
  profileMetric_->setToolTip(tr("Sensitivity metric drawn in the profile and correlation views"));
  figureBar->addWidget(profileMetric_);
  figureBar->addWidget(new QLabel(tr("  Heatmap ")));
  heatmapKind_ = new QComboBox;
  heatmapKind_->addItems({tr("RoPE influence per KV head"), tr("all layer scores")});
  figureBar->addWidget(heatmapKind_);
  for (QComboBox* c : {sizePreset_, colormap_, heatmapKind_, profileMetric_})
    connect(c, &QComboBox::currentIndexChanged, this, &MainWindow::updateStyle);
  for (QCheckBox* c : {twinAxes_, ranks_}) connect(c, &QCheckBox::toggled, this, &MainWindow::updateStyle);

  tabs_ = new QTabWidget;
  tabs_->setDocumentMode(true);
  profile_ = new views::ProfileView;
  heatmap_ = new views::HeatmapView;
  scatter_ = new views::ScatterView;
  redundancyView_ = new views::RedundancyView;
  manipulation_ = new views::ManipulationView;
  ablation_ = new views::AblationView;
  tabs_->addTab(profile_, tr("Profiles"));
  tabs_->addTab(heatmap_, tr("Heatmap"));
  tabs_->addTab(scatter_, tr("Correlation"));
  tabs_->addTab(redundancyView_, tr("Redundancy"));
  tabs_->addTab(manipulation_, tr("Manipulations"));
  tabs_->addTab(ablation_, tr("Ablation"));
  for (views::PlotView* v : plotViews()) {
    v->setSelection(selection_);
    v->setFigureStyle(screenStyle());
  }
  tableModel_ = new views::LayersTableModel(this);
  auto* proxy = new QSortFilterProxyModel(this);
  proxy->setSourceModel(tableModel_);
  proxy->setSortRole(views::LayersTableModel::kRawRole);
  table_ = new QTableView;
  table_->setModel(proxy);
  table_->setSortingEnabled(true);
  table_->sortByColumn(0, Qt::AscendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->verticalHeader()->setVisible(false);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  tabs_->addTab(table_, tr("Layers table"));
  // Linked selection: table rows <-> LayerSelection (setLayers ignores no-op changes, so no loop).
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this, proxy] {
    QVector<int> layers;
    for (const QModelIndex& i : table_->selectionModel()->selectedRows()) layers << proxy->mapToSource(i).row();
    selection_->setLayers(layers);
  });
  connect(selection_, &views::LayerSelection::changed, this, [this, proxy](const QVector<int>& layers) {
    QItemSelection sel;
    for (int l : layers) {
      if (l >= tableModel_->rowCount()) continue;
      const QModelIndex i = proxy->mapFromSource(tableModel_->index(l, 0));
      sel.select(i, i);
    }
    const QSignalBlocker block(table_->selectionModel());
    table_->selectionModel()->select(sel, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    table_->viewport()->update();
    statusBar()->showMessage(layers.isEmpty() ? tr("No layers selected")
                                              : tr("Selected layers: %1").arg([&] {
                                                  QStringList s;
                                                  for (int l : layers) s << QString::number(l);
                                                  return s.join(QStringLiteral(", "));
                                                }()));
  });
  setCentralWidget(tabs_);

  auto* dock = new QDockWidget(tr("Model, task and analysis"), this);
  dock->setObjectName(QStringLiteral("inputsDock"));
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  layout->addWidget(buildInputsPanel());
  layout->addWidget(buildOptionsPanel());
  layout->addStretch();
  auto* scroll = new QScrollArea;
  scroll->setWidget(panel);
  scroll->setWidgetResizable(true);
  scroll->setMinimumWidth(330);
  dock->setWidget(scroll);
  addDockWidget(Qt::LeftDockWidgetArea, dock);

  // Adapters: training on the selection and the 4-way ablation, in right docks (hidden until asked for).
  auto scrolled = [](QWidget* w) {
    auto* s = new QScrollArea;
    s->setWidget(w);
    s->setWidgetResizable(true);
    s->setMinimumWidth(380);
    return s;
  };
  trainPanel_ = new TrainPanel;
  trainPanel_->setSelection(selection_);
  trainDock_ = new QDockWidget(tr("Train on selection (LS-LoRA / GARFA)"), this);
  trainDock_->setObjectName(QStringLiteral("trainDock"));
  trainDock_->setWidget(scrolled(trainPanel_));
  addDockWidget(Qt::RightDockWidgetArea, trainDock_);
  trainDock_->hide();
  ablationLauncher_ = new AblationLauncher;
  ablationDock_ = new QDockWidget(tr("4-way cross-layer ablation"), this);
  ablationDock_->setObjectName(QStringLiteral("ablationDock"));
  ablationDock_->setWidget(scrolled(ablationLauncher_));
  addDockWidget(Qt::RightDockWidgetArea, ablationDock_);
  tabifyDockWidget(trainDock_, ablationDock_);
  ablationDock_->hide();
  connect(trainPanel_, &TrainPanel::failed, this, &MainWindow::showError);
  connect(ablationLauncher_, &AblationLauncher::failed, this, &MainWindow::showError);
  connect(trainPanel_, &TrainPanel::runningChanged, this, &MainWindow::updateJobLocks);
  connect(ablationLauncher_, &AblationLauncher::runningChanged, this, &MainWindow::updateJobLocks);
  connect(ablationLauncher_, &AblationLauncher::finished, this, [this](const QString& dir) {
    // Merge report.json into the results shown (the analysis stays) and show the grouped bars.
    if (openResults(dir, bundle_.has_value())) tabs_->setCurrentWidget(ablation_);
  });
  resize(1400, 860);
}

QWidget* MainWindow::buildInputsPanel() {
  auto* box = new QGroupBox(tr("Model and task"));
  auto* form = new QFormLayout(box);
  auto pathRow = [&](QLineEdit*& edit, const QString& placeholder, std::function<void()> browse) {
    auto* row = new QWidget;
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    edit = new QLineEdit;
    edit->setPlaceholderText(placeholder);
    auto* b = new QPushButton(tr("..."));
    b->setMaximumWidth(32);
    connect(b, &QPushButton::clicked, this, browse);
    h->addWidget(edit);
    h->addWidget(b);
    return row;
  };
  form->addRow(tr("Model"), pathRow(modelEdit_, tr("Hugging Face model folder"), [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open model folder"), modelEdit_->text());
    if (!d.isEmpty()) setModelDir(d);
  }));
  connect(modelEdit_, &QLineEdit::editingFinished, this, [this] { setModelDir(modelEdit_->text()); });
  form->addRow(tr("Adapter"), pathRow(adapterEdit_, tr("optional LS-LoRA / GARFA folder"), [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open adapter folder"), adapterEdit_->text());
    if (!d.isEmpty()) setAdapterDir(d);
  }));
  taskList_ = new QListWidget;
  taskList_->setMaximumHeight(90);
  taskList_->setToolTip(tr("Task files (JSONL); the selected one is analysed"));
  auto* taskButtons = new QWidget;
  auto* th = new QHBoxLayout(taskButtons);
  th->setContentsMargins(0, 0, 0, 0);
  auto* add = new QPushButton(tr("Add..."));
  auto* remove = new QPushButton(tr("Remove"));
  connect(add, &QPushButton::clicked, this, [this] {
    for (const QString& f : QFileDialog::getOpenFileNames(this, tr("Add task files"), {}, tr("Task files (*.jsonl);;All files (*)")))
      addTaskFile(f);
  });
  connect(remove, &QPushButton::clicked, this, [this] { delete taskList_->currentItem(); });
  th->addWidget(add);
  th->addWidget(remove);
  th->addStretch();
  form->addRow(tr("Tasks"), taskList_);
  form->addRow(QString(), taskButtons);
  summary_ = new QTextBrowser;
  summary_->setMinimumHeight(170);
  summary_->setHtml(tr("<i>Open a model folder to see its summary (read from config.json and the safetensors "
                       "headers; no weights are loaded).</i>"));
  form->addRow(summary_);
  return box;
}

QWidget* MainWindow::buildOptionsPanel() {
  auto* box = new QGroupBox(tr("Analysis (METHODS defaults)"));
  auto* form = new QFormLayout(box);
  auto combo = [](const QStringList& items, const QString& tip) {
    auto* c = new QComboBox;
    c->addItems(items);
    c->setToolTip(tip);
    return c;
  };
  sensMode_ = combo({QStringLiteral("outcome"), QStringLiteral("pairs")}, tr("Correct vs incorrect items, or teacher-forced pairs"));
  position_ = combo({QStringLiteral("auto"), QStringLiteral("last_prompt"), QStringLiteral("completion_mean"), QStringLiteral("first_completion")},
                    tr("Token position of the hidden state"));
  metric_ = combo({QStringLiteral("rel_l2"), QStringLiteral("raw_l2"), QStringLiteral("cos"), QStringLiteral("fisher"), QStringLiteral("probe")},
                  tr("Sensitivity metric for the co-localization statistics (all metrics are computed)"));
  ropeMode_ = combo({QStringLiteral("gradient"), QStringLiteral("perturb"), QStringLiteral("nope")}, tr("RoPE influence R_l"));
  eps_ = new QDoubleSpinBox;
  eps_->setRange(0.001, 0.9);
  eps_->setDecimals(3);
  eps_->setValue(0.1);
  eps_->setToolTip(tr("perturb: frequencies multiplied by (1 +- eps)"));
  redundancy_ = new QCheckBox(tr("attention / MLP / block cosine"));
  redundancy_->setChecked(true);
  manipulations_ = new QListWidget;
  manipulations_->setMaximumHeight(95);
  for (const char* m : {"random", "freeze", "shuffle", "swap", "skip_attention"}) {
    auto* it = new QListWidgetItem(QString::fromLatin1(m), manipulations_);
    it->setFlags(it->flags() | Qt::ItemIsUserCheckable);
    it->setCheckState(Qt::Unchecked);
  }
  kSens_ = new QSpinBox;
  kSens_->setRange(0, 4096);
  kSens_->setSpecialValueText(tr("auto: ceil(0.28 L)"));
  kRope_ = new QSpinBox;
  kRope_->setRange(0, 4096);
  kRope_->setSpecialValueText(tr("auto: ceil(0.31 L)"));
  bootstrap_ = new QSpinBox;
  bootstrap_->setRange(0, 100000);
  bootstrap_->setValue(1000);
  seed_ = new QSpinBox;
  seed_->setRange(0, std::numeric_limits<int>::max());
  seed_->setValue(1234);
  dtype_ = combo({QStringLiteral("float32"), QStringLiteral("bfloat16")}, tr("Compute dtype"));
  batch_ = new QSpinBox;
  batch_->setRange(1, 1024);
  batch_->setValue(8);
  form->addRow(tr("Sensitivity data"), sensMode_);
  form->addRow(tr("Position"), position_);
  form->addRow(tr("Profile metric"), metric_);
  form->addRow(tr("RoPE influence"), ropeMode_);
  form->addRow(tr("perturb eps"), eps_);
  form->addRow(tr("Redundancy"), redundancy_);
  form->addRow(tr("Manipulations"), manipulations_);
  form->addRow(tr("k sensitivity"), kSens_);
  form->addRow(tr("k RoPE"), kRope_);
  form->addRow(tr("Bootstrap B"), bootstrap_);
  form->addRow(tr("Seed"), seed_);
  form->addRow(tr("Dtype"), dtype_);
  form->addRow(tr("Batch"), batch_);
  auto* note = new QLabel(tr("<small>Method: LayerScope operationalisation of the papers, see docs/METHODS.</small>"));
  note->setWordWrap(true);
  form->addRow(note);
  auto* buttons = new QWidget;
  auto* h = new QHBoxLayout(buttons);
  h->setContentsMargins(0, 0, 0, 0);
  runButton_ = new QPushButton(tr("Run analysis"));
  runButton_->setDefault(true);
  cancelButton_ = new QPushButton(tr("Cancel"));
  connect(runButton_, &QPushButton::clicked, this, [this] { startAnalysis(); });
  connect(cancelButton_, &QPushButton::clicked, this, &MainWindow::cancelAnalysis);
  h->addWidget(runButton_);
  h->addWidget(cancelButton_);
  form->addRow(buttons);
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  progress_->setTextVisible(true);
  status_ = new QLabel(tr("Idle"));
  status_->setWordWrap(true);
  form->addRow(progress_);
  form->addRow(status_);
  return box;
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("Open &model folder..."), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open model folder"));
    if (!d.isEmpty()) setModelDir(d);
  }, QKeySequence::Open);
  file->addAction(tr("Open &adapter folder..."), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open adapter folder"));
    if (!d.isEmpty()) setAdapterDir(d);
  });
  file->addAction(tr("Add &task file..."), this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Add task file"), {}, tr("Task files (*.jsonl)"));
    if (!f.isEmpty()) addTaskFile(f);
  });
  file->addAction(tr("Open &results folder..."), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open results folder"));
    if (!d.isEmpty()) openResults(d);
  }, QKeySequence(tr("Ctrl+R")));
  file->addAction(tr("Add results folder (merge)..."), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Add results folder"));
    if (!d.isEmpty()) openResults(d, true);
  });
  recentMenu_ = file->addMenu(tr("Recent"));
  rebuildRecentMenu();
  file->addSeparator();
  file->addAction(tr("&Save session..."), this, &MainWindow::saveSessionAs, QKeySequence::Save);
  file->addAction(tr("Open s&ession..."), this, &MainWindow::openSessionDialog);
  file->addSeparator();
  file->addAction(tr("&Export figure..."), this, &MainWindow::exportCurrentFigure, QKeySequence(tr("Ctrl+E")));
  file->addAction(tr("Export &all figures..."), this, &MainWindow::exportAllFigures, QKeySequence(tr("Ctrl+Shift+E")));
  file->addSeparator();
  file->addAction(tr("&Quit"), this, &QWidget::close, QKeySequence::Quit);
  QMenu* select = menuBar()->addMenu(tr("&Selection"));
  select->addAction(tr("Top-k sensitivity layers (S_sens)"), this, [this] {
    if (bundle_ && bundle_->stats) selection_->setLayers(QVector<int>(bundle_->stats->topSens.begin(), bundle_->stats->topSens.end()));
  });
  select->addAction(tr("Top-k RoPE layers (S_rope)"), this, [this] {
    if (bundle_ && bundle_->stats) selection_->setLayers(QVector<int>(bundle_->stats->topRope.begin(), bundle_->stats->topRope.end()));
  });
  select->addAction(tr("Clear"), selection_, &views::LayerSelection::clear, QKeySequence(Qt::Key_Escape));
  QMenu* adapters = menuBar()->addMenu(tr("&Adapters"));
  adapters->addAction(tr("&Train on selection..."), this, &MainWindow::showTrainPanel, QKeySequence(tr("Ctrl+T")));
  adapters->addAction(tr("Run 4-way &ablation..."), this, &MainWindow::showAblationLauncher);
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("About LayerScope"), this, [this] {
    QMessageBox::about(this, tr("About LayerScope"),
                       tr("<b>LayerScope</b>: layer-wise interpretability for GQA transformers.<p>Click or drag on a "
                          "layer axis to select layers (Ctrl adds); the selection is shared by every view. Hover for "
                          "exact values. Figures export to PDF, SVG and PNG with their data as CSV.</p>"));
  });
}

QList<views::PlotView*> MainWindow::plotViews() const {
  return {profile_, heatmap_, scatter_, redundancyView_, manipulation_, ablation_};
}

void MainWindow::showError(const QString& title, const QString& message) {
  statusBar()->showMessage(title, 8000);
  Q_EMIT errorShown(message);
  if (quietErrors_) return;
  QMessageBox box(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box.exec();
}

void MainWindow::setModelDir(const QString& dir) {
  modelEdit_->setText(dir);
  trainPanel_->setModelDir(dir);
  ablationLauncher_->setModelDir(dir);
  if (dir.isEmpty()) return;
  addRecent(QStringLiteral("recent/models"), dir);
  summary_->setHtml(tr("<i>Reading %1 ...</i>").arg(dir.toHtmlEscaped()));
  // Stateless and cheap, but file I/O: off the GUI thread.
  summaryWatcher_.setFuture(QtConcurrent::run(summarise, dir));
}

void MainWindow::setAdapterDir(const QString& dir) { adapterEdit_->setText(dir); }

void MainWindow::addTaskFile(const QString& file) {
  if (file.isEmpty() || !taskList_->findItems(file, Qt::MatchExactly).isEmpty()) return;
  taskList_->addItem(file);
  taskList_->setCurrentRow(taskList_->count() - 1);
  addRecent(QStringLiteral("recent/tasks"), file);
}

bool MainWindow::openResults(const QString& dir, bool add) {
  try {
    auto b = results::readResultsDir(dir.toStdString());
    if (add && bundle_) {
      results::mergeInto(*bundle_, b);
      resultsDirs_ << dir;
    } else {
      bundle_ = std::move(b);
      resultsDirs_ = QStringList{dir};
      selection_->clear();
    }
  } catch (const std::exception& e) {
    showError(tr("Cannot open results"), QString::fromUtf8(e.what()));
    return false;
  }
  addRecent(QStringLiteral("recent/results"), dir);
  showBundle();
  setWindowTitle(tr("LayerScope - %1").arg(QFileInfo(dir).fileName()));
  return true;
}

void MainWindow::showBundle() {
  if (!bundle_) return;
  const auto& b = *bundle_;
  {
    const QSignalBlocker block(profileMetric_);
    const QString current = profileMetric_->currentText();
    profileMetric_->clear();
    if (b.scores)
      for (const auto& [key, v] : b.scores->layerScores)
        if (key.rfind("sensitivity.", 0) == 0 && key.find(".ci_") == std::string::npos) profileMetric_->addItem(QString::fromStdString(key));
    const QString wanted = current.isEmpty() && b.stats ? QString::fromStdString(b.stats->sensitivityKey) : current;
    profileMetric_->setCurrentIndex(std::max(0, profileMetric_->findText(wanted)));
  }
  if (b.scores) {
    profile_->setData(*b.scores, b.stats);
    scatter_->setData(*b.scores, b.stats);
  }
  updateStyle();  // heatmap kind, metric choice and style in one place
  redundancyView_->setData(b.scores, b.drop);
  if (b.manipulation) manipulation_->setData(*b.manipulation);
  if (b.ablation) ablation_->setData(*b.ablation);
  tableModel_->setTable(results::layerTableOf(b));
  if (b.stats)
    trainPanel_->setTopK(QVector<int>(b.stats->topSens.begin(), b.stats->topSens.end()),
                         QVector<int>(b.stats->topRope.begin(), b.stats->topRope.end()));
  for (const QString& d : resultsDirs_) ablationLauncher_->setAnalysisDir(d);
  // Tabs without data stay, greyed, so the layout never jumps.
  for (int i = 0; i < tabs_->count(); ++i)
    if (auto* v = qobject_cast<views::PlotView*>(tabs_->widget(i))) tabs_->setTabEnabled(i, v->hasData());
}

void MainWindow::updateStyle() {
  const views::FigureStyle s = screenStyle();
  if (bundle_ && bundle_->scores) {
    const bool perHead = heatmapKind_->currentIndex() == 0 && !bundle_->scores->layerHeadScores.empty();
    std::string headKey;
    for (const auto& [k, m] : bundle_->scores->layerHeadScores) if (headKey.empty()) headKey = k;
    heatmap_->setData(perHead ? views::headHeatmap(*bundle_->scores, headKey) : views::metricHeatmap(*bundle_->scores));
    const QString metric = profileMetric_->currentText();
    profile_->setProfileKeys(metric, {});
    scatter_->setProfileKeys(metric, {});
  }
  for (views::PlotView* v : plotViews()) v->setFigureStyle(s);
}

AnalysisJob MainWindow::jobFromPanel() const {
  AnalysisJob j;
  j.modelDir = modelEdit_->text();
  j.adapterDir = adapterEdit_->text();
  if (auto* it = taskList_->currentItem()) j.taskFile = it->text();
  j.sensitivityMode = sensMode_->currentText();
  j.position = position_->currentText();
  j.metric = metric_->currentText();
  j.ropeMode = ropeMode_->currentText();
  j.eps = eps_->value();
  j.redundancy = redundancy_->isChecked();
  for (int i = 0; i < manipulations_->count(); ++i)
    if (manipulations_->item(i)->checkState() == Qt::Checked) j.manipulations << manipulations_->item(i)->text();
  j.kSens = kSens_->value();
  j.kRope = kRope_->value();
  j.bootstrap = bootstrap_->value();
  j.seed = qulonglong(seed_->value());
  j.dtype = dtype_->currentText();
  j.batchSize = batch_->value();
  return j;
}

bool MainWindow::startAnalysis(const QString& outDir) {
  if (running_ || trainPanel_->isRunning() || ablationLauncher_->isRunning()) return false;  // one job at a time
  AnalysisJob job = jobFromPanel();
  if (job.modelDir.isEmpty() || !QFileInfo(job.modelDir).isDir()) {
    showError(tr("No model"), tr("Choose a model folder (File > Open model folder) before running an analysis."));
    return false;
  }
  if (job.taskFile.isEmpty() || !QFileInfo(job.taskFile).isFile()) {
    showError(tr("No task"), tr("Add a task file (File > Add task file) and select it in the list."));
    return false;
  }
  if (outDir.isEmpty()) {
    const QString root = settings_->value(QStringLiteral("resultsRoot"),
                                          QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/results")).toString();
    QDir().mkpath(root);
    job.outDir = QStringLiteral("%1/%2_%3_%4").arg(root, QFileInfo(job.modelDir).fileName(), QFileInfo(job.taskFile).completeBaseName(),
                                                   QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")));
  } else {
    job.outDir = outDir;
  }
  pendingOut_ = job.outDir;
  setRunning(true);
  runClock_.start();
  status_->setText(tr("Starting..."));
  progress_->setValue(0);
  worker_->arm();
  QMetaObject::invokeMethod(worker_, "run", Qt::QueuedConnection, Q_ARG(layerscope::app::AnalysisJob, job));
  return true;
}

void MainWindow::cancelAnalysis() {
  if (!running_) return;
  worker_->cancel();  // thread-safe: flips the stop_source the job polls
  status_->setText(tr("Cancelling at the next layer / batch boundary..."));
  cancelButton_->setEnabled(false);
}

void MainWindow::setRunning(bool running) {
  running_ = running;
  cancelButton_->setEnabled(running);
  progress_->setVisible(running);
  updateJobLocks();
}

void MainWindow::updateJobLocks() {
  // Called from the constructor before the adapter panels exist.
  const bool training = trainPanel_ && trainPanel_->isRunning();
  const bool ablating = ablationLauncher_ && ablationLauncher_->isRunning();
  runButton_->setEnabled(!running_ && !training && !ablating);
  if (trainPanel_) trainPanel_->setBlocked(running_ || ablating);
  if (ablationLauncher_) ablationLauncher_->setBlocked(running_ || training);
}

void MainWindow::showTrainPanel() {
  if (!trainPanel_->isRunning() && !trainPanel_->prefillFromSelection()) trainPanel_->prefillFromTopK(true);
  trainDock_->show();
  trainDock_->raise();
}

void MainWindow::showAblationLauncher() {
  ablationDock_->show();
  ablationDock_->raise();
}

void MainWindow::onProgress(const QString& stage, double fraction) {
  if (!running_) return;
  if (fraction < 0) {
    progress_->setRange(0, 0);  // unknown total: busy indicator
    status_->setText(stage);
    return;
  }
  progress_->setRange(0, 1000);
  progress_->setValue(int(fraction * 1000));
  const double elapsed = runClock_.elapsed() / 1000.0;
  QString eta;
  if (fraction > 0.02) {
    const int s = int(elapsed * (1 - fraction) / fraction);
    eta = tr(", about %1:%2 left").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
  }
  status_->setText(tr("%1 (%2%%3)").arg(stage).arg(int(fraction * 100)).arg(eta));
}

void MainWindow::onFinished(const QString& dir) {
  setRunning(false);
  status_->setText(tr("Finished in %1 s: %2").arg(runClock_.elapsed() / 1000.0, 0, 'f', 1).arg(dir));
  openResults(dir);
  Q_EMIT analysisFinished(dir);
}

void MainWindow::onCancelled() {
  setRunning(false);
  status_->setText(tr("Cancelled; nothing was written."));
  Q_EMIT analysisCancelled();
}

void MainWindow::onFailed(const QString& message) {
  setRunning(false);
  status_->setText(tr("Failed."));
  Q_EMIT analysisFailed(message);
  showError(tr("Analysis failed"), message);
}

void MainWindow::addRecent(const QString& key, const QString& path) {
  QStringList list = settings_->value(key).toStringList();
  list.removeAll(path);
  list.prepend(path);
  while (list.size() > kMaxRecent) list.removeLast();
  settings_->setValue(key, list);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  if (!recentMenu_) return;
  recentMenu_->clear();
  for (const QString& d : settings_->value(QStringLiteral("recent/results")).toStringList())
    recentMenu_->addAction(tr("Results: %1").arg(d), this, [this, d] { openResults(d); });
  for (const QString& d : settings_->value(QStringLiteral("recent/models")).toStringList())
    recentMenu_->addAction(tr("Model: %1").arg(d), this, [this, d] { setModelDir(d); });
  for (const QString& f : settings_->value(QStringLiteral("recent/tasks")).toStringList())
    recentMenu_->addAction(tr("Task: %1").arg(f), this, [this, f] { addTaskFile(f); });
  recentMenu_->setEnabled(!recentMenu_->isEmpty());
}

void MainWindow::exportCurrentFigure() {
  auto* view = qobject_cast<views::PlotView*>(tabs_->currentWidget());
  if (!bundle_ || !view || !view->hasData()) {
    showError(tr("Nothing to export"), tr("Open results and choose a figure tab first."));
    return;
  }
  const QString file = QFileDialog::getSaveFileName(this, tr("Export figure"), view->kind() + QStringLiteral(".pdf"),
                                                    tr("PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"));
  if (file.isEmpty()) return;
  try {
    auto kind = views::parseFigureKind(view->kind());
    if (view == heatmap_ && heatmapKind_->currentIndex() == 1) kind = views::FigureKind::HeatmapMetrics;
    views::FigureStyle s = screenStyle();
    s.pxPerPt = 1;
    auto fig = views::makeFigure(*kind, *bundle_, s, selection_);
    if (view == profile_ || view == scatter_) {
      if (auto* p = qobject_cast<views::ProfileView*>(fig.get())) p->setProfileKeys(profileMetric_->currentText(), {});
      if (auto* p = qobject_cast<views::ScatterView*>(fig.get())) p->setProfileKeys(profileMetric_->currentText(), {});
    }
    views::exportFigure(*fig, file, s);
    statusBar()->showMessage(tr("Wrote %1 and its data as CSV").arg(file), 8000);
  } catch (const std::exception& e) {
    showError(tr("Export failed"), QString::fromUtf8(e.what()));
  }
}

void MainWindow::exportAllFigures() {
  if (!bundle_) {
    showError(tr("Nothing to export"), tr("Open a results folder first."));
    return;
  }
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Export all figures into"));
  if (dir.isEmpty()) return;
  try {
    views::FigureStyle s = screenStyle();
    s.pxPerPt = 1;
    const auto manifest = views::exportAllFigures(*bundle_, dir, s);
    statusBar()->showMessage(tr("Wrote %1 figures and figures.json to %2").arg(manifest.value(QStringLiteral("figures")).toArray().size()).arg(dir), 8000);
  } catch (const std::exception& e) {
    showError(tr("Export failed"), QString::fromUtf8(e.what()));
  }
}

Session MainWindow::currentSession() const {
  Session s;
  s.modelDir = modelEdit_->text();
  s.adapterDir = adapterEdit_->text();
  for (int i = 0; i < taskList_->count(); ++i) s.taskFiles << taskList_->item(i)->text();
  const AnalysisJob j = jobFromPanel();
  s.options = QJsonObject{{QStringLiteral("sensitivity_mode"), j.sensitivityMode}, {QStringLiteral("position"), j.position},
                          {QStringLiteral("metric"), j.metric}, {QStringLiteral("rope_mode"), j.ropeMode},
                          {QStringLiteral("eps"), j.eps}, {QStringLiteral("redundancy"), j.redundancy},
                          {QStringLiteral("manipulations"), QJsonArray::fromStringList(j.manipulations)},
                          {QStringLiteral("k_sens"), j.kSens}, {QStringLiteral("k_rope"), j.kRope},
                          {QStringLiteral("bootstrap"), j.bootstrap}, {QStringLiteral("seed"), double(j.seed)},
                          {QStringLiteral("dtype"), j.dtype}, {QStringLiteral("batch_size"), j.batchSize}};
  s.resultsDirs = resultsDirs_;
  s.selection = selection_->layers();
  return s;
}

void MainWindow::applySession(const Session& sIn) {
  Session s = sIn;
  if (!s.modelDir.isEmpty() && !QFileInfo(s.modelDir).isDir()) {
    // A moved model is a question, not a crash: offer to locate it.
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
  taskList_->clear();
  for (const QString& t : s.taskFiles) addTaskFile(t);
  const QJsonObject& o = s.options;
  auto setCombo = [&](QComboBox* c, const char* key) {
    const int i = c->findText(o.value(QLatin1String(key)).toString());
    if (i >= 0) c->setCurrentIndex(i);
  };
  setCombo(sensMode_, "sensitivity_mode");
  setCombo(position_, "position");
  setCombo(metric_, "metric");
  setCombo(ropeMode_, "rope_mode");
  setCombo(dtype_, "dtype");
  if (o.contains(QStringLiteral("eps"))) eps_->setValue(o.value(QStringLiteral("eps")).toDouble());
  if (o.contains(QStringLiteral("redundancy"))) redundancy_->setChecked(o.value(QStringLiteral("redundancy")).toBool());
  const QJsonArray manip = o.value(QStringLiteral("manipulations")).toArray();
  for (int i = 0; i < manipulations_->count(); ++i)
    manipulations_->item(i)->setCheckState(manip.contains(manipulations_->item(i)->text()) ? Qt::Checked : Qt::Unchecked);
  if (o.contains(QStringLiteral("k_sens"))) kSens_->setValue(o.value(QStringLiteral("k_sens")).toInt());
  if (o.contains(QStringLiteral("k_rope"))) kRope_->setValue(o.value(QStringLiteral("k_rope")).toInt());
  if (o.contains(QStringLiteral("bootstrap"))) bootstrap_->setValue(o.value(QStringLiteral("bootstrap")).toInt());
  if (o.contains(QStringLiteral("seed"))) seed_->setValue(int(o.value(QStringLiteral("seed")).toDouble()));
  if (o.contains(QStringLiteral("batch_size"))) batch_->setValue(o.value(QStringLiteral("batch_size")).toInt());
  bool first = true;
  for (const QString& d : s.resultsDirs) {
    openResults(d, !first);
    first = false;
  }
  selection_->setLayers(s.selection);
}

void MainWindow::saveSessionAs() {
  const QString file = QFileDialog::getSaveFileName(this, tr("Save session"), {}, tr("LayerScope session (*.lssession)"));
  if (file.isEmpty()) return;
  try {
    saveSession(currentSession(), file);
    addRecent(QStringLiteral("recent/sessions"), file);
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
  if (settings_->value(QStringLiteral("firstStartDone"), false).toBool()) return;
  settings_->setValue(QStringLiteral("firstStartDone"), true);
  const QString model = findDemo(QStringLiteral("models/demo"));
  const QString tasks = findDemo(QStringLiteral("tasks/demo"));
  if (model.isEmpty() && tasks.isEmpty()) return;
  if (QMessageBox::question(this, tr("Welcome to LayerScope"),
                            tr("Open the bundled demo%1%2?").arg(model.isEmpty() ? QString() : tr(" model"),
                                                                 tasks.isEmpty() ? QString() : tr(" and tasks"))) != QMessageBox::Yes)
    return;
  if (!model.isEmpty()) setModelDir(model);
  const QStringList files = QDir(tasks).entryList({QStringLiteral("*.jsonl")}, QDir::Files, QDir::Name);
  for (const QString& f : files) addTaskFile(QDir(tasks).filePath(f));
}

}  // namespace layerscope::app
