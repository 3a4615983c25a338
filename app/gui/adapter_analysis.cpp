// "Analyse with this adapter" (docs/gui.md, Flow): the analysis on screen run again with a trained adapter, then
// compared with the base in the Runs tab. A MainWindow member kept apart from main_window.cpp's layout and wiring.
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QStatusBar>

#include "app/gui/analysis_job.h"
#include "app/gui/analysis_panel.h"
#include "app/gui/app_settings.h"
#include "app/gui/job_runner.h"
#include "app/gui/main_window.h"
#include "app/gui/results_area.h"
#include "app/gui/train_panel.h"

namespace layerscope::app {

bool MainWindow::analyseWithAdapter(const QString& adapterDir) {
  if (runner_->isBusy()) return false;  // one job at a time
  const auto& b = bundle();
  // The folder of the results shown that holds the analysis (scores.json).
  QString baseDir;
  for (const QString& d : results_->dirs())
    if (baseDir.isEmpty() && QFileInfo::exists(d + QStringLiteral("/scores.json"))) baseDir = d;
  if (!b || !b->scores || baseDir.isEmpty()) {
    showError(tr("No analysis on screen"), tr("Open or run an analysis first: Analyse with this adapter runs it again with the "
                                              "adapter applied."));
    return false;
  }
  AnalysisJob job = analysisJobOfScores(*b->scores);
  if (!QFileInfo(job.modelDir).isDir() || !QFileInfo(job.taskFile).isFile()) {
    showError(tr("Cannot analyse with the adapter"),
              tr("The analysis on screen was made with model '%1' and task '%2'; one of them no longer exists. Open the "
                 "model and task and run the analysis again first.").arg(job.modelDir, job.taskFile));
    return false;
  }
  // An adapter fits the model it was trained on: the training dock's base model must be the analysed one.
  const QString trainedOn = trainPanel_->modelDir();
  if (!trainedOn.isEmpty() && QFileInfo(trainedOn).canonicalFilePath() != QFileInfo(job.modelDir).canonicalFilePath()) {
    showError(tr("Cannot analyse with the adapter"),
              tr("The adapter was trained on '%1', but the analysis on screen is of '%2'. Open an analysis of the model "
                 "the adapter was trained on.").arg(trainedOn, job.modelDir));
    return false;
  }
  job.adapterDir = adapterDir;
  const QString root = settings_->resultsRoot();
  QDir().mkpath(root);
  job.outDir = QStringLiteral("%1/%2_%3_adapter-%4_%5")
                   .arg(root, QFileInfo(job.modelDir).fileName(), QFileInfo(job.taskFile).completeBaseName(),
                        QFileInfo(adapterDir).fileName(), QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")));
  // No split check first: an adapted model is only built by the pipeline, which checks the full evaluation itself.
  if (!analysis_->start(job)) return false;
  comparisonBase_ = baseDir;
  comparisonAdapted_ = job.outDir;
  statusBar()->showMessage(tr("Analysing %1 with the adapter %2; the Runs tab compares it with the base when done")
                               .arg(QFileInfo(job.taskFile).fileName(), QFileInfo(adapterDir).fileName()), 8000);
  return true;
}

}  // namespace layerscope::app
