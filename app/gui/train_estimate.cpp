// TrainPanel::startEstimate: what the fine-tune in the dock will cost before Start (issue 14): peak resident memory
// and time from experiments::estimateTraining (`layerscope-cli train --dry-run`'s table: the model's config, the
// task's token counts and layer rates measured on this machine), with a warning when the peak exceeds what the
// machine has available. A configuration the plan refuses shows the reason where the estimate goes.
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

#include "app/gui/estimate_outcome.h"
#include "app/gui/job_runner.h"
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
  connect(job_, &Job::progress, this, &TrainPanel::onStage);
  connectEstimateOutcome(job_, this, status_, estimate_, tr("The estimate could not be made."), [this](bool shown, bool fits) {
    setRunning(false);
    if (shown) Q_EMIT estimateShown(fits);
  });
  status_->setText(tr("Estimating..."));
  setRunning(true);
  return true;
}

}  // namespace layerscope::app
