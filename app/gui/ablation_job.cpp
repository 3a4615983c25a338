#include "app/gui/ablation_job.h"

#include <QObject>
#include <algorithm>

#include "analysis/cost_estimate.h"
#include "app/gui/job_runner.h"
#include "core/base/error.h"
#include "core/model/config.h"
#include "core/train/adapter_config.h"
#include "experiments/ablation.h"
#include "experiments/train_cost.h"

namespace layerscope::app {

AblationEstimate estimateAblation(const AblationJob& job, const core::JobControl* control) {
  const std::filesystem::path modelDir = job.modelDir.toStdString(), analysisDir = job.analysisDir.toStdString();
  const auto [sSens, sRope] = experiments::readTopK(analysisDir);
  const int L = core::loadModelConfig(modelDir / "config.json").numLayers;
  // The check runAblation makes once the model is loaded, made here from config.json alone.
  for (const auto* set : {&sSens, &sRope})
    for (int l : *set)
      if (l < 0 || l >= L)
        throw InvalidArgument((analysisDir / "stats.json").string() + ": top-k layer " + std::to_string(l) +
                              " does not exist in a model of " + std::to_string(L) + " layers (another model's analysis?)");
  if (job.steps < 1) throw InvalidArgument("steps per arm must be >= 1");
  if (job.controlSeeds < 0) throw InvalidArgument("C5 seeds must be >= 0");
  const auto arms = experiments::ablationArms(sSens, sRope, L, job.seed, job.controlSeeds);
  AblationEstimate out;
  out.evalFiles = int(job.evalFiles.size());
  double train = 0;
  for (std::size_t i = 0; i < arms.size(); ++i) {
    const auto& arm = arms[i];
    // The request runAblation trains this arm with (experiments/ablation.cpp): the panel's budget, the arm's
    // layers and seed, the default adapter spec.
    experiments::TrainRunRequest t;
    t.modelDir = modelDir;
    t.train = job.trainFile.toStdString();
    t.loraLayers = core::formatLayerList(arm.lora);
    t.garfaLayers = core::formatLayerList(arm.garfa);
    t.options.steps = job.steps;
    t.options.seed = arm.seed;
    t.options.batchSize = job.batchSize;
    t.dtype = job.dtype.toStdString();
    // Progress arm by arm; the control itself goes to the probe, which checks it between its timed passes (a
    // StageJob's inner control would only pass a stop on with a progress report, which the probe never makes).
    core::reportProgress(control, {arm.name + ": timing layers of this model's shape", double(i), double(arms.size())});
    const experiments::TrainCostEstimate e = experiments::estimateTraining(t, /*measure=*/true, control);
    AblationArmEstimate a;
    a.name = QString::fromStdString(arm.name);
    a.lora = QString::fromStdString(t.loraLayers);
    a.garfa = QString::fromStdString(t.garfaLayers);
    a.backwardLayers = e.backwardLayers;
    a.seconds = e.seconds - e.loadSeconds;  // the model is loaded once for every arm
    a.secondsPerStep = e.secondsPerStep;
    a.peakBytes = e.peakBytes;
    a.msPerToken = e.rates.backwardPerToken * 1e3;
    a.probeBatch = e.probeBatch;
    a.probeTokens = e.probeTokens;
    out.arms.push_back(a);
    train += a.seconds;
    out.loadSeconds = e.loadSeconds;
    out.peakBytes = std::max(out.peakBytes, e.peakBytes);
    out.budgetBytes = e.budgetBytes;
    out.dtype = QString::fromStdString(e.dtype);
    out.device = QString::fromStdString(e.device);
    if (i == 0) out.items = e.items, out.meanTokens = e.meanTokens;
  }
  core::reportProgress(control, {"estimated", double(arms.size()), double(arms.size())});
  out.seconds = out.loadSeconds + train;
  return out;
}

QString ablationEstimateHtml(const AblationEstimate& e, const AblationJob& job) {
  auto dur = [](double s) { return QString::fromStdString(analysis::durationText(s)).toHtmlEscaped(); };
  auto gib = [](double b) { return QString::number(b / 1073741824.0, 'f', 2); };
  QString html = QObject::tr("<p><b>Estimated training time: %1</b> for %2 arms of %3 steps x %4 rows (loading the "
                             "model %5, then the arms one after another).</p>")
                     .arg(dur(e.seconds))
                     .arg(e.arms.size())
                     .arg(job.steps)
                     .arg(job.batchSize)
                     .arg(dur(e.loadSeconds));
  if (e.budgetBytes > 0 && e.peakBytes > e.budgetBytes)
    html += QObject::tr("<p style='color:#b00020'><b>Warning:</b> the largest arm's estimated peak of %1 GiB exceeds "
                        "the %2 GiB this machine has available now; lower the batch.</p>")
                .arg(gib(e.peakBytes), gib(e.budgetBytes));
  html += QObject::tr("<table cellspacing='0' cellpadding='2'><tr><th align='left'>Arm</th><th align='left'>LoRA</th>"
                      "<th align='left'>GARFA</th><th align='right'>backward</th><th align='right'>time</th>"
                      "<th align='right'>per step</th><th align='right'>peak GiB</th></tr>");
  double lo = 1e300, hi = 0;
  for (const auto& a : e.arms) {
    html += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td><td align='right'>%4</td><td align='right'>%5</td>"
                           "<td align='right'>%6</td><td align='right'>%7</td></tr>")
                .arg(a.name.toHtmlEscaped(), a.lora.toHtmlEscaped(), a.garfa.toHtmlEscaped(),
                     QObject::tr("%1 layers").arg(a.backwardLayers), dur(a.seconds), dur(a.secondsPerStep), gib(a.peakBytes));
    lo = std::min(lo, a.msPerToken);
    hi = std::max(hi, a.msPerToken);
  }
  html += QObject::tr("<tr><td colspan='4'><b>Total</b> (with loading)</td><td align='right'><b>%1</b></td><td></td>"
                      "<td align='right'>%2</td></tr></table>")
              .arg(dur(e.seconds), gib(e.peakBytes));
  const auto& first = e.arms.front();
  const QString rate = lo == hi || hi <= 0 ? QString::number(hi, 'f', 3)
                                           : QStringLiteral("%1-%2").arg(QString::number(lo, 'f', 3), QString::number(hi, 'f', 3));
  html += QObject::tr("<p><small>Basis: measured rate on this machine. For each arm, decoder layers of this model's "
                      "shape (random weights, %1 on %2) were timed on %3 x %4 tokens: %5 ms per row-token forward + "
                      "backward. Each arm's time is that rate times the padded tokens of its %6 steps over the %7 "
                      "training sequences (%8 tokens on average), forward through every layer and backward from its "
                      "first adapted layer up, as <tt>train --dry-run</tt> computes it (docs/scale.md, Training). Not included: evaluating the "
                      "base model and every arm on the %9 eval file(s).</small></p>")
              .arg(e.dtype.toHtmlEscaped(), e.device.toHtmlEscaped())
              .arg(first.probeBatch)
              .arg(first.probeTokens)
              .arg(rate)
              .arg(job.steps)
              .arg(e.items)
              .arg(e.meanTokens, 0, 'f', 1)
              .arg(e.evalFiles);
  return html;
}

QVariant estimateAblationJob(const AblationJob& job, JobContext& ctx) {
  return QVariant::fromValue(estimateAblation(job, ctx.control()));
}

QVariant runAblationJob(const AblationJob& job, JobContext& ctx) {
  experiments::AblationRequest r;
  r.modelDir = job.modelDir.toStdString();
  r.analysisDir = job.analysisDir.toStdString();
  r.train = job.trainFile.toStdString();
  for (const QString& f : job.evalFiles) r.evalFiles.emplace_back(f.toStdString());
  r.controlSeeds = job.controlSeeds;
  r.options.steps = job.steps;
  r.options.seed = job.seed;
  r.options.batchSize = job.batchSize;
  r.dtype = job.dtype.toStdString();
  r.outDir = job.outDir.toStdString();
  r.log = [&ctx](const std::string& line) { ctx.post(QString::fromStdString(line)); };
  experiments::readTopK(r.analysisDir);  // a wrong results folder fails before the model loads
  r.preloaded = ctx.model(job.modelDir, job.dtype);
  experiments::runAblation(r, ctx.control());
  return job.outDir;
}

}  // namespace layerscope::app
