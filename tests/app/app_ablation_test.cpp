// app_tests, the 4-way ablation panel: a real run (2 steps per arm, 1 control seed) on a tiny random model
// through the window's JobRunner, in-process, whose report.json must equal (up to the timing keys) that of
// experiments::runAblation called directly with the inputs `layerscope-cli ablate` would pass, and that of the
// real CLI when it is built; the grouped bars shown afterwards; cancel leaving no report.json and the window
// usable.
#include <gtest/gtest.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/gui/ablation_panel.h"
#include "app/gui/job_runner.h"
#include "app/gui/main_window.h"
#include "app/gui/train_panel.h"
#include "experiments/ablation.h"
#include "tests/app/tiny_setup.h"
#include "views/ablation_view.h"

using namespace layerscope;
using nlohmann::json;

namespace {

// The report without its timings: every key containing "seconds", at any depth.
json withoutTimings(const json& j) {
  if (j.is_array()) {
    json out = json::array();
    for (const auto& x : j) out.push_back(withoutTimings(x));
    return out;
  }
  if (!j.is_object()) return j;
  json out = json::object();
  for (const auto& [k, v] : j.items())
    if (k.find("seconds") == std::string::npos) out[k] = withoutTimings(v);
  return out;
}

json readReport(const QString& dir) {
  std::ifstream in((dir + QStringLiteral("/report.json")).toStdString());
  if (!in) return json();
  return json::parse(in);
}

struct AblationFixture : ::testing::Test {
  QTemporaryDir tmp;
  QString model, task, analysis;
  std::unique_ptr<app::MainWindow> w;

  void SetUp() override {
    w = std::make_unique<app::MainWindow>(tmp.filePath(QStringLiteral("settings.ini")));
    w->setQuietErrors(true);
    w->show();
    model = tmp.filePath(QStringLiteral("tiny"));
    task = tmp.filePath(QStringLiteral("tiny.mc.jsonl"));
    apptest::writeTinyModel(model, 5);
    apptest::writeTinyTask(task);
    // A minimal analysis folder: the ablation reads only stats.json top_k.
    analysis = tmp.filePath(QStringLiteral("analysis"));
    QDir().mkpath(analysis);
    QFile stats(analysis + QStringLiteral("/stats.json"));
    ASSERT_TRUE(stats.open(QIODevice::WriteOnly));
    stats.write(R"({"top_k": {"k_sens": 1, "k_rope": 1, "S_sens": [0], "S_rope": [1]}})");
    stats.close();
    w->setModelDir(model);
  }
  app::AblationPanel* panel() { return w->ablationPanel(); }
  void configure(const QString& out, int steps, int controlSeeds) {
    panel()->analysisEdit()->setText(analysis);
    panel()->trainEdit()->setText(task);
    panel()->evalEdit()->setText(task);
    panel()->outEdit()->setText(out);
    panel()->stepsSpin()->setValue(steps);
    panel()->controlSeedsSpin()->setValue(controlSeeds);
    panel()->seedSpin()->setValue(0);
    panel()->batchSpin()->setValue(2);
  }
  QString firstError(const QSignalSpy& s) { return s.isEmpty() ? QString() : s.first().last().toString(); }
};

}  // namespace

