#include "app/gui/ablation_panel.h"

#include <QComboBox>
#include <QDateTime>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardPaths>
#include <QVBoxLayout>
#include <limits>

#include "app/gui/job_runner.h"
#include "app/gui/progress_text.h"
#include "app/gui/spin_boxes.h"

namespace layerscope::app {

AblationPanel::AblationPanel(JobRunner* runner, QWidget* parent) : QWidget(parent), runner_(runner) {
  auto* outer = new QVBoxLayout(this);
  modelLabel_ = new QLabel;
  modelLabel_->setWordWrap(true);
  outer->addWidget(modelLabel_);
  setModelDir({});
  auto* box = new QGroupBox(tr("Ablation"));
  box->setToolTip(tr("Defaults from docs/methods.md"));
  auto* form = new QFormLayout(box);
  enum Browse { Dir, File, Files };
  auto pathRow = [&](QLineEdit*& edit, const QString& tip, Browse mode) {
    auto* row = new QWidget;
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    edit = new QLineEdit;
    edit->setToolTip(tip);
    auto* b = new QPushButton(QStringLiteral("..."));
    b->setMaximumWidth(32);
    QLineEdit* e = edit;
    connect(b, &QPushButton::clicked, this, [this, e, mode] {
      const QString tasks = tr("Task files (*.jsonl);;All files (*)");
      QString chosen;
      if (mode == Dir) chosen = QFileDialog::getExistingDirectory(this, tr("Choose a folder"), e->text());
      else if (mode == File) chosen = QFileDialog::getOpenFileName(this, tr("Choose a task file"), e->text(), tasks);
      else chosen = QFileDialog::getOpenFileNames(this, tr("Choose eval files"), {}, tasks).join(QLatin1Char(','));
      if (chosen.isEmpty()) return;
      userSet_.insert(e);
      e->setText(chosen);
    });
    h->addWidget(edit, 1);
    h->addWidget(b);
    return row;
  };
  form->addRow(tr("Analysis results"), pathRow(analysisEdit_, tr("Results folder of an analysis (stats.json with top_k.S_sens / "
                                                                 "S_rope). Until edited, the analysis on screen"), Dir));
  form->addRow(tr("Train file"), pathRow(trainEdit_, tr("Task JSONL the arms are fine-tuned on. Until edited, the task of the "
                                                        "analysis on screen"), File));
  form->addRow(tr("Eval files"), pathRow(evalEdit_, tr("Comma-separated task / benchmark files; use held-out items, not the "
                                                       "train file"), Files));
  // Evaluating on the training items measures fit, not generalisation: say so while an eval file is the train file.
  sameFile_ = new QLabel(tr("<b>An eval file is the train file</b>: its accuracies would measure fit, not generalisation. "
                            "Choose held-out items for evaluation."));
  sameFile_->setObjectName(QStringLiteral("ablationSameFileWarning"));
  sameFile_->setWordWrap(true);
  sameFile_->setStyleSheet(QStringLiteral("color: #a34a00"));
  form->addRow(sameFile_);
  form->addRow(tr("Output folder"), pathRow(outEdit_, tr("Ablation folder (report.json); an existing one resumes arm by arm"), Dir));
  outEdit_->setPlaceholderText(tr("new folder under the results root"));
  steps_ = intSpin(1, 10000000, 200);
  steps_->setToolTip(tr("The same training budget for every arm"));
  controlSeeds_ = intSpin(0, 100, 3);
  controlSeeds_->setToolTip(tr("C5 control runs (random layers), averaged"));
  seed_ = intSpin(0, std::numeric_limits<int>::max(), 0);
  batch_ = intSpin(1, 4096, 8);
  dtype_ = new QComboBox;
  dtype_->addItems({QStringLiteral("float32"), QStringLiteral("bfloat16")});
  form->addRow(tr("Steps per arm"), steps_);
  form->addRow(tr("C5 seeds"), controlSeeds_);
  form->addRow(tr("Seed"), seed_);
  form->addRow(tr("Batch"), batch_);
  form->addRow(tr("Dtype"), dtype_);
  outer->addWidget(box);
  auto* note = new QLabel(tr("<small>Arms C1-C4 combine S_sens / S_rope for LS-LoRA and GARFA, C5 uses random layers; "
                             "the other hyperparameters are the defaults of docs/methods.md.</small>"));
  note->setWordWrap(true);
  outer->addWidget(note);
  auto* buttons = new QHBoxLayout;
  startButton_ = new QPushButton(tr("Run ablation"));
  estimateButton_ = new QPushButton(tr("Estimate"));
  estimateButton_->setToolTip(tr("Training time of every arm and in total before the ablation runs, from layer rates "
                                 "measured on this machine (as train --dry-run); writes nothing"));
  cancelButton_ = new QPushButton(tr("Cancel"));
  connect(startButton_, &QPushButton::clicked, this, &AblationPanel::start);
  connect(estimateButton_, &QPushButton::clicked, this, &AblationPanel::startEstimate);
  connect(cancelButton_, &QPushButton::clicked, this, &AblationPanel::cancel);
  buttons->addWidget(startButton_);
  buttons->addWidget(estimateButton_);
  buttons->addWidget(cancelButton_);
  outer->addLayout(buttons);
  estimate_ = new QLabel;
  estimate_->setWordWrap(true);
  estimate_->setTextFormat(Qt::RichText);
  estimate_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  estimate_->setVisible(false);
  outer->addWidget(estimate_);
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  outer->addWidget(progress_);
  status_ = new QLabel(tr("Idle"));
  status_->setWordWrap(true);
  outer->addWidget(status_);
  log_ = new QPlainTextEdit;
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(500);
  log_->setPlaceholderText(tr("Arm plans and results"));
  outer->addWidget(log_, 1);
  connect(runner_, &JobRunner::busyChanged, this, &AblationPanel::updateButtons);
  for (QLineEdit* e : {analysisEdit_, trainEdit_, evalEdit_, outEdit_})
    connect(e, &QLineEdit::textEdited, this, [this, e] { userSet_.insert(e); });
  for (QLineEdit* e : {trainEdit_, evalEdit_}) connect(e, &QLineEdit::textChanged, this, &AblationPanel::checkSameFile);
  checkSameFile();
  // An estimate is for the inputs it was made from: any change takes it off the screen.
  for (QLineEdit* e : {analysisEdit_, trainEdit_, evalEdit_})
    connect(e, &QLineEdit::textChanged, this, &AblationPanel::clearEstimate);
  for (QSpinBox* b : {steps_, controlSeeds_, seed_, batch_})
    connect(b, &QSpinBox::valueChanged, this, &AblationPanel::clearEstimate);
  connect(dtype_, &QComboBox::currentIndexChanged, this, &AblationPanel::clearEstimate);
  setRunning(false);
}

void AblationPanel::setModelDir(const QString& dir) {
  if (dir != modelDir_) clearEstimate();
  modelDir_ = dir;
  modelLabel_->setText(dir.isEmpty() ? tr("<i>No model: open a model folder first.</i>") : tr("Base model: <b>%1</b>").arg(dir.toHtmlEscaped()));
}

void AblationPanel::setAnalysisDir(const QString& dir, const QString& taskFile) {
  if (isRunning()) return;
  if (!isUserSet(analysisEdit_) && QFileInfo::exists(dir + QStringLiteral("/stats.json"))) analysisEdit_->setText(dir);
  if (!isUserSet(trainEdit_) && QFileInfo(taskFile).isFile()) trainEdit_->setText(taskFile);
}

void AblationPanel::checkSameFile() {
  const QFileInfo train(trainEdit_->text().trimmed());
  bool same = false;
  for (const QString& e : evalEdit_->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) {
    const QFileInfo eval(e.trimmed());
    same = same || (train.isFile() && eval.isFile() && train.canonicalFilePath() == eval.canonicalFilePath());
  }
  sameFile_->setHidden(!same);
}

AblationJob AblationPanel::jobFromPanel() const {
  AblationJob j;
  j.modelDir = modelDir_;
  j.analysisDir = analysisEdit_->text().trimmed();
  j.trainFile = trainEdit_->text().trimmed();
  for (const QString& e : evalEdit_->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) j.evalFiles << e.trimmed();
  j.steps = steps_->value();
  j.controlSeeds = controlSeeds_->value();
  j.seed = qulonglong(seed_->value());
  j.batchSize = batch_->value();
  j.dtype = dtype_->currentText();
  j.outDir = outEdit_->text().trimmed();
  return j;
}

std::pair<QString, QString> AblationPanel::inputProblem(const AblationJob& job) const {
  if (job.modelDir.isEmpty() || !QFileInfo(job.modelDir).isDir())
    return {tr("No model"), tr("Open a model folder (File > Open model folder) before running the ablation.")};
  if (!QFileInfo::exists(job.analysisDir + QStringLiteral("/stats.json")))
    return {tr("No analysis"), tr("Choose the results folder of an analysis of this model (it must hold stats.json with "
                                  "top_k.S_sens and top_k.S_rope).")};
  if (!job.trainFile.startsWith(QLatin1String("demo:")) && !QFileInfo(job.trainFile).isFile())
    return {tr("No train file"), tr("Choose the task file the arms are trained on.")};
  if (job.evalFiles.isEmpty()) return {tr("No eval files"), tr("Choose at least one evaluation file.")};
  return {};
}

bool AblationPanel::start() {
  if (runner_->isBusy()) return false;  // one job at a time
  AblationJob job = jobFromPanel();
  if (const auto [title, message] = inputProblem(job); !title.isEmpty()) {
    Q_EMIT failed(title, message);
    return false;
  }
  if (job.outDir.isEmpty()) {
    const QString root = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/ablations");
    job.outDir = QStringLiteral("%1/%2_%3").arg(root, QFileInfo(job.modelDir).fileName(),
                                               QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")));
    outEdit_->setText(job.outDir);
  }
  job_ = runner_->start(tr("Ablation"), [job](JobContext& ctx) { return runAblationJob(job, ctx); });
  if (!job_) return false;
  runningOut_ = job.outDir;
  connect(job_, &Job::progress, this, &AblationPanel::onProgress);
  connect(job_, &Job::data, this, [this](const QVariantList& lines) {
    for (const QVariant& l : lines) log_->appendPlainText(l.toString());
  });
  connect(job_, &Job::finished, this, [this] {
    setRunning(false);
    fraction_ = 1;
    status_->setText(tr("Finished in %1: %2").arg(clockText(clock_.elapsed() / 1000.0), runningOut_));
    Q_EMIT finished(runningOut_);
  });
  connect(job_, &Job::cancelled, this, [this] {
    setRunning(false);
    status_->setText(tr("Cancelled. Finished arms are kept in %1; run again with the same output folder to resume.").arg(runningOut_));
    Q_EMIT cancelled();
  });
  connect(job_, &Job::failed, this, [this](const QString& message) {
    setRunning(false);
    status_->setText(tr("Failed."));
    Q_EMIT failed(tr("Ablation failed"), message);
  });
  fraction_ = 0;
  clock_.start();
  log_->clear();
  status_->setText(tr("Starting..."));
  progress_->setRange(0, 0);
  setRunning(true);
  return true;
}

bool AblationPanel::startEstimate() {
  if (runner_->isBusy()) return false;  // one job at a time
  const AblationJob job = jobFromPanel();
  if (const auto [title, message] = inputProblem(job); !title.isEmpty()) {
    showEstimate(QStringLiteral("<p style='color:#b00020'><b>%1:</b> %2</p>").arg(title.toHtmlEscaped(), message.toHtmlEscaped()), -1);
    return false;
  }
  estimateJob_ = runner_->start(tr("Ablation estimate"), [job](JobContext& ctx) { return estimateAblationJob(job, ctx); });
  if (!estimateJob_) return false;
  auto done = [this] {
    estimateJob_ = nullptr;
    progress_->setVisible(false);
    updateButtons();
  };
  connect(estimateJob_, &Job::progress, this, [this](const QString& stage, double fraction, double eta) {
    if (estimateJob_ && estimateJob_->cancelRequested()) return;
    showFraction(progress_, fraction);
    status_->setText(progressText(tr("Estimating"), fraction, eta) + QLatin1Char('\n') + stage);
  });
  connect(estimateJob_, &Job::finished, this, [this, done, job](const QVariant& v) {
    done();
    const auto e = v.value<AblationEstimate>();
    status_->setText(tr("Estimate ready."));
    showEstimate(ablationEstimateHtml(e, job), e.seconds);
  });
  connect(estimateJob_, &Job::cancelled, this, [this, done] {
    done();
    status_->setText(tr("Estimate cancelled."));
  });
  connect(estimateJob_, &Job::failed, this, [this, done](const QString& message) {
    done();
    status_->setText(tr("Estimate failed."));
    showEstimate(QStringLiteral("<p style='color:#b00020'><b>%1</b> %2</p>")
                     .arg(tr("No estimate:").toHtmlEscaped(), message.toHtmlEscaped()),
                 -1);
  });
  clearEstimate();
  status_->setText(tr("Estimating..."));
  progress_->setRange(0, 0);
  progress_->setVisible(true);
  updateButtons();
  return true;
}

void AblationPanel::showEstimate(const QString& html, double seconds) {
  estimate_->setText(html);
  estimate_->setVisible(true);
  estimatedSeconds_ = seconds;
  Q_EMIT estimateShown(seconds >= 0);
}

void AblationPanel::clearEstimate() {
  estimate_->clear();
  estimate_->setVisible(false);
  estimatedSeconds_ = -1;
}

void AblationPanel::cancel() {
  if (estimateJob_) {
    estimateJob_->cancel();
    status_->setText(tr("Cancelling the estimate..."));
    updateButtons();
    return;
  }
  if (!job_) return;
  job_->cancel();  // thread-safe: the current arm stops before its next step
  status_->setText(tr("Cancelling (the current arm stops before its next step)..."));
  updateButtons();
}

void AblationPanel::setRunning(bool running) {
  if (!running) job_ = nullptr;
  progress_->setVisible(running);
  updateButtons();
}

void AblationPanel::updateButtons() {
  startButton_->setEnabled(!runner_->isBusy());
  estimateButton_->setEnabled(!runner_->isBusy());
  cancelButton_->setEnabled((job_ && !job_->cancelRequested()) || (estimateJob_ && !estimateJob_->cancelRequested()));
}

void AblationPanel::onProgress(const QString& stage, double fraction, double etaSeconds) {
  if (job_ && job_->cancelRequested()) return;  // keep "Cancelling..." on screen
  if (fraction >= 0) fraction_ = fraction;
  showFraction(progress_, fraction);
  // The overall fraction and ETA, then the experiment's stage (an arm's step line carries that arm's own ETA).
  status_->setText(fraction < 0 ? stage : progressText(tr("All arms"), fraction, etaSeconds) + QLatin1Char('\n') + stage);
}

}  // namespace layerscope::app
