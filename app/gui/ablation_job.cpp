#include "app/gui/ablation_job.h"

#include "app/gui/job_runner.h"
#include "experiments/ablation.h"

namespace layerscope::app {

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
