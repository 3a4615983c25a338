// TrainPanel::showTrainingRun: a finished fine-tune's curves read back from its training_log.json (written by
// core::trainAdapters for the CLI and the GUI alike), so a run trained with `layerscope-cli train` is viewed and
// compared on the same loss plot as runs trained in the window (File > Open adapter folder, `--adapter DIR`).
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>

#include "app/gui/train_panel.h"
#include "core/train/trainer.h"
#include "views/loss_curve_view.h"

namespace layerscope::app {

QString TrainPanel::showTrainingRun(const QString& dir) {
  QFile f(QDir(dir).filePath(QStringLiteral("training_log.json")));
  if (!f.exists()) return tr("no training_log.json");
  if (!f.open(QIODevice::ReadOnly)) return tr("%1: cannot be read").arg(f.fileName());
  QJsonParseError err{};
  const QJsonObject log = QJsonDocument::fromJson(f.readAll(), &err).object();
  if (err.error != QJsonParseError::NoError) return tr("%1: invalid JSON (%2)").arg(f.fileName(), err.errorString());
  QVector<double> steps, losses, lrs, evalSteps, evalLosses;
  for (const QJsonValue& v : log.value(QStringLiteral("losses")).toArray()) {
    if (!v.isDouble()) return tr("%1: 'losses' must be an array of numbers").arg(f.fileName());
    steps << double(steps.size() + 1);
    losses << v.toDouble();
  }
  if (losses.isEmpty()) return tr("%1: no losses").arg(f.fileName());
  for (const QJsonValue& p : log.value(QStringLiteral("eval_loss")).toObject().value(QStringLiteral("points")).toArray()) {
    const QJsonArray pair = p.toArray();
    if (pair.size() != 2 || !pair[0].isDouble() || !pair[1].isDouble())
      return tr("%1: eval_loss.points must be [step, loss] pairs").arg(f.fileName());
    evalSteps << pair[0].toDouble();
    evalLosses << pair[1].toDouble();
  }
  // The learning rate of each step from the recorded schedule: the factor of docs/methods.md section 7 times the
  // first group's peak (LoRA when the run trained LoRA, else GARFA), as the live curve reports it.
  const QJsonObject o = log.value(QStringLiteral("options")).toObject();
  core::TrainerOptions schedule;
  schedule.steps = o.value(QStringLiteral("steps")).toInteger(0);
  schedule.warmupSteps = o.value(QStringLiteral("warmup_steps")).toInteger(0);
  schedule.minLrRatio = o.value(QStringLiteral("min_lr_ratio")).toDouble(0.1);
  const bool lora = !o.value(QStringLiteral("lora_layers")).toArray().isEmpty();
  const double peak = o.value(lora ? QStringLiteral("lora_lr") : QStringLiteral("garfa_lr")).toDouble(0);
  if (schedule.steps == losses.size() && peak > 0)
    for (qsizetype s = 0; s < losses.size(); ++s) lrs << peak * core::lrFactor(schedule, s);
  if (loss_->pointCount() > 0 && !lastRunLabel_.isEmpty()) loss_->addReferenceRun(lastRunLabel_, lastRunSteps_, loss_->losses());
  loss_->setData(steps, losses, int(losses.size()));
  loss_->setLearningRates(lrs);
  loss_->setEvalPoints(evalSteps, evalLosses);
  lastRunLabel_ = QFileInfo(dir).fileName();
  lastRunSteps_ = steps;
  status_->setText(tr("Curves of %1 (training_log.json, %2 steps%3)")
                       .arg(dir)
                       .arg(losses.size())
                       .arg(evalSteps.isEmpty() ? QString() : tr(", %1 held-out points").arg(evalSteps.size())));
  return {};
}

QString TrainPanel::estimateText() const { return estimate_ && !estimate_->isHidden() ? estimate_->text() : QString(); }

}  // namespace layerscope::app
