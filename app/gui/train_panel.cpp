#include "app/gui/train_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardPaths>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "app/gui/first_run.h"
#include "app/gui/device_combo.h"
#include "app/gui/job_runner.h"
#include "app/gui/progress_text.h"
#include "app/gui/spin_boxes.h"
#include "core/train/trainer.h"
#include "views/layer_selection.h"
#include "views/loss_curve_view.h"

namespace layerscope::app {
namespace {

/// "0-3,7" from sorted unique layers (the core::parseLayerList syntax), "none" when empty.
QString layerText(QVector<int> layers) {
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  if (layers.isEmpty()) return QStringLiteral("none");
  QStringList parts;
  for (qsizetype i = 0; i < layers.size();) {
    qsizetype j = i;
    while (j + 1 < layers.size() && layers[j + 1] == layers[j] + 1) ++j;
    parts << (j == i ? QString::number(layers[i]) : QStringLiteral("%1-%2").arg(layers[i]).arg(layers[j]));
    i = j + 1;
  }
  return parts.join(QLatin1Char(','));
}

/// True when the folder holds a checkpoint that `--resume` would pick: the same test the trainer applies
/// (`step-<digits>` whose manifest parses and whose tensor files open), not any folder named step-*.
bool hasCheckpoint(const QString& outDir) {
  if (outDir.isEmpty()) return false;
  return !core::Trainer::newestCheckpoint(std::filesystem::path(outDir.toStdString()) / "checkpoints").empty();
}

}  // namespace

TrainPanel::TrainPanel(JobRunner* runner, QWidget* parent) : QWidget(parent), runner_(runner) {
  auto* outer = new QVBoxLayout(this);
  modelLabel_ = new QLabel(tr("<i>No model: open a model folder first.</i>"));
  modelLabel_->setWordWrap(true);
  outer->addWidget(modelLabel_);

  // Layer sets.
  auto* layersBox = new QGroupBox(tr("Layer sets"));
  auto* lf = new QFormLayout(layersBox);
  auto layerRow = [&](QLineEdit*& edit, bool lora) {
    auto* row = new QWidget;
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    edit = new QLineEdit(QStringLiteral("none"));
    edit->setToolTip(tr("Layers: ranges and commas (\"23-31\", \"0,2,5-7\"), \"all\" or \"none\". Until edited, "
                        "LS-LoRA follows S_sens and GARFA S_rope of the analysis on screen"));
    h->addWidget(edit, 1);
    QLineEdit* target = edit;
    auto button = [&](const QString& text, const QString& tip, std::function<QVector<int>()> layers) {
      auto* b = new QPushButton(text);
      b->setToolTip(tip);
      b->setMaximumWidth(62);
      connect(b, &QPushButton::clicked, this, [this, target, layers] {
        userSet_.insert(target);
        target->setText(layerText(layers()));
      });
      h->addWidget(b);
      return b;
    };
    button(tr("Sel."), tr("The layers selected in the views"),
           [this] { return selection_ ? selection_->layers() : QVector<int>{}; });
    topKButtons_ << button(QStringLiteral("S_sens"), tr("Top-k sensitivity layers (stats.json top_k.S_sens)"), [this] { return sSens_; });
    topKButtons_ << button(QStringLiteral("S_rope"), tr("Top-k RoPE-influence layers (stats.json top_k.S_rope)"), [this] { return sRope_; });
    (void)lora;
    return row;
  };
  lf->addRow(tr("LS-LoRA"), layerRow(loraEdit_, true));
  lf->addRow(tr("GARFA"), layerRow(garfaEdit_, false));
  outer->addWidget(layersBox);

  // Hyperparameters (docs/methods.md section 7 defaults).
  auto* hp = new QGroupBox(tr("Hyperparameters"));
  hp->setToolTip(tr("Defaults from docs/methods.md (section 7)"));
  auto* hf = new QFormLayout(hp);
  rank_ = intSpin(1, 1024, 16);
  alpha_ = doubleSpin(0.01, 4096, 2, 32, 1);
  dropout_ = doubleSpin(0, 0.99, 3, 0.05, 0.01);
  targets_ = new QLineEdit(QStringLiteral("q,k,v,o,gate,up,down"));
  loraLr_ = doubleSpin(1e-7, 1, 7, 2e-4, 1e-5);
  garfaLr_ = doubleSpin(1e-7, 1, 7, 1e-3, 1e-4);
  clamp_ = new QCheckBox(tr("clamp alpha to"));
  minAlpha_ = doubleSpin(0.01, 1, 2, 0.25, 0.05);
  maxAlpha_ = doubleSpin(1, 100, 2, 4, 0.5);
  steps_ = intSpin(1, 10000000, 200);
  batch_ = intSpin(1, 4096, 8);
  gradAccum_ = intSpin(1, 4096, 1);
  processes_ = intSpin(1, 256, 1);
  processes_->setToolTip(tr("Local data-parallel processes (layerscope-cli launch): each micro-batch is split over them"));
  checkpointEvery_ = intSpin(0, 10000000, 50);
  checkpointEvery_->setSpecialValueText(tr("only at the end"));
  seed_ = intSpin(0, std::numeric_limits<int>::max(), 0);
  dtype_ = new QComboBox;
  dtype_->addItems({QStringLiteral("float32"), QStringLiteral("bfloat16")});
  dtype_->setToolTip(tr("Compute dtype of the frozen base; adapters are always float32"));
  device_ = makeDeviceCombo();
  auto* loraRow = new QWidget;
  {
    auto* h = new QHBoxLayout(loraRow);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(new QLabel(QStringLiteral("r")));
    h->addWidget(rank_);
    h->addWidget(new QLabel(QStringLiteral("alpha")));
    h->addWidget(alpha_);
    h->addWidget(new QLabel(tr("dropout")));
    h->addWidget(dropout_);
  }
  auto* clampRow = new QWidget;
  {
    auto* h = new QHBoxLayout(clampRow);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(clamp_);
    h->addWidget(minAlpha_);
    h->addWidget(new QLabel(QStringLiteral("..")));
    h->addWidget(maxAlpha_);
  }
  auto* runRow = new QWidget;
  {
    auto* h = new QHBoxLayout(runRow);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(new QLabel(tr("batch")));
    h->addWidget(batch_);
    h->addWidget(new QLabel(tr("accum")));
    h->addWidget(gradAccum_);
    h->addWidget(new QLabel(tr("processes")));
    h->addWidget(processes_);
  }
  hf->addRow(tr("LoRA"), loraRow);
  hf->addRow(tr("Targets"), targets_);
  hf->addRow(tr("LoRA lr"), loraLr_);
  hf->addRow(tr("GARFA lr"), garfaLr_);
  hf->addRow(tr("GARFA"), clampRow);
  hf->addRow(tr("Steps"), steps_);
  hf->addRow(tr("Batch"), runRow);
  hf->addRow(tr("Checkpoint every"), checkpointEvery_);
  hf->addRow(tr("Seed"), seed_);
  hf->addRow(tr("Dtype"), dtype_);
  hf->addRow(tr("Device"), device_);
  outer->addWidget(hp);

  // Files.
  auto* files = new QGroupBox(tr("Data and output"));
  auto* ff = new QFormLayout(files);
  auto pathRow = [&](QLineEdit*& edit, const QString& text, bool dir) {
    auto* row = new QWidget;
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    edit = new QLineEdit(text);
    auto* b = new QPushButton(QStringLiteral("..."));
    b->setMaximumWidth(32);
    QLineEdit* e = edit;
    connect(b, &QPushButton::clicked, this, [this, e, dir] {
      const QString p = dir ? QFileDialog::getExistingDirectory(this, tr("Choose a folder"), e->text())
                            : QFileDialog::getOpenFileName(this, tr("Choose a task file"), e->text(), tr("Task files (*.jsonl);;All files (*)"));
      if (p.isEmpty()) return;
      userSet_.insert(e);
      e->setText(p);
    });
    h->addWidget(edit, 1);
    h->addWidget(b);
    return row;
  };
  const QString demoTask = bundledResource(QStringLiteral("tasks/demo/copy.mc.jsonl"));
  ff->addRow(tr("Train file"), pathRow(trainEdit_, demoTask, false));
  ff->addRow(tr("Eval file"), pathRow(evalEdit_, demoTask, false));
  evalEdit_->setToolTip(tr("LayerScope task JSONL or a benchmark layout (MMLU, ARC, GPQA, MGSM, MATH; auto-detected). "
                           "Use held-out items: evaluating on the training file measures fit, not generalisation."));
  // Evaluating on the training items measures fit, not generalisation: say so while both name the same file.
  trainEdit_->setToolTip(tr("Task JSONL to fine-tune on. Until edited, the task of the analysis on screen"));
  sameFile_ = new QLabel(tr("<b>The train and eval files are the same file</b>: Evaluate vs base would measure fit, "
                            "not generalisation. Choose held-out items for evaluation."));
  sameFile_->setObjectName(QStringLiteral("sameFileWarning"));
  sameFile_->setWordWrap(true);
  sameFile_->setStyleSheet(QStringLiteral("color: #a34a00"));
  ff->addRow(sameFile_);
  evalLoss_ = new QCheckBox(tr("Held-out loss curve on the eval file"));
  evalLoss_->setChecked(true);
  evalLoss_->setToolTip(tr("During training, the mean completion loss of up to 100 items of the eval file with the "
                           "adapter applied, every steps / 10 steps and at the end; drawn on the loss curve. "
                           "It does not change the trained adapter."));
  ff->addRow(evalLoss_);
  auto checkSame = [this] {
    const QFileInfo a(trainEdit_->text().trimmed()), b(evalEdit_->text().trimmed());
    sameFile_->setHidden(!(a.isFile() && b.isFile() && a.canonicalFilePath() == b.canonicalFilePath()));
  };
  connect(trainEdit_, &QLineEdit::textChanged, this, checkSame);
  connect(evalEdit_, &QLineEdit::textChanged, this, checkSame);
  checkSame();
  ff->addRow(tr("Output folder"), pathRow(outEdit_, QString(), true));
  outEdit_->setPlaceholderText(tr("new folder under the results root"));
  connect(outEdit_, &QLineEdit::textChanged, this, &TrainPanel::updateButtons);
  outer->addWidget(files);

  auto* buttons = new QWidget;
  auto* bh = new QHBoxLayout(buttons);
  bh->setContentsMargins(0, 0, 0, 0);
  startButton_ = new QPushButton(tr("Start"));
  cancelButton_ = new QPushButton(tr("Cancel"));
  resumeButton_ = new QPushButton(tr("Resume"));
  resumeButton_->setToolTip(tr("Continue the run in the output folder from its newest checkpoint, with its recorded options"));
  evalButton_ = new QPushButton(tr("Evaluate vs base"));
  estimateButton_ = makeEstimateButton();
  evalButton_->setToolTip(tr("Accuracy of the base model and of base + the adapter in the output folder on the eval file"));
  connect(startButton_, &QPushButton::clicked, this, [this] { startTraining(false); });
  connect(resumeButton_, &QPushButton::clicked, this, [this] { startTraining(true); });
  connect(cancelButton_, &QPushButton::clicked, this, &TrainPanel::cancel);
  connect(evalButton_, &QPushButton::clicked, this, &TrainPanel::startEvaluation);
  for (QPushButton* b : {startButton_, cancelButton_, resumeButton_, evalButton_, estimateButton_}) bh->addWidget(b);
  outer->addWidget(buttons);
  outer->addWidget(estimate_);
  analyseButton_ = new QPushButton(tr("Analyse with this adapter"));
  analyseButton_->setToolTip(tr("Run the analysis on screen again (same model, task and options) with the newest adapter "
                                "trained here applied, then compare the two results in the Runs tab"));
  connect(analyseButton_, &QPushButton::clicked, this, [this] {
    if (!trainedAdapters_.isEmpty()) Q_EMIT analyseWithAdapterRequested(trainedAdapters_.last());
  });
  outer->addWidget(analyseButton_);
  // Inputs the user edits stop following the analysis on screen (setText from code emits no textEdited).
  for (QLineEdit* e : {loraEdit_, garfaEdit_, trainEdit_, evalEdit_})
    connect(e, &QLineEdit::textEdited, this, [this, e] { userSet_.insert(e); });
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  outer->addWidget(progress_);
  status_ = new QLabel(tr("Idle"));
  status_->setWordWrap(true);
  outer->addWidget(status_);
  loss_ = new views::LossCurveView;
  loss_->setMinimumHeight(220);
  outer->addWidget(loss_, 1);
  // Curve display: smoothing (TensorBoard's debiased EMA), log scale; earlier runs of this window stay overlaid.
  auto* curveRow = new QHBoxLayout;
  curveRow->addWidget(new QLabel(tr("Smoothing")));
  smoothing_ = doubleSpin(0, 0.99, 2, 0, 0.1);
  smoothing_->setToolTip(tr("Exponential moving average weight of the loss curve (0 = raw points; the raw points stay faint "
                            "behind a smoothed curve)"));
  curveRow->addWidget(smoothing_);
  logScale_ = new QCheckBox(tr("Log scale"));
  curveRow->addWidget(logScale_);
  auto* clearRuns = new QPushButton(tr("Clear earlier runs"));
  clearRuns->setToolTip(tr("Remove the dashed curves of earlier runs from the plot"));
  curveRow->addWidget(clearRuns);
  curveRow->addStretch(1);
  outer->addLayout(curveRow);
  connect(smoothing_, &QDoubleSpinBox::valueChanged, loss_, &views::LossCurveView::setSmoothing);
  connect(logScale_, &QCheckBox::toggled, loss_, &views::LossCurveView::setLogScale);
  connect(clearRuns, &QPushButton::clicked, loss_, &views::LossCurveView::clearReferenceRuns);
  result_ = new QLabel;
  result_->setWordWrap(true);
  result_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  outer->addWidget(result_);
  evalResult_ = new QLabel;
  evalResult_->setWordWrap(true);
  outer->addWidget(evalResult_);
  connect(runner_, &JobRunner::busyChanged, this, &TrainPanel::updateButtons);
  setTopK({}, {});
  setRunning(false);
}

void TrainPanel::setModelDir(const QString& dir) {
  modelDir_ = dir;
  modelLabel_->setText(dir.isEmpty() ? tr("<i>No model: open a model folder first.</i>")
                                     : tr("Base model: <b>%1</b> (frozen)").arg(dir.toHtmlEscaped()));
}

void TrainPanel::setTopK(const QVector<int>& sSens, const QVector<int>& sRope) {
  sSens_ = sSens;
  sRope_ = sRope;
  for (int i = 0; i < topKButtons_.size(); ++i) topKButtons_[i]->setEnabled(!(i % 2 == 0 ? sSens_ : sRope_).isEmpty());
}

bool TrainPanel::prefillFromSelection() {
  if (!selection_ || selection_->layers().isEmpty()) return false;
  loraEdit_->setText(layerText(selection_->layers()));
  garfaEdit_->setText(layerText(selection_->layers()));
  return true;
}

void TrainPanel::setAnalysisDefaults(const QString& taskFile, const QVector<int>& sSens, const QVector<int>& sRope) {
  setTopK(sSens, sRope);
  analysisTask_ = taskFile;
  if (!isRunning()) {
    if (!isUserSet(loraEdit_) && !sSens.isEmpty()) loraEdit_->setText(layerText(sSens));
    if (!isUserSet(garfaEdit_) && !sRope.isEmpty()) garfaEdit_->setText(layerText(sRope));
    if (!isUserSet(trainEdit_) && QFileInfo(taskFile).isFile()) trainEdit_->setText(taskFile);
  }
  updateButtons();
}

void TrainPanel::prefillUnedited() {
  const QVector<int> sel = selection_ ? selection_->layers() : QVector<int>{};
  const QVector<int>& lora = sel.isEmpty() ? sSens_ : sel;
  const QVector<int>& garfa = sel.isEmpty() ? sRope_ : sel;
  if (!isUserSet(loraEdit_) && !lora.isEmpty()) loraEdit_->setText(layerText(lora));
  if (!isUserSet(garfaEdit_) && !garfa.isEmpty()) garfaEdit_->setText(layerText(garfa));
}

bool TrainPanel::prefillFromTopK(bool sens) {
  const QVector<int>& l = sens ? sSens_ : sRope_;
  if (l.isEmpty()) return false;
  loraEdit_->setText(layerText(l));
  garfaEdit_->setText(layerText(l));
  return true;
}

TrainJob TrainPanel::jobFromPanel() const {
  TrainJob j;
  j.modelDir = modelDir_;
  j.trainFile = trainEdit_->text().trimmed();
  j.outDir = outEdit_->text().trimmed();
  j.loraLayers = loraEdit_->text();
  j.garfaLayers = garfaEdit_->text();
  j.rank = rank_->value();
  j.alpha = alpha_->value();
  j.dropout = dropout_->value();
  j.targets = targets_->text();
  j.loraLr = loraLr_->value();
  j.garfaLr = garfaLr_->value();
  j.clampAlpha = clamp_->isChecked();
  j.minAlpha = minAlpha_->value();
  j.maxAlpha = maxAlpha_->value();
  j.steps = steps_->value();
  j.batchSize = batch_->value();
  j.gradAccum = gradAccum_->value();
  j.processes = processes_->value();
  j.checkpointEvery = checkpointEvery_->value();
  j.seed = qulonglong(seed_->value());
  j.dtype = dtype_->currentText();
  j.device = device_->currentText();
  if (evalLoss_->isChecked()) j.evalLossFile = evalEdit_->text().trimmed();
  return j;
}

bool TrainPanel::loadOptionsFrom(const QString& dir) {
  QFile f(dir + QStringLiteral("/train_options.json"));
  if (!f.open(QIODevice::ReadOnly)) return false;
  const QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
  if (o.isEmpty()) return false;
  auto layers = [&](const char* key) {
    QVector<int> v;
    for (const auto& x : o.value(QLatin1String(key)).toArray()) v << x.toInt();
    return layerText(v);
  };
  loraEdit_->setText(layers("lora_layers"));
  garfaEdit_->setText(layers("garfa_layers"));
  QStringList targets;
  for (const auto& x : o.value(QStringLiteral("lora_targets")).toArray()) targets << x.toString();
  if (!targets.isEmpty()) targets_->setText(targets.join(QLatin1Char(',')));
  rank_->setValue(o.value(QStringLiteral("lora_rank")).toInt(rank_->value()));
  alpha_->setValue(o.value(QStringLiteral("lora_alpha")).toDouble(alpha_->value()));
  dropout_->setValue(o.value(QStringLiteral("lora_dropout")).toDouble(dropout_->value()));
  loraLr_->setValue(o.value(QStringLiteral("lora_lr")).toDouble(loraLr_->value()));
  garfaLr_->setValue(o.value(QStringLiteral("garfa_lr")).toDouble(garfaLr_->value()));
  const QJsonArray clamp = o.value(QStringLiteral("garfa_clamp")).toArray();
  clamp_->setChecked(clamp.size() == 2);
  if (clamp.size() == 2) {
    minAlpha_->setValue(clamp[0].toDouble());
    maxAlpha_->setValue(clamp[1].toDouble());
  }
  steps_->setValue(o.value(QStringLiteral("steps")).toInt(steps_->value()));
  batch_->setValue(o.value(QStringLiteral("batch")).toInt(batch_->value()));
  gradAccum_->setValue(o.value(QStringLiteral("grad_accum")).toInt(gradAccum_->value()));
  seed_->setValue(int(o.value(QStringLiteral("seed")).toDouble(seed_->value())));
  return true;
}

QString TrainPanel::defaultOutDir() const {
  const QString root = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/adapters");
  return QStringLiteral("%1/%2_%3_%4").arg(root, QFileInfo(modelDir_).fileName(), QFileInfo(trainEdit_->text()).completeBaseName(),
                                           QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")));
}

bool TrainPanel::startTraining(bool resume) {
  if (runner_->isBusy()) return false;  // one job at a time
  if (modelDir_.isEmpty() || !QFileInfo(modelDir_).isDir()) {
    Q_EMIT failed(tr("No model"), tr("Open a model folder (File > Open model folder) before training an adapter."));
    return false;
  }
  if (resume) {
    const QString dir = outEdit_->text().trimmed();
    if (!hasCheckpoint(dir)) {
      Q_EMIT failed(tr("Nothing to resume"), tr("The output folder '%1' holds no training checkpoint (checkpoints/step-*). "
                                                "Choose the folder of an interrupted run, or press Start.").arg(dir));
      return false;
    }
    loadOptionsFrom(dir);
  } else if (outEdit_->text().trimmed().isEmpty()) {
    outEdit_->setText(defaultOutDir());
  }
  TrainJob job = jobFromPanel();
  job.resume = resume;
  job_ = runner_->start(tr("Training"), [job](JobContext& ctx) { return runTrainJob(job, ctx); });
  if (!job_) return false;
  watch(job_);
  connect(job_, &Job::data, this, &TrainPanel::onSteps);
  connect(job_, &Job::finished, this, [this](const QVariant& v) { onTrained(v.value<TrainOutcome>()); });
  // The finished curve on screen becomes a dashed earlier run (a resume continues the same run: its steps from 1
  // are replayed into the new curve, so it is not kept twice).
  if (!resume && loss_->pointCount() > 0 && !lastRunLabel_.isEmpty())
    loss_->addReferenceRun(lastRunLabel_, lastRunSteps_, loss_->losses());
  loss_->setData({}, {}, job.steps);
  result_->clear();
  evalResult_->clear();
  evaluating_ = false;
  stepSeen_ = false;
  setRunning(true);
  status_->setText(resume ? tr("Resuming...") : tr("Starting..."));
  return true;
}

void TrainPanel::watch(Job* job) {
  connect(job, &Job::progress, this, &TrainPanel::onStage);
  connect(job, &Job::cancelled, this, &TrainPanel::onCancelled);
  connect(job, &Job::failed, this, &TrainPanel::onFailed);
}

bool TrainPanel::startEvaluation() {
  if (runner_->isBusy()) return false;
  const QString adapter = outEdit_->text().trimmed();
  if (modelDir_.isEmpty() || adapter.isEmpty()) {
    Q_EMIT failed(tr("Nothing to evaluate"), tr("Train an adapter first (or put an adapter folder in 'Output folder')."));
    return false;
  }
  EvalJob job;
  job.modelDir = modelDir_;
  job.adapterDir = adapter;
  job.evalFile = evalEdit_->text().trimmed();
  job.dtype = dtype_->currentText();
  job.device = device_->currentText();
  job.batchSize = batch_->value();
  job.seed = qulonglong(seed_->value());
  job_ = runner_->start(tr("Evaluation"), [job](JobContext& ctx) { return runEvalJob(job, ctx); });
  if (!job_) return false;
  watch(job_);
  connect(job_, &Job::finished, this, [this](const QVariant& v) { onEvaluated(v.value<EvalOutcome>()); });
  evaluating_ = true;
  stepSeen_ = false;
  evalResult_->setText(tr("Evaluating..."));
  setRunning(true);
  return true;
}

void TrainPanel::cancel() {
  if (!job_) return;
  job_->cancel();  // thread-safe: flips the stop_source the job polls
  (evaluating_ ? evalResult_ : status_)->setText(tr("Cancelling before the next step / batch..."));
  updateButtons();
}

void TrainPanel::setRunning(bool running) {
  if (!running) job_ = nullptr;
  updateButtons();
  progress_->setVisible(running);
}

void TrainPanel::updateButtons() {
  const bool idle = !runner_->isBusy();
  startButton_->setEnabled(idle);
  estimateButton_->setEnabled(idle);
  resumeButton_->setEnabled(idle && hasCheckpoint(outEdit_->text().trimmed()));
  evalButton_->setEnabled(idle && !outEdit_->text().trimmed().isEmpty());
  cancelButton_->setEnabled(job_ && !job_->cancelRequested());
  analyseButton_->setEnabled(idle && !trainedAdapters_.isEmpty() && !analysisTask_.isEmpty());
  analyseButton_->setToolTip(trainedAdapters_.isEmpty() ? tr("Train an adapter first")
                             : analysisTask_.isEmpty()  ? tr("Open or run an analysis first: its model, task and options are reused")
                                                        : tr("Run the analysis on screen again with %1 applied, then compare the "
                                                             "two results in the Runs tab").arg(trainedAdapters_.last()));
}

void TrainPanel::onStage(const QString& text, double fraction, double etaSeconds) {
  if (job_ && job_->cancelRequested()) return;  // keep "Cancelling..." on screen
  showFraction(progress_, fraction);
  // Once steps arrive the status line is the step report (onSteps); before that, the stage (loading, ...).
  if (!stepSeen_) (evaluating_ ? evalResult_ : status_)->setText(progressText(text, fraction, etaSeconds));
}

void TrainPanel::onSteps(const QVariantList& values) {
  QVector<double> steps, losses, lrs, evalSteps, evalLosses;
  TrainStep last;
  for (const QVariant& v : values) {
    last = v.value<TrainStep>();
    steps << double(last.step);
    losses << last.loss;
    lrs << last.lr;
    if (!std::isnan(last.evalLoss)) evalSteps << double(last.step), evalLosses << last.evalLoss;
  }
  if (steps.isEmpty()) return;
  stepSeen_ = true;
  loss_->setTotalSteps(int(last.totalSteps));
  loss_->appendPoints(steps, losses, lrs);
  if (!evalSteps.isEmpty()) loss_->appendEvalPoints(evalSteps, evalLosses);
  if (job_ && job_->cancelRequested()) return;
  status_->setText(tr("step %1 / %2   loss %3   %4 tokens/s   ETA %5")
                       .arg(last.step)
                       .arg(last.totalSteps)
                       .arg(last.loss, 0, 'f', 4)
                       .arg(last.tokensPerSecond, 0, 'f', 0)
                       .arg(clockText(last.etaSeconds)));
}

void TrainPanel::onTrained(const TrainOutcome& o) {
  QVector<double> steps(o.losses.size());
  for (qsizetype i = 0; i < steps.size(); ++i) steps[i] = double(i + 1);
  loss_->setData(steps, o.losses, int(o.losses.size()));  // includes steps replayed from a checkpoint
  loss_->setEvalPoints(o.evalSteps, o.evalLosses);
  lastRunLabel_ = QFileInfo(o.outDir).fileName();
  lastRunSteps_ = steps;
  trainedAdapters_.removeAll(o.outDir);
  trainedAdapters_ << o.outDir;
  setRunning(false);  // after trainedAdapters_: enables Analyse with this adapter
  status_->setText(tr("Finished %1 steps in %2 s (%3 tokens/s)%4")
                       .arg(o.losses.size())
                       .arg(o.seconds, 0, 'f', 1)
                       .arg(o.tokensPerSecond, 0, 'f', 0)
                       .arg(o.resumedFromStep > 0 ? tr(", resumed from step %1").arg(o.resumedFromStep) : QString()));
  result_->setText(tr("Adapter folder: <b>%1</b><br>trainable parameters: LS-LoRA %L2, GARFA %L3. Load it with "
                      "File > Open adapter folder, click Evaluate vs base, or Analyse with this adapter.")
                       .arg(o.outDir.toHtmlEscaped())
                       .arg(o.loraParameters)
                       .arg(o.garfaParameters));
  Q_EMIT trainingFinished(o.outDir);
}

void TrainPanel::onEvaluated(const EvalOutcome& o) {
  evaluating_ = false;
  setRunning(false);
  const double delta = 100 * (o.adapterAccuracy - o.baseAccuracy);
  const auto& c = o.comparison;
  evalResult_->setText(tr("<b>%1</b> (%2, %3 items): base %4%, with adapter %5% (%6%7 points, 95% CI %8 to %9); "
                          "%10 items fixed, %11 broken, exact McNemar p = %12. Every item is in the Items tab.")
                           .arg(o.task.toHtmlEscaped(), o.kind)
                           .arg(o.items)
                           .arg(100 * o.baseAccuracy, 0, 'f', 1)
                           .arg(100 * o.adapterAccuracy, 0, 'f', 1)
                           .arg(delta >= 0 ? QStringLiteral("+") : QString())
                           .arg(delta, 0, 'f', 1)
                           .arg(QString::asprintf("%+.1f", 100 * c.ci.low), QString::asprintf("%+.1f", 100 * c.ci.high))
                           .arg(c.onlyB)
                           .arg(c.onlyA)
                           .arg(QString::number(c.mcnemarP, 'g', 3)));
  Q_EMIT evaluationFinished(o);
}

void TrainPanel::onCancelled() {
  const bool eval = evaluating_;
  evaluating_ = false;
  setRunning(false);
  if (eval) {
    evalResult_->setText(tr("Evaluation cancelled."));
  } else {
    status_->setText(tr("Cancelled. Checkpoints written so far stay in the output folder; Resume continues from the newest."));
    Q_EMIT trainingCancelled();
  }
}

void TrainPanel::onFailed(const QString& message) {
  const bool eval = evaluating_;
  evaluating_ = false;
  setRunning(false);
  (eval ? evalResult_ : status_)->setText(tr("Failed."));
  Q_EMIT failed(eval ? tr("Evaluation failed") : tr("Training failed"), message);
}

}  // namespace layerscope::app