TEST_F(AblationFixture, RunsInProcessEqualsDirectCallAndCliAndShowsBars) {
  const QString out = tmp.filePath(QStringLiteral("ablation-gui"));
  configure(out, 2, 1);
  QSignalSpy done(panel(), &app::AblationPanel::finished);
  QSignalSpy failed(panel(), &app::AblationPanel::failed);
  QSignalSpy cancelled(panel(), &app::AblationPanel::cancelled);
  ASSERT_TRUE(panel()->start());
  // One job at a time across the panels.
  EXPECT_TRUE(w->jobRunner()->isBusy());
  EXPECT_FALSE(w->runButton()->isEnabled());
  EXPECT_FALSE(w->trainPanel()->startButton()->isEnabled());
  EXPECT_FALSE(w->startAnalysis(tmp.filePath(QStringLiteral("never"))));
  EXPECT_FALSE(panel()->start());
  EXPECT_TRUE(panel()->cancelButton()->isEnabled());
  ASSERT_TRUE(done.wait(240000)) << firstError(failed).toStdString();
  EXPECT_EQ(done.count(), 1);
  EXPECT_TRUE(failed.isEmpty());
  EXPECT_TRUE(cancelled.isEmpty());
  EXPECT_EQ(done.first().first().toString(), out);
  EXPECT_DOUBLE_EQ(panel()->fraction(), 1.0);
  EXPECT_FALSE(w->jobRunner()->isBusy());
  EXPECT_TRUE(w->runButton()->isEnabled());
  EXPECT_TRUE(panel()->startButton()->isEnabled());
  EXPECT_FALSE(panel()->cancelButton()->isEnabled());
  EXPECT_TRUE(panel()->logView()->toPlainText().contains(QStringLiteral("base: ")));
  ASSERT_TRUE(QFileInfo::exists(out + QStringLiteral("/report.csv")));
  const json gui = readReport(out);
  ASSERT_TRUE(gui.is_object());
  EXPECT_EQ(gui["format"], "layerscope.ablation/1");
  ASSERT_EQ(gui["arms"].size(), 5u);  // C1-C4 and C5 with one seed
  EXPECT_EQ(gui["S_sens"], json::array({0}));
  EXPECT_EQ(gui["S_rope"], json::array({1}));
  // The report is merged into the results shown; the Ablation tab draws it.
  ASSERT_TRUE(w->bundle() && w->bundle()->ablation);
  auto* view = qobject_cast<views::AblationView*>(w->tabs()->currentWidget());
  ASSERT_NE(view, nullptr);
  EXPECT_TRUE(view->hasData());

  // The same experiment called directly, with the request `layerscope-cli ablate --model M --analysis A --train T
  // --eval T --steps 2 --control-seeds 1 --seed 0 --batch 2 --dtype float32 --out D` builds (app/cli/cmd_adapters.cpp).
  const QString directOut = tmp.filePath(QStringLiteral("ablation-direct"));
  experiments::AblationRequest r;
  r.modelDir = model.toStdString();
  r.analysisDir = analysis.toStdString();
  r.train = task.toStdString();
  r.evalFiles = {task.toStdString()};
  r.evalFormat = "auto";
  r.controlSeeds = 1;
  r.spec.lora.targets = core::parseTargets("q,k,v,o,gate,up,down");
  r.options.steps = 2;
  r.options.seed = 0;
  r.options.batchSize = 2;
  r.dtype = "float32";
  r.outDir = directOut.toStdString();
  const auto direct = experiments::runAblation(r);
  EXPECT_EQ(withoutTimings(direct.report), withoutTimings(readReport(directOut)));
  EXPECT_EQ(withoutTimings(gui), withoutTimings(direct.report));

  // And the real CLI, when it is built.
  const QString cli = QStringLiteral(LAYERSCOPE_CLI_PATH);
  if (!QFileInfo(cli).isExecutable()) GTEST_SKIP() << "layerscope-cli not built: " << cli.toStdString();
  const QString cliOut = tmp.filePath(QStringLiteral("ablation-cli"));
  QProcess p;
  p.start(cli, {QStringLiteral("ablate"), QStringLiteral("--model"), model, QStringLiteral("--analysis"), analysis,
                QStringLiteral("--train"), task, QStringLiteral("--eval"), task, QStringLiteral("--steps"), QStringLiteral("2"),
                QStringLiteral("--control-seeds"), QStringLiteral("1"), QStringLiteral("--seed"), QStringLiteral("0"),
                QStringLiteral("--batch"), QStringLiteral("2"), QStringLiteral("--dtype"), QStringLiteral("float32"),
                QStringLiteral("--out"), cliOut});
  ASSERT_TRUE(p.waitForFinished(240000));
  ASSERT_EQ(p.exitStatus(), QProcess::NormalExit);
  ASSERT_EQ(p.exitCode(), 0) << p.readAllStandardError().toStdString();
  EXPECT_EQ(withoutTimings(readReport(cliOut)), withoutTimings(gui));
}

