// The "Reproduce the co-localization study..." dialog offscreen, on the 4-layer tiny random model and the fixture
// benchmark directory (GPQA missing): missing inputs are named, the estimate lists what will run and a time, the
// protocol runs as one job with a progress tree and ends with the report (HTML, PDF) shown and exportable; a run
// cancelled at once leaves no summary and no report.
#include <gtest/gtest.h>

#include <QSignalSpy>
#include <QTest>
#include <QTextBrowser>
#include <QTreeWidget>
#include <filesystem>

#include "app/gui/job_runner.h"
#include "app/gui/reproduce_dialog.h"
#include "tests/experiments/experiment_fixtures.h"

namespace layerscope {
namespace {
namespace fs = std::filesystem;

struct DialogFixture {
  test::TinyByteModel tiny{test::byteConfig({.hidden = 16, .intermediate = 32, .layers = 4, .heads = 4, .maxPositions = 512}),
                           core::RandomCheckpointOptions{.seed = 5, .weightStd = 0.3}};
  test::TempDir dir;
  app::JobRunner runner;
  app::ReproduceDialog dialog{&runner, QString()};
  DialogFixture() {
    test::writeExperimentInputs(dir.path());
    dialog.setInputs(QString::fromStdString(tiny.dir().string()),
                     QStringLiteral(LAYERSCOPE_SOURCE_DIR "/tests/data/fixtures/benchmarks"),
                     QString::fromStdString((dir / "repro").string()), QString(), QString::fromStdString((dir / "train.jsonl").string()),
                     2, /*quick=*/true);
  }
};

TEST(ReproduceDialog, EstimatesRunsWithAProgressTreeAndShowsAndExportsTheReport) {
  DialogFixture f;
  {
    app::ReproduceDialog empty(&f.runner, QString());
    EXPECT_EQ(empty.startRun(), nullptr);
    EXPECT_TRUE(empty.statusText().contains(QStringLiteral("model folder"))) << empty.statusText().toStdString();
  }

  app::Job* estimate = f.dialog.startEstimate();
  ASSERT_NE(estimate, nullptr);
  QSignalSpy estimated(estimate, &app::Job::finished);
  ASSERT_TRUE(QTest::qWaitFor([&] { return !f.runner.isBusy(); }, 120000));
  ASSERT_EQ(estimated.count(), 1) << f.dialog.statusText().toStdString();
  const QString plan = f.dialog.planText();
  for (const char* part : {"benchmarks: 5 of 6 found", "missing [\"gpqa\"]", "1. analysis on 5 pairs", "k = 2 and 2 of 4 layers",
                           "2. ablation: 5 training runs (C1-C4, C5 x 1) of 20 steps", "3. HumanEval(+)", "estimated: "})
    EXPECT_TRUE(plan.contains(QLatin1String(part))) << part << "\n" << plan.toStdString();
  EXPECT_FALSE(fs::exists(f.dir / "repro" / "analysis")) << "the estimate must not write results";

  QSignalSpy ready(&f.dialog, &app::ReproduceDialog::reportReady);
  QSignalSpy failed(&f.dialog, &app::ReproduceDialog::runFailed);
  ASSERT_NE(f.dialog.startRun(), nullptr);
  ASSERT_TRUE(QTest::qWaitFor([&] { return ready.count() + failed.count() > 0; }, 170000));
  ASSERT_EQ(ready.count(), 1) << (failed.isEmpty() ? std::string() : failed.first().first().toString().toStdString());
  EXPECT_TRUE(fs::exists(f.dir / "repro" / "summary.json"));
  EXPECT_EQ(f.dialog.reportFile().toStdString(), (f.dir / "repro" / "report" / "report.html").string());
  EXPECT_TRUE(fs::exists(f.dir / "repro" / "report" / "report.pdf"));

  // The progress tree has the protocol's steps, the ablation's arms and the benchmarks they were evaluated on.
  QStringList top;
  for (int i = 0; i < f.dialog.progressTree()->topLevelItemCount(); ++i) top << f.dialog.progressTree()->topLevelItem(i)->text(0);
  EXPECT_TRUE(top.contains(QStringLiteral("analysis"))) << top.join(QStringLiteral(", ")).toStdString();
  EXPECT_TRUE(top.contains(QStringLiteral("ablation"))) << top.join(QStringLiteral(", ")).toStdString();
  EXPECT_TRUE(top.contains(QStringLiteral("humaneval C1"))) << top.join(QStringLiteral(", ")).toStdString();
  const auto ablation = f.dialog.progressTree()->findItems(QStringLiteral("ablation"), Qt::MatchExactly);
  ASSERT_EQ(ablation.size(), 1);
  QStringList arms;
  for (int i = 0; i < ablation[0]->childCount(); ++i) arms << ablation[0]->child(i)->text(0);
  for (const char* arm : {"C1", "C4"}) EXPECT_TRUE(arms.contains(QLatin1String(arm))) << arms.join(QStringLiteral(", ")).toStdString();
  for (int i = 0; i < f.dialog.progressTree()->topLevelItemCount(); ++i)
    EXPECT_EQ(f.dialog.progressTree()->topLevelItem(i)->text(1), QStringLiteral("done"));

  // The report pane: the paper-vs-run table, calling the tiny model a different model.
  const QString shown = f.dialog.reportView()->toPlainText();
  EXPECT_TRUE(shown.contains(QStringLiteral("Different model"))) << shown.toStdString();
  EXPECT_TRUE(shown.contains(QStringLiteral("-0.735")));
  EXPECT_TRUE(shown.contains(QStringLiteral("layers 4 vs 32")));

  const QString exported = QString::fromStdString((f.dir / "exported").string());
  EXPECT_EQ(f.dialog.exportReport(exported), QString());
  EXPECT_TRUE(fs::exists(f.dir / "exported" / "report.html"));
  EXPECT_TRUE(fs::exists(f.dir / "exported" / "data" / "paper_vs_run.csv"));
}

TEST(ReproduceDialog, ACancelledRunLeavesNoSummaryAndNoReport) {
  DialogFixture f;
  QSignalSpy cancelled(&f.dialog, &app::ReproduceDialog::runCancelled);
  QSignalSpy ready(&f.dialog, &app::ReproduceDialog::reportReady);
  ASSERT_NE(f.dialog.startRun(), nullptr);
  EXPECT_EQ(f.dialog.startEstimate(), nullptr);  // one job at a time
  f.dialog.cancel();
  ASSERT_TRUE(QTest::qWaitFor([&] { return cancelled.count() > 0; }, 60000));
  EXPECT_TRUE(f.dialog.statusText().contains(QStringLiteral("Cancelled"))) << f.dialog.statusText().toStdString();
  EXPECT_FALSE(fs::exists(f.dir / "repro" / "summary.json"));
  EXPECT_TRUE(f.dialog.reportFile().isEmpty());
  EXPECT_FALSE(f.dialog.exportReport(QString::fromStdString((f.dir / "x").string())).isEmpty());
}

}  // namespace
}  // namespace layerscope
