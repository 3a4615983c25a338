// The reproduce dialog (see reproduce_dialog.h).
#include "app/gui/reproduce_dialog.h"

#include <QCheckBox>
#include <QDesktopServices>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTextBrowser>
#include <QTreeWidget>
#include <QUrl>
#include <QVBoxLayout>

#include "app/gui/job_runner.h"
#include "app/gui/progress_text.h"
#include "core/base/error.h"
#include "experiments/reproduce.h"
#include "views/report_data.h"
#include "views/report_writer.h"

namespace layerscope::app {

namespace {

QHBoxLayout* withBrowse(QLineEdit* edit, QPushButton* button) {
  auto* row = new QHBoxLayout;
  row->addWidget(edit, 1);
  row->addWidget(button);
  return row;
}

/// The "paper vs this run" table and the model warning, for the dialog's report pane.
QString reportSummaryHtml(const QString& resultsDir, const QString& html) {
  const auto d = views::readReproduceReport(resultsDir.toStdString());
  const auto t = d.paperVsRun();
  QString s = QStringLiteral("<p><b>%1</b></p>").arg(d.sameShapeAsPaper ? QObject::tr("The model has Llama 3.1 8B's shape.")
                                                                         : QObject::tr("Different model: not the paper's Llama 3.1 8B; "
                                                                                       "its numbers are beside the paper's for reference."));
  s += QStringLiteral("<table border=\"1\" cellspacing=\"0\" cellpadding=\"3\"><tr>");
  for (const auto& h : t.header) s += QStringLiteral("<th>") + QString::fromStdString(h).toHtmlEscaped() + QStringLiteral("</th>");
  s += QStringLiteral("</tr>");
  for (const auto& r : t.rows) {
    s += QStringLiteral("<tr>");
    for (const auto& c : r) s += QStringLiteral("<td>") + QString::fromStdString(c).toHtmlEscaped() + QStringLiteral("</td>");
    s += QStringLiteral("</tr>");
  }
  return s + QStringLiteral("</table><p>") + QObject::tr("Full report (figures, ablation, provenance): %1").arg(html.toHtmlEscaped()) +
         QStringLiteral("</p>");
}

}  // namespace

ReproduceDialog::ReproduceDialog(JobRunner* runner, const QString& modelDir, QWidget* parent)
    : QDialog(parent), runner_(runner) {
  setWindowTitle(tr("Reproduce the co-localization study"));
  model_ = new QLineEdit(modelDir);
  benchmarks_ = new QLineEdit;
  out_ = new QLineEdit;
  pairs_ = new QLineEdit;
  pairs_->setPlaceholderText(tr("optional: 15 default pairs from MMLU, GPQA, ARC"));
  train_ = new QLineEdit;
  train_->setPlaceholderText(tr("training split of the ablation: FILE.jsonl or demo:N"));
  steps_ = new QSpinBox;
  steps_->setRange(1, 1000000);
  steps_->setValue(200);
  seeds_ = new QSpinBox;
  seeds_->setRange(1, 100);
  seeds_->setValue(3);
  quick_ = new QCheckBox(tr("Quick check (20 steps, 1 control seed, bootstrap 50, 32 code tokens)"));
  auto* form = new QFormLayout;
  auto browseButton = [this](QLineEdit* edit, bool dir, const QString& title) {
    auto* b = new QPushButton(tr("Browse..."));
    connect(b, &QPushButton::clicked, this, [this, edit, dir, title] { browse(edit, dir, title); });
    return b;
  };
  form->addRow(tr("Model folder"), withBrowse(model_, browseButton(model_, true, tr("Model folder"))));
  form->addRow(tr("Benchmarks folder"), withBrowse(benchmarks_, browseButton(benchmarks_, true, tr("Benchmarks folder"))));
  form->addRow(tr("Output folder"), withBrowse(out_, browseButton(out_, true, tr("Output folder"))));
  form->addRow(tr("Pairs file"), withBrowse(pairs_, browseButton(pairs_, false, tr("Pairs file"))));
  form->addRow(tr("Training split"), withBrowse(train_, browseButton(train_, false, tr("Training split"))));
  form->addRow(tr("Training steps per arm"), steps_);
  form->addRow(tr("C5 control runs"), seeds_);
  form->addRow(QString(), quick_);
  connect(quick_, &QCheckBox::toggled, this, [this](bool on) {
    steps_->setEnabled(!on);
    seeds_->setEnabled(!on);
  });

  plan_ = new QPlainTextEdit;
  plan_->setReadOnly(true);
  plan_->setPlaceholderText(tr("Estimate shows what will run and what it costs; the log of a run appears here."));
  plan_->setFont(QFont(QStringLiteral("DejaVu Sans Mono"), 8));
  tree_ = new QTreeWidget;
  tree_->setHeaderLabels({tr("step"), tr("status")});
  tree_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  progress_->setVisible(false);
  status_ = new QLabel;
  status_->setWordWrap(true);
  report_ = new QTextBrowser;
  report_->setPlaceholderText(tr("The report's 'paper vs this run' table appears here when the run ends."));

  estimate_ = new QPushButton(tr("Estimate"));
  run_ = new QPushButton(tr("Run"));
  cancel_ = new QPushButton(tr("Cancel run"));
  open_ = new QPushButton(tr("Open report"));
  export_ = new QPushButton(tr("Export report..."));
  cancel_->setEnabled(false);
  open_->setEnabled(false);
  export_->setEnabled(false);
  auto* buttons = new QHBoxLayout;
  for (QPushButton* b : {estimate_, run_, cancel_, open_, export_}) buttons->addWidget(b);
  buttons->addStretch(1);
  auto* close = new QDialogButtonBox(QDialogButtonBox::Close);
  buttons->addWidget(close);
  connect(close, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(estimate_, &QPushButton::clicked, this, [this] { startEstimate(); });
  connect(run_, &QPushButton::clicked, this, [this] { startRun(); });
  connect(cancel_, &QPushButton::clicked, this, &ReproduceDialog::cancel);
  connect(open_, &QPushButton::clicked, this, [this] { QDesktopServices::openUrl(QUrl::fromLocalFile(reportHtml_)); });
  connect(export_, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export the report into"));
    if (dir.isEmpty()) return;
    const QString error = exportReport(dir + QStringLiteral("/layerscope-report"));
    status_->setText(error.isEmpty() ? tr("Exported to %1/layerscope-report").arg(dir) : error);
  });

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(plan_, 2);
  layout->addWidget(progress_);
  layout->addWidget(status_);
  layout->addWidget(tree_, 2);
  layout->addWidget(report_, 2);
  layout->addLayout(buttons);
  resize(900, 860);
}

void ReproduceDialog::setInputs(const QString& model, const QString& benchmarks, const QString& out, const QString& pairs,
                                const QString& train, int steps, bool quick) {
  model_->setText(model);
  benchmarks_->setText(benchmarks);
  out_->setText(out);
  pairs_->setText(pairs);
  train_->setText(train);
  steps_->setValue(steps);
  quick_->setChecked(quick);
}

QString ReproduceDialog::planText() const { return plan_->toPlainText(); }
QString ReproduceDialog::statusText() const { return status_->text(); }

void ReproduceDialog::browse(QLineEdit* edit, bool directory, const QString& title) {
  const QString picked = directory ? QFileDialog::getExistingDirectory(this, title, edit->text())
                                   : QFileDialog::getOpenFileName(this, title, edit->text(), tr("JSONL (*.jsonl);;All files (*)"));
  if (!picked.isEmpty()) edit->setText(picked);
}

QString ReproduceDialog::missingInput(bool forRun) const {
  QStringList missing;
  if (model_->text().trimmed().isEmpty()) missing << tr("model folder");
  if (benchmarks_->text().trimmed().isEmpty()) missing << tr("benchmarks folder");
  if (forRun && out_->text().trimmed().isEmpty()) missing << tr("output folder");
  if (train_->text().trimmed().isEmpty()) missing << tr("training split");
  return missing.isEmpty() ? QString() : tr("Missing: %1.").arg(missing.join(QStringLiteral(", ")));
}

namespace {

experiments::ReproduceRequest requestOf(const QString& model, const QString& benchmarks, const QString& out, const QString& pairs,
                                        const QString& train, int steps, int seeds, bool quick) {
  experiments::ReproduceRequest r;
  r.modelDir = model.trimmed().toStdString();
  r.benchmarksDir = benchmarks.trimmed().toStdString();
  r.outDir = out.trimmed().toStdString();
  r.pairsFile = pairs.trimmed().toStdString();
  r.train = train.trimmed().toStdString();
  r.steps = steps;
  r.controlSeeds = seeds;
  if (quick) experiments::applyQuickSettings(r);
  return r;
}

}  // namespace

Job* ReproduceDialog::startEstimate() {
  if (const QString m = missingInput(false); !m.isEmpty()) {
    status_->setText(m);
    return nullptr;
  }
  auto r = requestOf(model_->text(), benchmarks_->text(), out_->text(), pairs_->text(), train_->text(), steps_->value(),
                     seeds_->value(), quick_->isChecked());
  Job* job = runner_->start(tr("Reproduce estimate"), [r](JobContext& ctx) {
    ctx.stage(QObject::tr("estimating: timing layers of this model's shape"));
    return QVariant(QString::fromStdString(experiments::estimateReproduce(r, true, ctx.control()).text));
  });
  if (!job) {
    status_->setText(tr("Another job is running; wait for it or cancel it first."));
    return nullptr;
  }
  job_ = job;
  setRunning(true);
  connect(job, &Job::progress, this, &ReproduceDialog::onProgress);
  connect(job, &Job::finished, this, [this](const QVariant& text) {
    setRunning(false);
    plan_->setPlainText(text.toString());
    status_->setText(tr("Estimate ready."));
  });
  connect(job, &Job::cancelled, this, [this] {
    setRunning(false);
    status_->setText(tr("Estimate cancelled."));
  });
  connect(job, &Job::failed, this, [this](const QString& message) {
    setRunning(false);
    status_->setText(tr("Estimate failed: %1").arg(message));
  });
  return job;
}

Job* ReproduceDialog::startRun() {
  if (const QString m = missingInput(true); !m.isEmpty()) {
    status_->setText(m);
    return nullptr;
  }
  auto r = requestOf(model_->text(), benchmarks_->text(), out_->text(), pairs_->text(), train_->text(), steps_->value(),
                     seeds_->value(), quick_->isChecked());
  runOut_ = out_->text().trimmed();
  Job* job = runner_->start(tr("Reproduce"), [r](JobContext& ctx) mutable {
    r.log = [&ctx](const std::string& line) { ctx.post(QString::fromStdString(line)); };
    experiments::runReproduce(r, ctx.control());
    return QVariant(QString::fromStdString(r.outDir.string()));
  });
  if (!job) {
    status_->setText(tr("Another job is running; wait for it or cancel it first."));
    return nullptr;
  }
  job_ = job;
  tree_->clear();
  // The steps known before the run (a short step may end between two throttled progress reports).
  for (const QString& step : {QStringLiteral("analysis"), QStringLiteral("ablation")}) new QTreeWidgetItem(tree_, {step, tr("waiting")});
  report_->clear();
  reportHtml_.clear();
  plan_->appendPlainText(tr("--- run into %1").arg(runOut_));
  setRunning(true);
  connect(job, &Job::progress, this, &ReproduceDialog::onProgress);
  connect(job, &Job::data, this, [this](const QVariantList& lines) {
    for (const QVariant& l : lines) plan_->appendPlainText(l.toString());
  });
  connect(job, &Job::finished, this, &ReproduceDialog::onFinished);
  connect(job, &Job::cancelled, this, [this] {
    setRunning(false);
    status_->setText(tr("Cancelled. Run again to resume: finished steps are kept."));
    Q_EMIT runCancelled();
  });
  connect(job, &Job::failed, this, [this](const QString& message) {
    setRunning(false);
    status_->setText(tr("Failed: %1").arg(message));
    Q_EMIT runFailed(message);
  });
  return job;
}

void ReproduceDialog::cancel() {
  if (job_) job_->cancel();
}

void ReproduceDialog::setRunning(bool running) {
  for (QWidget* w : std::initializer_list<QWidget*>{estimate_, run_, model_, benchmarks_, out_, pairs_, train_, quick_})
    w->setEnabled(!running);
  steps_->setEnabled(!running && !quick_->isChecked());
  seeds_->setEnabled(!running && !quick_->isChecked());
  cancel_->setEnabled(running);
  progress_->setVisible(running);
  open_->setEnabled(!running && !reportHtml_.isEmpty());
  export_->setEnabled(!running && !reportHtml_.isEmpty());
  if (running) progress_->setRange(0, 0);
}

void ReproduceDialog::onProgress(const QString& stage, double fraction, double eta) {
  showFraction(progress_, fraction);
  status_->setText(progressText(tr("Reproduce"), fraction, eta) + QLatin1Char('\n') + stage);
  // The tree: step (analysis, ablation, humaneval <arm>) > arm > benchmark, from the stage's "a: b: c" parts.
  const QStringList parts = stage.split(QStringLiteral(": "));
  if (parts.isEmpty() || parts[0].isEmpty()) return;
  auto child = [](QTreeWidgetItem* parent, const QString& name) {
    for (int i = 0; i < parent->childCount(); ++i)
      if (parent->child(i)->text(0) == name) return parent->child(i);
    return new QTreeWidgetItem(parent, {name});
  };
  QTreeWidgetItem* top = nullptr;
  for (int i = 0; i < tree_->topLevelItemCount(); ++i)
    if (tree_->topLevelItem(i)->text(0) == parts[0]) top = tree_->topLevelItem(i);
  if (!top) top = new QTreeWidgetItem(tree_, {parts[0]});
  for (int i = 0; i < tree_->indexOfTopLevelItem(top); ++i) tree_->topLevelItem(i)->setText(1, tr("done"));
  top->setText(1, fraction >= 0 ? QStringLiteral("%1%").arg(int(fraction * 100)) : tr("running"));
  if (parts.size() < 2) return;
  QString arm = parts[1].section(QLatin1Char(' '), 0, 0);
  if (arm == QLatin1String("base")) arm = tr("base model");
  QTreeWidgetItem* armItem = child(top, arm);
  armItem->setText(1, parts.mid(1).join(QStringLiteral(": ")));
  top->setExpanded(true);
  for (const QString& p : parts)
    if (p.startsWith(QLatin1String("evaluating "))) {
      armItem->setExpanded(true);
      child(armItem, p.mid(11))->setText(1, tr("evaluating"));
    }
}

void ReproduceDialog::onFinished() {
  setRunning(false);
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) tree_->topLevelItem(i)->setText(1, tr("done"));
  // The report is drawn here, on the GUI thread (the figure views are widgets).
  try {
    const auto out = views::writeReproduceReport(runOut_.toStdString());
    reportHtml_ = QString::fromStdString(out.html.string());
    report_->setHtml(reportSummaryHtml(runOut_, reportHtml_));
    status_->setText(tr("Done. Report: %1 (%2 PDF pages)").arg(reportHtml_).arg(out.pdfPages));
    setRunning(false);
    Q_EMIT reportReady(reportHtml_);
  } catch (const std::exception& e) {
    status_->setText(tr("The protocol finished, but the report failed: %1").arg(QString::fromUtf8(e.what())));
    Q_EMIT runFailed(status_->text());
  }
}

QString ReproduceDialog::exportReport(const QString& dir) {
  if (runOut_.isEmpty() || reportHtml_.isEmpty()) return tr("No report yet: run the protocol first.");
  try {
    views::writeReproduceReport(runOut_.toStdString(), dir.toStdString());
    return {};
  } catch (const std::exception& e) {
    return tr("Export failed: %1").arg(QString::fromUtf8(e.what()));
  }
}

}  // namespace layerscope::app