TEST_F(AblationFixture, CancelLeavesNoReportAndWindowUsable) {
  const QString out = tmp.filePath(QStringLiteral("ablation-cancelled"));
  configure(out, 100000, 0);
  QSignalSpy cancelled(panel(), &app::AblationPanel::cancelled);
  QSignalSpy failed(panel(), &app::AblationPanel::failed);
  QSignalSpy done(panel(), &app::AblationPanel::finished);
  ASSERT_TRUE(panel()->start());
  // Cancel once the first arm is training: the base evaluation is done (base.json written) and the overall
  // fraction has moved on.
  ASSERT_TRUE(QTest::qWaitFor(
      [&] { return (QFileInfo::exists(out + QStringLiteral("/base.json")) && panel()->fraction() > 0) || !failed.isEmpty(); },
      120000));
  ASSERT_TRUE(failed.isEmpty()) << firstError(failed).toStdString();
  panel()->cancel();
  EXPECT_FALSE(panel()->cancelButton()->isEnabled());
  ASSERT_TRUE(cancelled.wait(60000)) << firstError(failed).toStdString();
  EXPECT_EQ(cancelled.count(), 1);
  EXPECT_TRUE(done.isEmpty());
  EXPECT_TRUE(failed.isEmpty());
  EXPECT_FALSE(QFileInfo::exists(out + QStringLiteral("/report.json")));
  EXPECT_FALSE(QFileInfo::exists(out + QStringLiteral("/report.csv")));
  EXPECT_TRUE(QFileInfo::exists(out + QStringLiteral("/base.json")));  // kept for a resume
  EXPECT_FALSE(panel()->isRunning());
  EXPECT_FALSE(w->jobRunner()->isBusy());
  EXPECT_TRUE(panel()->startButton()->isEnabled());
  EXPECT_TRUE(w->runButton()->isEnabled());
  EXPECT_TRUE(w->trainPanel()->startButton()->isEnabled());
  EXPECT_FALSE(w->bundle().has_value());

  // Still usable: a short ablation into a new folder completes and is shown.
  configure(tmp.filePath(QStringLiteral("ablation-after-cancel")), 1, 0);
  ASSERT_TRUE(panel()->start());
  ASSERT_TRUE(done.wait(240000)) << firstError(failed).toStdString();
  EXPECT_TRUE(QFileInfo::exists(tmp.filePath(QStringLiteral("ablation-after-cancel/report.json"))));
  ASSERT_TRUE(w->bundle() && w->bundle()->ablation);
}

TEST_F(AblationFixture, MissingInputsAreDialogsNotJobs) {
  QSignalSpy failed(panel(), &app::AblationPanel::failed);
  QSignalSpy errors(w.get(), &app::MainWindow::errorShown);
  configure(tmp.filePath(QStringLiteral("never")), 2, 0);
  panel()->analysisEdit()->setText(tmp.filePath(QStringLiteral("no-analysis")));
  EXPECT_FALSE(panel()->start());
  panel()->analysisEdit()->setText(analysis);
  panel()->evalEdit()->clear();
  EXPECT_FALSE(panel()->start());
  EXPECT_EQ(failed.count(), 2);
  EXPECT_EQ(errors.count(), 2);  // the window shows each as a dialog
  EXPECT_FALSE(w->jobRunner()->isBusy());
  EXPECT_FALSE(QFileInfo::exists(tmp.filePath(QStringLiteral("never"))));
}

