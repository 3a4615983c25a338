#include "app/gui/ablation_launcher.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTimer>
#include <QVBoxLayout>
#include <csignal>
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <limits>

namespace layerscope::app {

AblationLine parseAblationLine(const QString& line) {
  static const QRegularExpression step(QStringLiteral(R"(^(C\d(?:-s\d+)?) step (\d+)/(\d+)\b)"));
  static const QRegularExpression start(QStringLiteral(R"(^(C\d(?:-s\d+)?): LoRA )"));
  static const QRegularExpression done(QStringLiteral(R"(^(C\d(?:-s\d+)?): (\{|done earlier))"));
  AblationLine r;
  QRegularExpressionMatch m;
  if (line.startsWith(QLatin1String("base: "))) {
    r.kind = AblationLine::Base;
  } else if ((m = step.match(line)).hasMatch()) {
    r = {AblationLine::ArmStep, m.captured(1), m.captured(2).toInt(), m.captured(3).toInt()};
  } else if ((m = start.match(line)).hasMatch()) {
    r = {AblationLine::ArmStart, m.captured(1), 0, 0};
  } else if ((m = done.match(line)).hasMatch()) {
    r = {AblationLine::ArmDone, m.captured(1), 0, 0};
  }
  return r;
}

QString findCli() {
  const QString env = qEnvironmentVariable("LAYERSCOPE_CLI");
  if (!env.isEmpty()) return env;
  const QString app = QCoreApplication::applicationDirPath();
  // Installed side by side; build tree: app/gui/layerscope and tests/app_tests next to app/layerscope-cli.
  for (const QString& rel : {QStringLiteral("/layerscope-cli"), QStringLiteral("/../layerscope-cli"), QStringLiteral("/../app/layerscope-cli")}) {
    const QFileInfo f(app + rel);
    if (f.isFile() && f.isExecutable()) return f.canonicalFilePath();
  }
  return QStandardPaths::findExecutable(QStringLiteral("layerscope-cli"));
}

AblationLauncher::AblationLauncher(QWidget* parent) : QWidget(parent), killTimer_(new QTimer(this)) {
  killTimer_->setSingleShot(true);
  connect(killTimer_, &QTimer::timeout, this, [this] {
    if (process_) process_->kill();  // SIGINT was not honoured in time
  });
  auto* outer = new QVBoxLayout(this);
  modelLabel_ = new QLabel(tr("<i>No model: open a model folder first.</i>"));
  modelLabel_->setWordWrap(true);
  outer->addWidget(modelLabel_);
  auto* form = new QFormLayout;
  auto pathRow = [&](QLineEdit*& edit, const QString& tip, int mode) {  // 0 dir, 1 file, 2 files
    auto* row = new QWidget;
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    edit = new QLineEdit;
    edit->setToolTip(tip);
    auto* b = new QPushButton(QStringLiteral("..."));
    b->setMaximumWidth(32);
    QLineEdit* e = edit;
    connect(b, &QPushButton::clicked, this, [this, e, mode] {
      if (mode == 0) {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Choose a folder"), e->text());
        if (!d.isEmpty()) e->setText(d);
      } else if (mode == 1) {
        const QString f = QFileDialog::getOpenFileName(this, tr("Choose a task file"), e->text(), tr("Task files (*.jsonl);;All files (*)"));
        if (!f.isEmpty()) e->setText(f);
      } else {
        const QStringList fs = QFileDialog::getOpenFileNames(this, tr("Choose eval files"), {}, tr("Task files (*.jsonl);;All files (*)"));
        if (!fs.isEmpty()) e->setText(fs.join(QLatin1Char(',')));
      }
    });
    h->addWidget(edit, 1);
    h->addWidget(b);
    return row;
  };
  form->addRow(tr("Analysis results"), pathRow(analysisEdit_, tr("Results folder of `analyze` (stats.json with top_k.S_sens / S_rope)"), 0));
  form->addRow(tr("Train file"), pathRow(trainEdit_, tr("Task JSONL the arms are fine-tuned on"), 1));
  form->addRow(tr("Eval files"), pathRow(evalEdit_, tr("Comma-separated task / benchmark files"), 2));
  form->addRow(tr("Output folder"), pathRow(outEdit_, tr("ablation folder (report.json); an existing one resumes arm by arm"), 0));
  outEdit_->setPlaceholderText(tr("new folder under the results root"));
  auto ispin = [](int lo, int hi, int value) {
    auto* s = new QSpinBox;
    s->setRange(lo, hi);
    s->setValue(value);
    return s;
  };
  steps_ = ispin(1, 10000000, 200);
  steps_->setToolTip(tr("The same training budget for every arm"));
  controlSeeds_ = ispin(0, 100, 3);
  controlSeeds_->setToolTip(tr("C5 control runs (random layers), averaged"));
  seed_ = ispin(0, std::numeric_limits<int>::max(), 0);
  batch_ = ispin(1, 4096, 8);
  dtype_ = new QComboBox;
  dtype_->addItems({QStringLiteral("float32"), QStringLiteral("bfloat16")});
  form->addRow(tr("Steps per arm"), steps_);
  form->addRow(tr("C5 seeds"), controlSeeds_);
  form->addRow(tr("Seed"), seed_);
  form->addRow(tr("Batch"), batch_);
  form->addRow(tr("Dtype"), dtype_);
  outer->addLayout(form);
  auto* note = new QLabel(tr("<small>Arms C1-C4 combine S_sens / S_rope for LS-LoRA and GARFA, C5 uses random layers; "
                             "the other hyperparameters are the METHODS defaults. Runs <tt>layerscope-cli ablate</tt>.</small>"));
  note->setWordWrap(true);
  outer->addWidget(note);
  auto* buttons = new QHBoxLayout;
  startButton_ = new QPushButton(tr("Run ablation"));
  cancelButton_ = new QPushButton(tr("Cancel"));
  connect(startButton_, &QPushButton::clicked, this, &AblationLauncher::start);
  connect(cancelButton_, &QPushButton::clicked, this, &AblationLauncher::cancel);
  buttons->addWidget(startButton_);
  buttons->addWidget(cancelButton_);
  outer->addLayout(buttons);
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  outer->addWidget(progress_);
  status_ = new QLabel(tr("Idle"));
  status_->setWordWrap(true);
  outer->addWidget(status_);
  log_ = new QPlainTextEdit;
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(500);
  log_->setPlaceholderText(tr("layerscope-cli output"));
  outer->addWidget(log_, 1);
  updateButtons();
}

AblationLauncher::~AblationLauncher() {
  if (process_) {
    process_->disconnect(this);
    process_->kill();
    process_->waitForFinished(5000);
  }
}

void AblationLauncher::setModelDir(const QString& dir) {
  modelDir_ = dir;
  modelLabel_->setText(dir.isEmpty() ? tr("<i>No model: open a model folder first.</i>") : tr("Base model: <b>%1</b>").arg(dir.toHtmlEscaped()));
}

void AblationLauncher::setAnalysisDir(const QString& dir) {
  if (!isRunning() && QFileInfo::exists(dir + QStringLiteral("/stats.json"))) analysisEdit_->setText(dir);
}

void AblationLauncher::setBlocked(bool blocked) {
  blocked_ = blocked;
  updateButtons();
}

void AblationLauncher::updateButtons() {
  startButton_->setEnabled(!isRunning() && !blocked_);
  cancelButton_->setEnabled(isRunning() && !cancelling_);
  progress_->setVisible(isRunning());
}

QStringList AblationLauncher::commandLine() const {
  QStringList evals;
  for (const QString& e : evalEdit_->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) evals << e.trimmed();
  return {findCli(), QStringLiteral("ablate"), QStringLiteral("--model"), modelDir_,
          QStringLiteral("--analysis"), analysisEdit_->text().trimmed(), QStringLiteral("--train"), trainEdit_->text().trimmed(),
          QStringLiteral("--eval"), evals.join(QLatin1Char(',')), QStringLiteral("--steps"), QString::number(steps_->value()),
          QStringLiteral("--control-seeds"), QString::number(controlSeeds_->value()), QStringLiteral("--seed"),
          QString::number(seed_->value()), QStringLiteral("--batch"), QString::number(batch_->value()),
          QStringLiteral("--dtype"), dtype_->currentText(), QStringLiteral("--out"), outEdit_->text().trimmed()};
}

bool AblationLauncher::start() {
  if (isRunning() || blocked_) return false;
  auto fail = [this](const QString& title, const QString& msg) {
    Q_EMIT failed(title, msg);
    return false;
  };
  if (modelDir_.isEmpty() || !QFileInfo(modelDir_).isDir())
    return fail(tr("No model"), tr("Open a model folder (File > Open model folder) before running the ablation."));
  if (!QFileInfo::exists(analysisEdit_->text().trimmed() + QStringLiteral("/stats.json")))
    return fail(tr("No analysis"), tr("Choose the results folder of an analysis of this model (it must hold stats.json with "
                                      "top_k.S_sens and top_k.S_rope)."));
  if (!QFileInfo(trainEdit_->text().trimmed()).isFile()) return fail(tr("No train file"), tr("Choose the task file the arms are trained on."));
  if (evalEdit_->text().trimmed().isEmpty()) return fail(tr("No eval files"), tr("Choose at least one evaluation file."));
  const QString cli = findCli();
  if (cli.isEmpty())
    return fail(tr("layerscope-cli not found"), tr("The ablation runs `layerscope-cli ablate`, which was not found beside the "
                                                  "application or on PATH. Build it, or set LAYERSCOPE_CLI to its path."));
  if (outEdit_->text().trimmed().isEmpty()) {
    const QString root = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/ablations");
    outEdit_->setText(QStringLiteral("%1/%2_%3").arg(root, QFileInfo(modelDir_).fileName(),
                                                     QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"))));
  }
  QStringList cmd = commandLine();
  const QString program = cmd.takeFirst();
  pendingOut_ = outEdit_->text().trimmed();
  armsTotal_ = 4 + controlSeeds_->value();
  armsDone_ = step_ = stepsTotal_ = 0;
  currentArm_.clear();
  partial_.clear();
  tail_.clear();
  cancelling_ = false;
  log_->clear();
  log_->appendPlainText(program + QLatin1Char(' ') + cmd.join(QLatin1Char(' ')));
  process_ = new QProcess(this);
  process_->setProcessChannelMode(QProcess::SeparateChannels);
  connect(process_, &QProcess::readyReadStandardError, this, &AblationLauncher::onStderr);
  connect(process_, &QProcess::readyReadStandardOutput, this, [this] { log_->appendPlainText(QString::fromUtf8(process_->readAllStandardOutput()).trimmed()); });
  connect(process_, &QProcess::finished, this, &AblationLauncher::onExit);
  connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
    if (e == QProcess::FailedToStart) onExit(-1, QProcess::CrashExit);
  });
  clock_.start();
  status_->setText(tr("Loading the model and evaluating the base..."));
  progress_->setRange(0, 0);
  process_->start(program, cmd);
  updateButtons();
  Q_EMIT runningChanged(true);
  return true;
}

void AblationLauncher::cancel() {
  if (!process_ || cancelling_) return;
  cancelling_ = true;
  // SIGINT: the CLI's stop_source stops it before the next step; finished arms stay for a resume.
  if (process_->processId() > 0) ::kill(pid_t(process_->processId()), SIGINT);
  killTimer_->start(15000);
  status_->setText(tr("Cancelling (the current arm stops before its next step)..."));
  updateButtons();
}

double AblationLauncher::fraction() const {
  if (armsTotal_ <= 0) return 0;
  const double inArm = stepsTotal_ > 0 ? double(step_) / stepsTotal_ : 0;
  return std::min(1.0, (armsDone_ + inArm) / armsTotal_);
}

void AblationLauncher::onStderr() {
  partial_ += process_->readAllStandardError();
  qsizetype nl;
  while ((nl = partial_.indexOf('\n')) >= 0) {
    handleLine(QString::fromUtf8(partial_.left(nl)).trimmed());
    partial_.remove(0, nl + 1);
  }
}

void AblationLauncher::handleLine(const QString& line) {
  if (line.isEmpty()) return;
  log_->appendPlainText(line);
  tail_ << line;
  while (tail_.size() > 12) tail_.removeFirst();
  const AblationLine p = parseAblationLine(line);
  switch (p.kind) {
    case AblationLine::None: return;
    case AblationLine::Base: status_->setText(tr("Base model evaluated; training the arms...")); break;
    case AblationLine::ArmStart:
      currentArm_ = p.arm;
      step_ = 0;
      break;
    case AblationLine::ArmStep:
      currentArm_ = p.arm;
      step_ = p.step;
      stepsTotal_ = p.total;
      break;
    case AblationLine::ArmDone:
      ++armsDone_;
      step_ = 0;
      break;
  }
  if (cancelling_) return;
  const double f = fraction();
  progress_->setRange(0, 1000);
  progress_->setValue(int(1000 * f));
  QString eta;
  if (f > 0.01) eta = tr(", about %1 min left").arg(clock_.elapsed() / 1000.0 * (1 - f) / f / 60, 0, 'f', 1);
  status_->setText(tr("Arm %1 of %2 (%3%4): %5%%6")
                       .arg(std::min(armsDone_ + 1, armsTotal_))
                       .arg(armsTotal_)
                       .arg(currentArm_.isEmpty() ? QStringLiteral("-") : currentArm_)
                       .arg(stepsTotal_ > 0 && step_ > 0 ? tr(", step %1/%2").arg(step_).arg(stepsTotal_) : QString())
                       .arg(int(100 * f))
                       .arg(eta));
}

void AblationLauncher::onExit(int code, QProcess::ExitStatus status) {
  if (!process_) return;
  killTimer_->stop();
  onStderr();
  if (!partial_.isEmpty()) handleLine(QString::fromUtf8(partial_).trimmed());
  partial_.clear();
  const QString error = process_->error() == QProcess::FailedToStart ? process_->errorString() : QString();
  process_->deleteLater();
  process_ = nullptr;
  const bool wasCancelling = cancelling_;
  cancelling_ = false;
  updateButtons();
  Q_EMIT runningChanged(false);
  const bool ok = status == QProcess::NormalExit && code == 0 && QFileInfo::exists(pendingOut_ + QStringLiteral("/report.json"));
  if (ok) {
    status_->setText(tr("Finished in %1 min: %2").arg(clock_.elapsed() / 60000.0, 0, 'f', 1).arg(pendingOut_));
    Q_EMIT finished(pendingOut_);
  } else if (wasCancelling) {
    status_->setText(tr("Cancelled. Finished arms are kept in %1; run again with the same output folder to resume.").arg(pendingOut_));
    Q_EMIT cancelled();
  } else {
    status_->setText(tr("Failed."));
    Q_EMIT failed(tr("Ablation failed"),
                  error.isEmpty() ? tr("layerscope-cli ablate exited with code %1:\n\n%2").arg(code).arg(tail_.join(QLatin1Char('\n')))
                                  : tr("Could not start layerscope-cli: %1").arg(error));
  }
}

}  // namespace layerscope::app
