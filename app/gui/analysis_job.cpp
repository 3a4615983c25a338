#include "app/gui/analysis_job.h"

#include "analysis/cost_estimate.h"
#include "analysis/pipeline.h"
#include "app/gui/job_runner.h"

namespace layerscope::app {

QStringList defaultExtraProfiles() {
  QStringList names;
  for (const std::string& n : analysis::defaultProfileNames()) names << QString::fromStdString(n);
  return names;
}

analysis::AnalyzeRequest analyzeRequestOf(const AnalysisJob& job) {
  analysis::AnalyzeRequest req;
  req.modelDir = job.modelDir.toStdString();
  if (!job.adapterDir.isEmpty()) req.adapterDir = job.adapterDir.toStdString();
  req.taskFile = job.taskFile.toStdString();
  req.outDir = job.outDir.toStdString();
  req.dtype = job.dtype.toStdString();
  req.device = job.device.toStdString();
  req.batchSize = job.batchSize;
  req.seed = job.seed;
  req.redundancy = job.redundancy;
  req.semantics = job.semantics.toStdString();
  for (const QString& m : job.manipulations) req.manipulations.push_back(m.toStdString());
  req.sensitivityMode = job.sensitivityMode.toStdString();
  req.position = job.position.toStdString();
  // The first metric is the co-localization profile; the others are computed for the heatmap.
  std::vector<std::string> metrics{job.metric.toStdString()};
  for (const char* m : {"rel_l2", "raw_l2", "cos", "fisher", "probe"})
    if (m != metrics.front()) metrics.push_back(m);
  req.metrics = metrics;
  req.bootstrap = std::size_t(job.bootstrap);
  req.ropeMode = job.ropeMode.toStdString();
  req.eps = job.eps;
  req.profiles.clear();
  for (const QString& p : job.profiles) req.profiles.push_back(p.toStdString());
  if (!job.colocFirst.isEmpty() || !job.colocSecond.isEmpty()) {
    const auto [first, second] = analysis::colocalizationKeys(req);  // both still empty: the defaults
    req.colocFirst = job.colocFirst.isEmpty() ? first : job.colocFirst.toStdString();
    req.colocSecond = job.colocSecond.isEmpty() ? second : job.colocSecond.toStdString();
  }
  req.kSens = std::size_t(job.kSens);
  req.kRope = std::size_t(job.kRope);
  return req;
}

QVariant estimateAnalysisJob(const AnalysisJob& job, JobContext& ctx) {
  ctx.stage(QObject::tr("estimating: timing layers of this model's shape"));
  const analysis::CostEstimate est = analysis::estimateAnalysis(analyzeRequestOf(job), /*measure=*/true, ctx.control());
  QVariantMap m;
  m[QStringLiteral("text")] = QString::fromStdString(est.table());
  m[QStringLiteral("peak_bytes")] = est.peakBytes;
  m[QStringLiteral("available_bytes")] = analysis::defaultMemoryBudgetBytes();
  m[QStringLiteral("seconds")] = est.seconds;
  return m;
}

QVariant runAnalysisJob(const AnalysisJob& job, JobContext& ctx) {
  analysis::runAnalysis(analyzeRequestOf(job), ctx.control());
  return job.outDir;
}

}  // namespace layerscope::app
