#include "app/gui/analysis_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QLabel>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>
#include <algorithm>
#include <limits>

#include "analysis/cost_estimate.h"
#include "analysis/semantics.h"
#include "analysis/pipeline.h"
#include "analysis/profile_registry.h"
#include "app/gui/device_combo.h"
#include "app/gui/estimate_outcome.h"
#include "app/gui/job_runner.h"
#include "app/gui/progress_text.h"
#include "app/gui/spin_boxes.h"

namespace layerscope::app {

AnalysisPanel::AnalysisPanel(JobRunner* runner, QWidget* parent) : QGroupBox(tr("Analysis"), parent), runner_(runner) {
  setToolTip(tr("Defaults from docs/methods.md"));
  auto* form = new QFormLayout(this);
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
  QStringList semanticsNames;
  for (analysis::Semantics sem : analysis::allSemantics())
    semanticsNames << QString::fromStdString(analysis::semanticsName(sem));
  semantics_ = combo(semanticsNames,
                     tr("Definition of redundancy and manipulations: LayerScope's own (default) or a paper's official code "
                        "(llm-drop, shortgpt: redundancy; afcl: manipulations). See docs/analyses.md"));
  redundancy_ = new QCheckBox(tr("attention / MLP / block cosine"));
  redundancy_->setChecked(true);
  manipulations_ = new QListWidget;
  manipulations_->setMaximumHeight(95);
  for (const char* m : {"random", "freeze", "shuffle", "swap", "skip_attention"}) {
    auto* it = new QListWidgetItem(QString::fromLatin1(m), manipulations_);
    it->setFlags(it->flags() | Qt::ItemIsUserCheckable);
    it->setCheckState(Qt::Unchecked);
  }
  // Extra per-layer profiles: whatever the registry holds, two checkboxes a line, so a new profile needs no GUI code.
  auto* profiles = new QWidget;
  auto* profileGrid = new QGridLayout(profiles);
  profileGrid->setContentsMargins(0, 0, 0, 0);
  for (const analysis::ProfileSpec& spec : analysis::registeredProfiles()) {
    const QString name = QString::fromStdString(spec.name);
    auto* box = new QCheckBox(QString(name).replace(QLatin1Char('_'), QLatin1Char(' ')));
    box->setObjectName(name);
    QStringList keys;
    for (const std::string& k : spec.keys) keys << QString::fromStdString(k);
    box->setToolTip(tr("%1\n--profiles %2; layer scores: %3").arg(QString::fromStdString(spec.summary), name, keys.join(QStringLiteral(", "))));
    box->setChecked(spec.byDefault);
    const int i = int(profileBoxes_.size());
    profileGrid->addWidget(box, i / 2, i % 2);
    profileBoxes_ << box;
  }
  // The co-localization pair: any two layer_scores keys of the run; the first is the "sensitivity side" (S_sens,
  // k sensitivity), the second the "RoPE side" (S_rope, k RoPE).
  colocFirst_ = new QComboBox;
  colocFirst_->setToolTip(tr("First profile of the co-localization statistics (S_sens, k sensitivity)"));
  colocSecond_ = new QComboBox;
  colocSecond_->setToolTip(tr("Second profile of the co-localization statistics (S_rope, k RoPE)"));
  for (QComboBox* c : {colocFirst_, colocSecond_}) c->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  auto* pair = new QWidget;
  auto* pairLayout = new QVBoxLayout(pair);
  pairLayout->setContentsMargins(0, 0, 0, 0);
  pairLayout->setSpacing(2);
  pairLayout->addWidget(colocFirst_);
  pairLayout->addWidget(colocSecond_);
  kSens_ = intSpin(0, 4096, 0);
  kSens_->setSpecialValueText(tr("auto: ceil(0.28 L)"));
  kRope_ = intSpin(0, 4096, 0);
  kRope_->setSpecialValueText(tr("auto: ceil(0.31 L)"));
  bootstrap_ = intSpin(0, 100000, 1000);
  seed_ = intSpin(0, std::numeric_limits<int>::max(), 1234);
  dtype_ = combo({QStringLiteral("float32"), QStringLiteral("bfloat16")}, tr("Compute dtype"));
  device_ = makeDeviceCombo();
  batch_ = intSpin(0, 1024, 0);
  batch_->setSpecialValueText(tr("auto"));
  batch_->setToolTip(tr("Rows per forward pass, at most (the memory plan may choose fewer). auto: about %1 tokens "
                        "per forward at the task's mean row length, at most %2 rows")
                         .arg(int(analysis::kAutoBatchTokens)).arg(analysis::kAutoBatchRows));
  processes_ = intSpin(1, 256, 1);
  processes_->setObjectName(QStringLiteral("processes"));
  processes_->setToolTip(tr("Local data-parallel processes: each scores its share of the items (layerscope-cli launch "
                            "--nproc N; same results, docs/distributed.md). On one machine this pays off when the "
                            "cores outnumber what one process uses; 1 runs in the GUI's own process."));
  form->addRow(tr("Sensitivity data"), sensMode_);
  form->addRow(tr("Position"), position_);
  form->addRow(tr("Profile metric"), metric_);
  form->addRow(tr("RoPE influence"), ropeMode_);
  form->addRow(tr("perturb eps"), eps_);
  form->addRow(tr("Redundancy"), redundancy_);
  form->addRow(tr("Manipulations"), manipulations_);
  form->addRow(tr("Definition"), semantics_);
  if (!profileBoxes_.isEmpty()) form->addRow(tr("Extra profiles"), profiles);
  form->addRow(tr("Co-localization\npair"), pair);
  form->addRow(tr("k sensitivity"), kSens_);
  form->addRow(tr("k RoPE"), kRope_);
  form->addRow(tr("Bootstrap B"), bootstrap_);
  form->addRow(tr("Seed"), seed_);
  form->addRow(tr("Dtype"), dtype_);
  form->addRow(tr("Device"), device_);
  form->addRow(tr("Batch"), batch_);
  form->addRow(tr("Processes"), processes_);
  auto* note = new QLabel(tr("<small>Method: LayerScope operationalisation of the papers, see docs/methods.md.</small>"));
  note->setWordWrap(true);
  form->addRow(note);
  // Run / Cancel, progress and status: the form's last row, or a footer the window keeps in view.
  runControls_ = new QWidget;
  auto* controls = new QVBoxLayout(runControls_);
  controls->setContentsMargins(0, 0, 0, 0);
  auto* h = new QHBoxLayout;
  runButton_ = new QPushButton(tr("Run analysis"));
  runButton_->setDefault(true);
  cancelButton_ = new QPushButton(tr("Cancel"));
  connect(runButton_, &QPushButton::clicked, this, &AnalysisPanel::runRequested);
  connect(cancelButton_, &QPushButton::clicked, this, &AnalysisPanel::cancel);
  estimateButton_ = new QPushButton(tr("Estimate"));
  estimateButton_->setToolTip(tr("Peak memory and time of this analysis before it runs, from the model's config, the "
                                 "task's tokens and a rate measured on layers of the model's shape (docs/scale.md)"));
  connect(estimateButton_, &QPushButton::clicked, this, &AnalysisPanel::estimateRequested);
  h->addWidget(runButton_);
  h->addWidget(cancelButton_);
  h->addWidget(estimateButton_);
  controls->addLayout(h);
  estimate_ = new QLabel;
  estimate_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  estimate_->setWordWrap(true);
  estimate_->setVisible(false);
  controls->addWidget(estimate_);
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  progress_->setTextVisible(true);
  status_ = new QLabel(tr("Idle"));
  status_->setWordWrap(true);
  controls->addWidget(progress_);
  controls->addWidget(status_);
  form->addRow(runControls_);
  connect(runner_, &JobRunner::busyChanged, this, &AnalysisPanel::updateButtons);
  // The keys a run produces follow the metric, the RoPE mode, redundancy and the extra profiles.
  connect(metric_, &QComboBox::currentIndexChanged, this, &AnalysisPanel::refreshColocKeys);
  connect(ropeMode_, &QComboBox::currentIndexChanged, this, &AnalysisPanel::refreshColocKeys);
  connect(redundancy_, &QCheckBox::toggled, this, &AnalysisPanel::refreshColocKeys);
  for (QCheckBox* box : profileBoxes_) connect(box, &QCheckBox::toggled, this, &AnalysisPanel::refreshColocKeys);
  refreshColocKeys();
  setRunning(false);
}

QWidget* AnalysisPanel::detachRunControls() {
  const QFormLayout::TakeRowResult row = static_cast<QFormLayout*>(layout())->takeRow(runControls_);
  delete row.labelItem;  // the layout items only: the widget is handed over
  delete row.fieldItem;
  runControls_->setParent(nullptr);
  return runControls_;
}

QCheckBox* AnalysisPanel::profileBox(const QString& name) const {
  for (QCheckBox* box : profileBoxes_)
    if (box->objectName() == name) return box;
  return nullptr;
}

void AnalysisPanel::refreshColocKeys() {
  AnalysisJob j = jobOptions();
  j.colocFirst.clear();
  j.colocSecond.clear();
  QStringList keys;
  for (const std::string& k : analysis::layerScoreKeys(analyzeRequestOf(j)))
    if (!k.ends_with(".ci_low") && !k.ends_with(".ci_high")) keys << QString::fromStdString(k);
  const struct {
    QComboBox* combo;
    QString defaultText;
  } sides[] = {{colocFirst_, tr("sensitivity (first metric)")}, {colocSecond_, tr("RoPE influence")}};
  for (const auto& side : sides) {
    const QString current = side.combo->currentData().toString();
    const QSignalBlocker block(side.combo);
    side.combo->clear();
    side.combo->addItem(side.defaultText, QString());
    for (const QString& k : keys) side.combo->addItem(k, k);
    selectColocKey(side.combo, current);
  }
}

void AnalysisPanel::selectColocKey(QComboBox* combo, const QString& key) {
  combo->setCurrentIndex(std::max(0, key.isEmpty() ? 0 : combo->findData(key)));
}

AnalysisJob AnalysisPanel::jobOptions() const {
  AnalysisJob j;
  j.sensitivityMode = sensMode_->currentText();
  j.position = position_->currentText();
  j.metric = metric_->currentText();
  j.ropeMode = ropeMode_->currentText();
  j.eps = eps_->value();
  j.redundancy = redundancy_->isChecked();
  j.semantics = semantics_->currentText();
  for (int i = 0; i < manipulations_->count(); ++i)
    if (manipulations_->item(i)->checkState() == Qt::Checked) j.manipulations << manipulations_->item(i)->text();
  j.profiles.clear();
  for (QCheckBox* box : profileBoxes_)
    if (box->isChecked()) j.profiles << box->objectName();
  j.colocFirst = colocFirst_->currentData().toString();
  j.colocSecond = colocSecond_->currentData().toString();
  j.kSens = kSens_->value();
  j.kRope = kRope_->value();
  j.bootstrap = bootstrap_->value();
  j.seed = qulonglong(seed_->value());
  j.dtype = dtype_->currentText();
  j.device = device_->currentText();
  j.batchSize = batch_->value();
  j.processes = processes_->value();
  return j;
}

QJsonObject AnalysisPanel::optionsJson() const {
  const AnalysisJob j = jobOptions();
  return {{QStringLiteral("sensitivity_mode"), j.sensitivityMode}, {QStringLiteral("position"), j.position},
          {QStringLiteral("metric"), j.metric}, {QStringLiteral("rope_mode"), j.ropeMode},
          {QStringLiteral("eps"), j.eps}, {QStringLiteral("redundancy"), j.redundancy},
          {QStringLiteral("semantics"), j.semantics},
          {QStringLiteral("manipulations"), QJsonArray::fromStringList(j.manipulations)},
          {QStringLiteral("profiles"), QJsonArray::fromStringList(j.profiles)},
          {QStringLiteral("coloc_first"), j.colocFirst}, {QStringLiteral("coloc_second"), j.colocSecond},
          {QStringLiteral("k_sens"), j.kSens}, {QStringLiteral("k_rope"), j.kRope},
          {QStringLiteral("bootstrap"), j.bootstrap}, {QStringLiteral("seed"), double(j.seed)},
          {QStringLiteral("dtype"), j.dtype}, {QStringLiteral("batch_size"), j.batchSize},
          {QStringLiteral("processes"), j.processes}};
}

void AnalysisPanel::applyOptionsJson(const QJsonObject& o) {
  auto setCombo = [&](QComboBox* c, const char* key) {
    const int i = c->findText(o.value(QLatin1String(key)).toString());
    if (i >= 0) c->setCurrentIndex(i);
  };
  auto setSpin = [&](QSpinBox* s, const char* key) {
    if (o.contains(QLatin1String(key))) s->setValue(int(o.value(QLatin1String(key)).toDouble()));
  };
  setCombo(sensMode_, "sensitivity_mode");
  setCombo(position_, "position");
  setCombo(metric_, "metric");
  setCombo(ropeMode_, "rope_mode");
  setCombo(semantics_, "semantics");
  setCombo(dtype_, "dtype");
  if (o.contains(QStringLiteral("eps"))) eps_->setValue(o.value(QStringLiteral("eps")).toDouble());
  if (o.contains(QStringLiteral("redundancy"))) redundancy_->setChecked(o.value(QStringLiteral("redundancy")).toBool());
  const QJsonArray manip = o.value(QStringLiteral("manipulations")).toArray();
  for (int i = 0; i < manipulations_->count(); ++i)
    manipulations_->item(i)->setCheckState(manip.contains(manipulations_->item(i)->text()) ? Qt::Checked : Qt::Unchecked);
  if (o.contains(QStringLiteral("profiles"))) {
    const QJsonArray names = o.value(QStringLiteral("profiles")).toArray();
    for (QCheckBox* box : profileBoxes_) box->setChecked(names.contains(box->objectName()));
  }
  // After the options that decide which keys exist; a key this run would not produce falls back to the default.
  refreshColocKeys();
  if (o.contains(QStringLiteral("coloc_first"))) selectColocKey(colocFirst_, o.value(QStringLiteral("coloc_first")).toString());
  if (o.contains(QStringLiteral("coloc_second"))) selectColocKey(colocSecond_, o.value(QStringLiteral("coloc_second")).toString());
  setSpin(kSens_, "k_sens");
  setSpin(kRope_, "k_rope");
  setSpin(bootstrap_, "bootstrap");
  setSpin(seed_, "seed");
  setSpin(batch_, "batch_size");
  setSpin(processes_, "processes");
}

bool AnalysisPanel::start(const AnalysisJob& job) {
  if (isRunning()) return false;
  job_ = runner_->start(tr("Analysis"), [job](JobContext& ctx) { return runAnalysisJob(job, ctx); });
  if (!job_) return false;  // one job at a time
  connect(job_, &Job::progress, this, &AnalysisPanel::onProgress);
  connect(job_, &Job::finished, this, [this](const QVariant& dir) {
    setRunning(false);
    status_->setText(tr("Finished in %1: %2").arg(clockText(clock_.elapsed() / 1000.0), dir.toString()));
    Q_EMIT finished(dir.toString());
  });
  connect(job_, &Job::cancelled, this, [this] {
    setRunning(false);
    status_->setText(tr("Cancelled; nothing was written."));
    Q_EMIT cancelled();
  });
  connect(job_, &Job::failed, this, [this](const QString& message) {
    setRunning(false);
    status_->setText(tr("Failed."));
    Q_EMIT failed(message);
  });
  clock_.start();
  status_->setText(tr("Starting..."));
  progress_->setRange(0, 1000);
  progress_->setValue(0);
  setRunning(true);
  return true;
}

bool AnalysisPanel::startEstimate(const AnalysisJob& job) {
  if (isRunning()) return false;
  job_ = runner_->start(tr("Estimate"), [job](JobContext& ctx) { return estimateAnalysisJob(job, ctx); });
  if (!job_) return false;
  connect(job_, &Job::progress, this, &AnalysisPanel::onProgress);
  connectEstimateOutcome(job_, this, status_, estimate_, tr("The estimate says this run does not fit."),
                         [this](bool shown, bool fits) {
                           setRunning(false);
                           if (shown) Q_EMIT estimateShown(fits);
                         });
  status_->setText(tr("Estimating..."));
  progress_->setRange(0, 1000);
  progress_->setValue(0);
  setRunning(true);
  return true;
}

QString AnalysisPanel::estimateText() const { return estimate_->isVisible() ? estimate_->text() : QString(); }

void AnalysisPanel::cancel() {
  if (!job_) return;
  job_->cancel();  // thread-safe: flips the stop_source the job polls
  status_->setText(tr("Cancelling at the next layer / batch boundary..."));
  updateButtons();
}

void AnalysisPanel::setRunning(bool running) {
  if (!running) job_ = nullptr;
  progress_->setVisible(running);
  updateButtons();
}

void AnalysisPanel::updateButtons() {
  runButton_->setEnabled(!runner_->isBusy());
  estimateButton_->setEnabled(!runner_->isBusy());
  cancelButton_->setEnabled(job_ && !job_->cancelRequested());
}

void AnalysisPanel::onProgress(const QString& stage, double fraction, double etaSeconds) {
  showFraction(progress_, fraction);
  status_->setText(progressText(stage, fraction, etaSeconds));
  Q_EMIT progressShown(stage, fraction);
}

}  // namespace layerscope::app