// The estimate before the run (issue 18): every arm's training through experiments::estimateTraining with a
// layer-rate probe measured here, the total and the basis on screen; a bad configuration shows the reason instead.
namespace {

struct AblationPanelEstimate : AblationFixture {
  void writeStats(const QString& dir, const char* json) {
    QDir().mkpath(dir);
    QFile stats(dir + QStringLiteral("/stats.json"));
    ASSERT_TRUE(stats.open(QIODevice::WriteOnly));
    stats.write(json);
  }
};

}  // namespace

TEST_F(AblationPanelEstimate, DemoModelShowsPositiveTotalPerArmAndBasis) {
  const QString demo = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/models/demo");
  const QString demoTask = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/list_index.mc.jsonl");
  if (!QFileInfo::exists(demo + QStringLiteral("/model.safetensors"))) GTEST_SKIP() << "no demo model";
  const QString demoAnalysis = tmp.filePath(QStringLiteral("demo-analysis"));
  writeStats(demoAnalysis, R"({"top_k": {"S_sens": [3, 5, 8], "S_rope": [6, 7, 9]}})");
  w->setModelDir(demo);
  configure(tmp.filePath(QStringLiteral("never")), 20, 1);
  panel()->analysisEdit()->setText(demoAnalysis);
  panel()->trainEdit()->setText(demoTask);
  panel()->evalEdit()->setText(demoTask);
  EXPECT_LT(panel()->estimatedSeconds(), 0);
  EXPECT_FALSE(panel()->estimateLabel()->isVisibleTo(panel()));
  QSignalSpy shown(panel(), &app::AblationPanel::estimateShown);
  ASSERT_TRUE(panel()->startEstimate());
  // A job on the window's runner: nothing else starts meanwhile, and it can be cancelled.
  EXPECT_TRUE(w->jobRunner()->isBusy());
  EXPECT_FALSE(panel()->startButton()->isEnabled());
  EXPECT_FALSE(panel()->estimateButton()->isEnabled());
  EXPECT_TRUE(panel()->cancelButton()->isEnabled());
  ASSERT_TRUE(shown.wait(180000));
  ASSERT_EQ(shown.count(), 1);
  const QString html = panel()->estimateLabel()->text();
  EXPECT_TRUE(shown.first().first().toBool()) << html.toStdString();
  EXPECT_GT(panel()->estimatedSeconds(), 0);
  EXPECT_TRUE(panel()->estimateLabel()->isVisibleTo(panel()));
  EXPECT_TRUE(html.contains(QStringLiteral("measured rate on this machine"))) << html.toStdString();
  EXPECT_TRUE(html.contains(QStringLiteral("Estimated training time")));
  EXPECT_TRUE(html.contains(QStringLiteral("<b>Total</b>")));
  // Every arm of ablationArms with its layer sets; the backward starts at the arm's first adapted layer (12 layers).
  for (const char* row : {"<td>C1</td><td>3,5,8</td><td>3,5,8</td><td align='right'>9 layers</td>",
                          "<td>C2</td><td>3,5,8</td><td>6-7,9</td><td align='right'>9 layers</td>",
                          "<td>C3</td><td>6-7,9</td><td>3,5,8</td><td align='right'>9 layers</td>",
                          "<td>C4</td><td>6-7,9</td><td>6-7,9</td><td align='right'>6 layers</td>", "<td>C5-s0</td>"})
    EXPECT_TRUE(html.contains(QString::fromLatin1(row))) << row << "\n" << html.toStdString();
  EXPECT_FALSE(html.contains(QStringLiteral("C5-s1")));
  if (qEnvironmentVariableIsSet("LAYERSCOPE_PRINT_ESTIMATE")) std::cout << html.toStdString() << "\n";
  EXPECT_FALSE(w->jobRunner()->isBusy());
  EXPECT_TRUE(panel()->startButton()->isEnabled());
  EXPECT_FALSE(QFileInfo::exists(tmp.filePath(QStringLiteral("never"))));  // the estimate writes nothing
  // Another budget is another estimate: the old one leaves the screen.
  panel()->stepsSpin()->setValue(40);
  EXPECT_LT(panel()->estimatedSeconds(), 0);
  EXPECT_FALSE(panel()->estimateLabel()->isVisibleTo(panel()));
}

