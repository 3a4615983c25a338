// gui_train_bench: the GUI's training path against the CLI's on the same job (issue 18: GUI fine-tunes ran
// 25x slower than the CLI's because only the CLI set OMP_WAIT_POLICY=PASSIVE). In this process, a fine-tune
// runs as the GUI runs it: app::runTrainJob on the JobRunner's worker thread under a QApplication; then the
// same job runs as `layerscope-cli train` in a child process. Both are started with OMP_WAIT_POLICY removed
// from the environment (run this binary with it unset), so each gets only what core/model/runtime.cpp sets.
// Prints both tokens/s (trainer's own measure, steps only) and exits 1 when the GUI path is more than 1.5x
// slower. A benchmark, not a unit test: run it by hand on an otherwise idle machine.
//
//   env -u OMP_WAIT_POLICY build/tests/app/gui_train_bench [--model DIR] [--train FILE] [--steps 20] [--batch 8]
#include <QApplication>
#include <QEventLoop>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <cstdio>
#include <cstdlib>

#include "app/gui/job_runner.h"
#include "app/gui/train_jobs.h"

using namespace layerscope;

namespace {

QString arg(const QStringList& args, const QString& name, const QString& fallback) {
  const int i = int(args.indexOf(name));
  return i >= 0 && i + 1 < args.size() ? args[i + 1] : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  if (qgetenv("QT_QPA_PLATFORM").isEmpty()) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication qapp(argc, argv);
  const QStringList args = qapp.arguments();
  app::TrainJob job;
  job.modelDir = arg(args, QStringLiteral("--model"), QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/models/demo"));
  job.trainFile = arg(args, QStringLiteral("--train"), QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/list_index.mc.jsonl"));
  job.steps = arg(args, QStringLiteral("--steps"), QStringLiteral("20")).toInt();
  job.batchSize = arg(args, QStringLiteral("--batch"), QStringLiteral("8")).toInt();
  job.loraLayers = QStringLiteral("all");
  job.garfaLayers = QStringLiteral("all");
  QTemporaryDir tmp;
  job.outDir = tmp.filePath(QStringLiteral("gui"));
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  std::printf("OMP_WAIT_POLICY in this process: %s (set by core/model/runtime.cpp when the parent left it unset)\n",
              policy ? policy : "(unset)");

  // 1. The GUI's path: the job body the training dock runs, on the JobRunner's worker thread.
  double guiTps = 0, guiSeconds = 0;
  {
    app::JobRunner runner;
    QEventLoop loop;
    app::Job* j = runner.start(QStringLiteral("bench"), [job](app::JobContext& ctx) { return app::runTrainJob(job, ctx); });
    if (!j) return 2;
    QObject::connect(j, &app::Job::finished, &loop, [&](const QVariant& v) {
      const auto out = v.value<app::TrainOutcome>();
      guiTps = out.tokensPerSecond;
      guiSeconds = out.seconds;
      loop.quit();
    });
    QObject::connect(j, &app::Job::failed, &loop, [&](const QString& m) {
      std::fprintf(stderr, "GUI job failed: %s\n", qPrintable(m));
      loop.quit();
    });
    loop.exec();
  }
  if (guiTps <= 0) return 2;

  // 2. The CLI on the same job, in a child process whose environment has no OMP_WAIT_POLICY either.
  QProcess cli;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.remove(QStringLiteral("OMP_WAIT_POLICY"));
  cli.setProcessEnvironment(env);
  cli.start(QStringLiteral(LAYERSCOPE_CLI_PATH),
            {QStringLiteral("train"), QStringLiteral("--model"), job.modelDir, QStringLiteral("--train"), job.trainFile,
             QStringLiteral("--steps"), QString::number(job.steps), QStringLiteral("--batch"), QString::number(job.batchSize),
             QStringLiteral("--lora-layers"), job.loraLayers, QStringLiteral("--garfa-layers"), job.garfaLayers,
             QStringLiteral("--out"), tmp.filePath(QStringLiteral("cli"))});
  if (!cli.waitForFinished(-1) || cli.exitCode() != 0) {
    std::fprintf(stderr, "layerscope-cli train failed:\n%s\n", cli.readAllStandardError().constData());
    return 2;
  }
  const QString log = QString::fromLocal8Bit(cli.readAllStandardError() + cli.readAllStandardOutput());
  static const QRegularExpression done(QStringLiteral("\\(([0-9.]+) s, ([0-9.]+) tok/s\\)"));
  QRegularExpressionMatch m;
  for (auto it = done.globalMatch(log); it.hasNext();) m = it.next();
  if (!m.hasMatch()) {
    std::fprintf(stderr, "no tokens/s in the CLI's output:\n%s\n", qPrintable(log));
    return 2;
  }
  const double cliSeconds = m.captured(1).toDouble(), cliTps = m.captured(2).toDouble();
  const double ratio = cliTps / guiTps;
  std::printf("| path | steps | batch | seconds | tokens/s |\n|---|---|---|---|---|\n");
  std::printf("| GUI worker (runTrainJob on the JobRunner thread) | %d | %d | %.1f | %.0f |\n", job.steps, job.batchSize, guiSeconds, guiTps);
  std::printf("| layerscope-cli train | %d | %d | %.1f | %.0f |\n", job.steps, job.batchSize, cliSeconds, cliTps);
  std::printf("CLI / GUI tokens/s = %.2f (target <= 1.5): %s\n", ratio, ratio <= 1.5 ? "PASS" : "FAIL");
  return ratio <= 1.5 ? 0 : 1;
}
