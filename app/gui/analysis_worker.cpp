#include "app/gui/analysis_worker.h"

#include <QDir>
#include <QFileInfo>
#include <exception>

#include "core/error.h"
#include "core/job_control.h"
#ifdef LAYERSCOPE_HAVE_PIPELINE
#include "analysis/pipeline.h"
#endif

namespace layerscope::app {

void AnalysisWorker::run(const AnalysisJob& job) {
  const auto stop = stop_.begin();
  QElapsedTimer throttle;
  throttle.start();
  auto onProgress = [&](const core::Progress& p) {
    // Overall fraction in [0, 1]; at most ~10 signals a second so the GUI event queue never floods.
    if (throttle.elapsed() < 100 && p.done < p.total) return;
    throttle.restart();
    Q_EMIT progress(QString::fromStdString(p.stage), p.total > 0 ? p.done / p.total : -1.0);
  };
  core::JobControl control(stop->get_token(), onProgress);
  stop_.finish([&] {
#ifdef LAYERSCOPE_HAVE_PIPELINE
    analysis::AnalyzeRequest req;
    req.modelDir = job.modelDir.toStdString();
    if (!job.adapterDir.isEmpty()) req.adapterDir = job.adapterDir.toStdString();
    req.taskFile = job.taskFile.toStdString();
    req.outDir = job.outDir.toStdString();
    req.dtype = job.dtype.toStdString();
    req.batchSize = job.batchSize;
    req.seed = job.seed;
    req.redundancy = job.redundancy;
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
    req.kSens = std::size_t(job.kSens);
    req.kRope = std::size_t(job.kRope);
    analysis::runAnalysis(req, &control);
    Q_EMIT finished(job.outDir);
#else
    (void)job;
    throw Error("this build of LayerScope has no analysis pipeline (analysis/pipeline.h); run "
                "`layerscope-cli analyze` and open its results directory instead");
#endif
  }, [this] { Q_EMIT cancelled(); }, [this](const QString& message) { Q_EMIT failed(message); });
}

}  // namespace layerscope::app