TEST_F(AblationPanelEstimate, BadConfigurationShowsTheReasonNotANumber) {
  QSignalSpy shown(panel(), &app::AblationPanel::estimateShown);
  QSignalSpy failed(panel(), &app::AblationPanel::failed);
  // Top-k layers the 2-layer model does not have (another model's analysis): the job fails naming stats.json.
  const QString other = tmp.filePath(QStringLiteral("other-analysis"));
  writeStats(other, R"({"top_k": {"S_sens": [0], "S_rope": [7]}})");
  configure(tmp.filePath(QStringLiteral("never")), 2, 0);
  panel()->analysisEdit()->setText(other);
  ASSERT_TRUE(panel()->startEstimate());
  ASSERT_TRUE(shown.wait(60000));
  EXPECT_FALSE(shown.first().first().toBool());
  EXPECT_LT(panel()->estimatedSeconds(), 0);
  QString html = panel()->estimateLabel()->text();
  EXPECT_TRUE(panel()->estimateLabel()->isVisibleTo(panel()));
  EXPECT_TRUE(html.contains(QStringLiteral("stats.json"))) << html.toStdString();
  EXPECT_TRUE(html.contains(QStringLiteral("top-k layer 7 does not exist"))) << html.toStdString();
  EXPECT_FALSE(html.contains(QStringLiteral("Total")));
  EXPECT_FALSE(w->jobRunner()->isBusy());
  // A missing analysis folder: refused at once, no job, the reason where the estimate goes.
  panel()->analysisEdit()->setText(tmp.filePath(QStringLiteral("no-analysis")));
  EXPECT_FALSE(panel()->startEstimate());
  EXPECT_FALSE(w->jobRunner()->isBusy());
  ASSERT_EQ(shown.count(), 2);
  EXPECT_FALSE(shown.last().first().toBool());
  html = panel()->estimateLabel()->text();
  EXPECT_TRUE(html.contains(QStringLiteral("No analysis"))) << html.toStdString();
  EXPECT_LT(panel()->estimatedSeconds(), 0);
  // An unreadable train file fails in the job with the file named.
  panel()->analysisEdit()->setText(analysis);
  QFile bad(tmp.filePath(QStringLiteral("bad.jsonl")));
  ASSERT_TRUE(bad.open(QIODevice::WriteOnly));
  bad.write("{not json\n");
  bad.close();
  panel()->trainEdit()->setText(bad.fileName());
  ASSERT_TRUE(panel()->startEstimate());
  ASSERT_TRUE(shown.wait(60000));
  EXPECT_FALSE(shown.last().first().toBool());
  html = panel()->estimateLabel()->text();
  EXPECT_TRUE(html.contains(QStringLiteral("bad.jsonl"))) << html.toStdString();
  EXPECT_LT(panel()->estimatedSeconds(), 0);
  EXPECT_TRUE(failed.isEmpty());  // shown in the panel, not as dialogs
}

TEST_F(AblationPanelEstimate, CancelShowsNoEstimate) {
  configure(tmp.filePath(QStringLiteral("never")), 2, 3);
  QSignalSpy shown(panel(), &app::AblationPanel::estimateShown);
  ASSERT_TRUE(panel()->startEstimate());
  panel()->cancel();
  EXPECT_FALSE(panel()->cancelButton()->isEnabled());
  ASSERT_TRUE(QTest::qWaitFor([&] { return !w->jobRunner()->isBusy(); }, 60000));
  QTest::qWait(50);
  EXPECT_TRUE(shown.isEmpty());
  EXPECT_LT(panel()->estimatedSeconds(), 0);
  EXPECT_FALSE(panel()->isEstimating());
  EXPECT_TRUE(panel()->statusLabel()->text().contains(QStringLiteral("cancelled")));
  EXPECT_TRUE(panel()->estimateButton()->isEnabled());
}
