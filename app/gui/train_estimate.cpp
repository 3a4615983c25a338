// TrainPanel::startEstimate: what the fine-tune in the dock will cost before Start (issue 14): peak resident memory
// and time from experiments::estimateTraining (`layerscope-cli train --dry-run`'s table: the model's config, the
// task's token counts and layer rates measured on this machine), with a warning when the peak exceeds what the
// machine has available. A configuration the plan refuses shows the reason where the estimate goes.
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

#include "app/gui/job_runner.h"
#include "app/gui/progress_text.h"
#include "app/gui/train_jobs.h"
#include "app/gui/train_panel.h"

namespace layerscope::app {

QPushButton* TrainPanel::makeEstimateButton() {
  auto* b = new QPushButton(tr("Estimate"));
  b->setToolTip(tr("Peak memory and time of this fine-tune before it runs (train --dry-run): from the model's config, "
                   "the task's token counts and a quick measured rate of one layer on this machine"));
  connect(b, &QPushButton::clicked, this, &TrainPanel::startEstimate);
  estimate_ = new QLabel;
  estimate_->setObjectName(QStringLiteral("trainEstimate"));
  estimate_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  estimate_->setWordWrap(true);
  estimate_->setVisible(false);
  return b;
}

bool TrainPanel::startEstimate() {
  if (runner_->isBusy()) return false;
  if (modelDir_.isEmpty()) {
    Q_EMIT failed(tr("No model"), tr("Open a model folder (File > Open model folder) before estimating a fine-tune."));
    return false;
  }
  const TrainJob job = jobFromPanel();
  job_ = runner_->start(tr("Estimate"), [job](JobContext& ctx) { return estimateTrainJob(job, ctx); });
  if (!job_) return false;
  const auto show = [this](const QString& html, bool fits) {
    setRunning(false);
    estimate_->setText(html);
    estimate_->setVisible(true);
    Q_EMIT estimateShown(fits);
  };
  connect(job_, &Job::progress, this, &TrainPanel::onStage);
  connect(job_, &Job::finished, this, [this, show](const QVariant& v) {
    bool fits = true;
    const QString html = estimateHtml(v.toMap(), fits);
    status_->setText(tr("Estimate ready."));
    show(html, fits);
  });
  connect(job_, &Job::cancelled, this, [this] {
    setRunning(false);
    status_->setText(tr("Estimate cancelled."));
  });
  connect(job_, &Job::failed, this, [this, show](const QString& message) {
    status_->setText(tr("The estimate could not be made."));
    show(QStringLiteral("<p style='color:#b00020'>%1</p>").arg(message.toHtmlEscaped()), false);
  });
  status_->setText(tr("Estimating..."));
  setRunning(true);
  return true;
}

}  // namespace layerscope::app
