#include "app/gui/analysis_job.h"

#include "analysis/cost_estimate.h"
#include "analysis/pipeline.h"
#include "app/gui/cli_processes.h"
#include "app/gui/job_runner.h"
#include "results/results.h"

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

AnalysisJob analysisJobOfScores(const results::Scores& scores) {
  const nlohmann::json& o = scores.options;
  auto text = [](const nlohmann::json& j, const char* key, const QString& fallback) {
    return j.contains(key) && j[key].is_string() ? QString::fromStdString(j[key].get<std::string>()) : fallback;
  };
  auto texts = [](const nlohmann::json& j, const char* key, const QStringList& fallback) {
    if (!j.contains(key) || !j[key].is_array()) return fallback;
    QStringList out;
    for (const auto& v : j[key])
      if (v.is_string()) out << QString::fromStdString(v.get<std::string>());
    return out;
  };
  auto number = [&o](const char* key, auto fallback) {
    return o.contains(key) && o[key].is_number() ? o[key].get<decltype(fallback)>() : fallback;
  };
  AnalysisJob job;
  job.modelDir = text(scores.model, "path", {});
  job.taskFile = text(scores.task, "path", {});
  job.dtype = text(o, "dtype", job.dtype);
  job.batchSize = number("batch_size", job.batchSize);
  job.seed = number("seed", job.seed);
  job.redundancy = o.contains("redundancy") && o["redundancy"].is_boolean() ? o["redundancy"].get<bool>() : job.redundancy;
  if (o.contains("semantics") && o["semantics"].is_object()) job.semantics = text(o["semantics"], "requested", job.semantics);
  job.manipulations = texts(o, "manipulations", job.manipulations);
  job.sensitivityMode = text(o, "sensitivity_mode", job.sensitivityMode);
  job.position = text(o, "position", job.position);
  const QStringList metrics = texts(o, "metrics", {});
  if (!metrics.isEmpty()) job.metric = metrics.front();  // the first metric is the co-localization profile
  job.bootstrap = number("bootstrap", job.bootstrap);
  job.ropeMode = text(o, "rope_mode", job.ropeMode);
  job.eps = number("eps", job.eps);
  job.profiles = texts(o, "profiles", job.profiles);
  job.kSens = number("k_sens", job.kSens);
  job.kRope = number("k_rope", job.kRope);
  // The pair is recorded resolved; only a pair other than these options' defaults is chosen explicitly, as the
  // panel does.
  const QStringList pair = texts(o, "coloc", {});
  if (pair.size() == 2) {
    const auto [first, second] = analysis::colocalizationKeys(analyzeRequestOf(job));
    if (pair[0].toStdString() != first || pair[1].toStdString() != second) {
      job.colocFirst = pair[0];
      job.colocSecond = pair[1];
    }
  }
  return job;
}

QVariant estimateAnalysisJob(const AnalysisJob& job, JobContext& ctx) {
  ctx.stage(QObject::tr("estimating: timing layers of this model's shape"));
  const analysis::CostEstimate est = analysis::estimateAnalysis(analyzeRequestOf(job), /*measure=*/true, ctx.control());
  QVariantMap m;
  QString text = QString::fromStdString(est.table());
  double peak = est.peakBytes;
  if (job.processes > 1) {  // every process holds its own copy of the weights: bounded by N single-process peaks
    peak *= job.processes;
    text += QObject::tr("\n%1 processes: up to %2 GB resident in all (each holds the weights)")
                .arg(job.processes)
                .arg(peak / 1e9, 0, 'f', 1);
  }
  m[QStringLiteral("text")] = text;
  m[QStringLiteral("peak_bytes")] = peak;
  m[QStringLiteral("available_bytes")] = analysis::defaultMemoryBudgetBytes();
  m[QStringLiteral("seconds")] = est.seconds;
  return m;
}

QStringList analyzeArgsOf(const AnalysisJob& job) {
  const analysis::AnalyzeRequest r = analyzeRequestOf(job);
  auto q = [](const std::string& s) { return QString::fromStdString(s); };
  auto list = [&q](const std::vector<std::string>& v) {
    QStringList out;
    for (const auto& s : v) out << q(s);
    return out.join(QLatin1Char(','));
  };
  QStringList a{QStringLiteral("analyze"), QStringLiteral("--model"), q(r.modelDir.string()), QStringLiteral("--task"),
                q(r.taskFile.string()), QStringLiteral("--out"), q(r.outDir.string())};
  if (r.adapterDir && !r.adapterDir->empty()) a << QStringLiteral("--adapter") << q(r.adapterDir->string());
  a << QStringLiteral("--dtype") << q(r.dtype) << QStringLiteral("--device") << q(r.device) << QStringLiteral("--batch")
    << (r.batchSize > 0 ? QString::number(r.batchSize) : QStringLiteral("auto")) << QStringLiteral("--seed") << QString::number(r.seed)
    << QStringLiteral("--semantics") << q(r.semantics) << QStringLiteral("--sensitivity-mode") << q(r.sensitivityMode)
    << QStringLiteral("--position") << q(r.position) << QStringLiteral("--metrics") << list(r.metrics)
    << QStringLiteral("--bootstrap") << QString::number(r.bootstrap) << QStringLiteral("--rope-mode") << q(r.ropeMode)
    << QStringLiteral("--eps") << QString::number(r.eps, 'g', 17) << QStringLiteral("--k-sens") << QString::number(r.kSens)
    << QStringLiteral("--k-rope") << QString::number(r.kRope) << QStringLiteral("--profiles")
    << (r.profiles.empty() ? QStringLiteral("none") : list(r.profiles));
  if (!r.redundancy) a << QStringLiteral("--no-redundancy");
  if (!r.manipulations.empty()) a << QStringLiteral("--manipulations") << list(r.manipulations);
  if (!r.colocFirst.empty() || !r.colocSecond.empty()) a << QStringLiteral("--coloc") << q(r.colocFirst + "," + r.colocSecond);
  return a;
}

QVariant runAnalysisJob(const AnalysisJob& job, JobContext& ctx) {
  if (job.processes > 1) {
    analysis::validateRequest(analyzeRequestOf(job));  // a bad option is this dialog's error, not a rank's
    runCliProcesses(analyzeArgsOf(job), job.processes, ctx);
    return job.outDir;
  }
  analysis::runAnalysis(analyzeRequestOf(job), ctx.control());
  return job.outDir;
}

}  // namespace layerscope::app
