// app_tests, "processes: N" in the analysis and training docks (issue 15, app/gui/cli_processes.h): the analysis runs
// as `layerscope-cli launch --nproc 2 -- analyze ...` built from the dock's options and equals the in-process run;
// rank 0's progress reaches the dock; Cancel stops every rank and leaves no results folder; a 2-process fine-tune
// follows the in-process losses; the progress lines of the CLI are parsed.
#include <gtest/gtest.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "app/gui/analysis_job.h"
#include "app/gui/analysis_panel.h"
#include "app/gui/cli_processes.h"
#include "app/gui/job_runner.h"
#include "app/gui/main_window.h"
#include "app/gui/train_jobs.h"
#include "core/data/dataset.h"

using namespace layerscope;

namespace {

const QString kModel = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/models/demo");

/// 16 items of the bundled first_of_two task (the demo model answers some of them wrongly: outcome mode has both).
QString writeTask(const QTemporaryDir& tmp) {
  core::Task t = core::readTask(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/first_of_two.mc.jsonl");
  auto items = t.mc();
  items.resize(16);
  const QString file = tmp.filePath(QStringLiteral("first16.mc.jsonl"));
  core::writeTask(file.toStdString(), core::Task{"first16.mc", items, {}, {}});
  return file;
}

/// A window on the demo model and `task` with light options; `processes` in the dock.
void setUp(app::MainWindow& w, const QString& task, int processes) {
  w.setQuietErrors(true);
  w.setModelDir(kModel);
  w.addTaskFile(task);
  w.analysisPanel()->applyOptionsJson({{QStringLiteral("bootstrap"), 50}, {QStringLiteral("batch_size"), 1},
                                       {QStringLiteral("profiles"), QJsonArray()},
                                       {QStringLiteral("manipulations"), QJsonArray{QStringLiteral("swap")}},
                                       {QStringLiteral("processes"), processes}});
}

nlohmann::json readJson(const QString& file) { return nlohmann::json::parse(std::ifstream(file.toStdString())); }

}  // namespace

TEST(Processes, CliProgressLinesAreParsed) {
  double f = -1;
  QString stage;
  ASSERT_TRUE(app::parseCliProgress(QStringLiteral("[rank 0]  45% 1.5s, ETA 1.9s  rope influence (layer 3)   "), f, stage));
  EXPECT_DOUBLE_EQ(f, 0.45);
  EXPECT_EQ(stage, QStringLiteral("rope influence (layer 3)"));
  ASSERT_TRUE(app::parseCliProgress(QStringLiteral("100% 3.4s  done"), f, stage));
  EXPECT_DOUBLE_EQ(f, 1.0);
  EXPECT_FALSE(app::parseCliProgress(QStringLiteral("[rank 0] wrote results (3.4 s)"), f, stage));
  EXPECT_FALSE(app::parseCliProgress(QStringLiteral("launch: rank 1 (pid 5) was killed by signal 9"), f, stage));
}

TEST(Processes, TwoProcessAnalysisFromTheDockEqualsTheInProcessRun) {
  if (!QFileInfo::exists(kModel + QStringLiteral("/model.safetensors"))) GTEST_SKIP() << "no demo model";
  qputenv("LAYERSCOPE_CLI", LAYERSCOPE_CLI_PATH);
  QTemporaryDir tmp;
  const QString task = writeTask(tmp);
  QString outs[2];
  for (int n : {1, 2}) {
    app::MainWindow w(tmp.filePath(QStringLiteral("settings%1.ini").arg(n)));
    setUp(w, task, n);
    outs[n - 1] = tmp.filePath(QStringLiteral("results%1").arg(n));
    QSignalSpy finished(&w, &app::MainWindow::analysisFinished);
    QSignalSpy failed(&w, &app::MainWindow::analysisFailed);
    QSignalSpy progress(w.analysisPanel(), &app::AnalysisPanel::progressShown);
    ASSERT_TRUE(w.startAnalysis(outs[n - 1]));
    ASSERT_TRUE(finished.wait(240000)) << (failed.isEmpty() ? "timeout" : failed.first().first().toString().toStdString());
    ASSERT_TRUE(w.bundle() && w.bundle()->scores && w.bundle()->stats) << "the results are shown";
    if (n == 2) {  // rank 0's stages reached the dock
      QStringList stages;
      for (const auto& args : progress) stages << args.first().toString();
      EXPECT_TRUE(stages.join(QLatin1Char('|')).contains(QStringLiteral("rope influence"))) << stages.join(QLatin1Char('|')).toStdString();
    }
  }
  const auto one = readJson(outs[0] + QStringLiteral("/scores.json")), two = readJson(outs[1] + QStringLiteral("/scores.json"));
  EXPECT_EQ(one["world_size"], 1);
  EXPECT_EQ(two["world_size"], 2);
  EXPECT_EQ(one["options"], two["options"]) << "the CLI arguments carry every option of the dock";
  EXPECT_EQ(one["layer_scores"], two["layer_scores"]) << "batches of one: bit-identical (docs/distributed.md)";
  EXPECT_EQ(readJson(outs[0] + QStringLiteral("/stats.json"))["stats"], readJson(outs[1] + QStringLiteral("/stats.json"))["stats"]);
  EXPECT_EQ(readJson(outs[0] + QStringLiteral("/manipulation.json"))["accuracy"],
            readJson(outs[1] + QStringLiteral("/manipulation.json"))["accuracy"]);
}

TEST(Processes, CancelStopsEveryRankAndLeavesNoResults) {
  if (!QFileInfo::exists(kModel + QStringLiteral("/model.safetensors"))) GTEST_SKIP() << "no demo model";
  qputenv("LAYERSCOPE_CLI", LAYERSCOPE_CLI_PATH);
  QTemporaryDir tmp;
  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  setUp(w, writeTask(tmp), 2);
  const QString out = tmp.filePath(QStringLiteral("results"));
  QSignalSpy cancelled(&w, &app::MainWindow::analysisCancelled);
  QSignalSpy progress(w.analysisPanel(), &app::AnalysisPanel::progressShown);
  ASSERT_TRUE(w.startAnalysis(out));
  ASSERT_TRUE(QTest::qWaitFor([&] {  // the ranks are at work: a stage past loading
    for (const auto& args : progress)
      if (args.first().toString().contains(QStringLiteral("eval"))) return true;
    return false;
  }, 60000));
  w.analysisPanel()->cancel();
  ASSERT_TRUE(cancelled.wait(30000)) << "the ranks stop at their next check after launch forwards SIGINT";
  EXPECT_FALSE(QFileInfo::exists(out));
  for (const QString& e : QDir(tmp.path()).entryList(QDir::AllEntries | QDir::NoDotAndDotDot))
    EXPECT_FALSE(e.startsWith(QStringLiteral("results"))) << e.toStdString();
}

TEST(Processes, AMissingCliIsAClearError) {
  qputenv("LAYERSCOPE_CLI", "/nonexistent/layerscope-cli");
  EXPECT_TRUE(app::cliExecutable().isEmpty());
  qunsetenv("LAYERSCOPE_CLI");
}

// The training dock's "processes: 2": `layerscope-cli launch --nproc 2 -- train` with the dock's values; the loss
// sequence equals the in-process run's up to float32 summation order (docs/distributed.md: 9.5e-6 measured), the
// curve got the CLI's step lines while it ran, and the outcome comes from the run's training_log.json.
TEST(Processes, TwoProcessTrainingEqualsTheInProcessRun) {
  if (!QFileInfo::exists(kModel + QStringLiteral("/model.safetensors"))) GTEST_SKIP() << "no demo model";
  qputenv("LAYERSCOPE_CLI", LAYERSCOPE_CLI_PATH);
  QTemporaryDir tmp;
  app::TrainOutcome outcomes[2];
  int stepPosts[2] = {0, 0};
  for (int n : {1, 2}) {
    app::TrainJob job;
    job.modelDir = kModel;
    job.trainFile = QStringLiteral("demo:40");
    job.outDir = tmp.filePath(QStringLiteral("adapter%1").arg(n));
    job.loraLayers = QStringLiteral("4-7");
    job.garfaLayers = QStringLiteral("all");
    job.dropout = 0;  // dropout masks are drawn per rank
    job.loraLr = 5e-3;
    job.garfaLr = 1e-2;
    job.steps = 6;
    job.batchSize = 4;
    job.checkpointEvery = 0;
    job.processes = n;
    app::JobRunner runner;
    app::Job* j = runner.start(QStringLiteral("train"), [job](app::JobContext& ctx) { return app::runTrainJob(job, ctx); });
    ASSERT_NE(j, nullptr);
    QSignalSpy finished(j, &app::Job::finished), failed(j, &app::Job::failed), data(j, &app::Job::data);
    ASSERT_TRUE(QTest::qWaitFor([&] { return !finished.isEmpty() || !failed.isEmpty(); }, 240000));
    ASSERT_TRUE(failed.isEmpty()) << failed.first().first().toString().toStdString();
    outcomes[n - 1] = finished.first().first().value<app::TrainOutcome>();
    for (const auto& batch : data) stepPosts[n - 1] += int(batch.first().toList().size());
    EXPECT_TRUE(QFileInfo::exists(job.outDir + QStringLiteral("/adapter_config.json"))) << job.outDir.toStdString();
  }
  ASSERT_EQ(outcomes[0].losses.size(), 6);
  ASSERT_EQ(outcomes[1].losses.size(), 6);
  for (int s = 0; s < 6; ++s)
    EXPECT_NEAR(outcomes[1].losses[s], outcomes[0].losses[s], 1e-4 * std::abs(outcomes[0].losses[s])) << "step " << s + 1;
  EXPECT_EQ(outcomes[1].loraParameters, outcomes[0].loraParameters);
  EXPECT_EQ(outcomes[1].garfaParameters, outcomes[0].garfaParameters);
  EXPECT_GE(stepPosts[1], 2) << "steps 1 and 6 are logged by the CLI and reach the curve";
}
