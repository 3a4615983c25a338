// app_tests, FirstRun: the first thing a new user does, offscreen through the real main window and the bundled
// demo (resources/models/demo, 12 layers; resources/tasks/demo). Accepting the demo selects list_index.mc (both
// correct and incorrect items), and Run ends in populated views. A task the model answers all wrong
// (reverse.short: 0%) is refused after a short sample, before the analysis starts, with a message in the GUI's
// words that offers pairs mode; "Use pairs mode" switches the option and selects reverse.pairs. The pipeline's
// own refusal (after a full evaluation, via layerscope-cli) is still recognised, so the GUI rewords it.
// The end-to-end run takes about a minute on 2 CPU cores.
#include <gtest/gtest.h>

#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonObject>
#include <QMessageBox>
#include <QProcess>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTimer>
#include <set>

#include "app/gui/analysis_panel.h"
#include "app/gui/first_run.h"
#include "app/gui/inputs_panel.h"
#include "app/gui/main_window.h"
#include "app/gui/split_check.h"
#include "views/heatmap_view.h"
#include "views/plot_view.h"

using namespace layerscope;

namespace {

const QString kDemoModel = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/models/demo");
const QString kDemoTasks = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo");

bool haveDemo() { return QFileInfo::exists(kDemoModel + QStringLiteral("/model.safetensors")); }

/// Clicks `button` on the first message box that opens (polling, as a user would answer it).
void answerNextMessageBox(QMessageBox::StandardButton button) {
  auto* timer = new QTimer;
  QObject::connect(timer, &QTimer::timeout, [timer, button] {
    for (QWidget* w : QApplication::topLevelWidgets())
      if (auto* box = qobject_cast<QMessageBox*>(w); box && box->isVisible() && box->button(button)) {
        timer->stop();
        timer->deleteLater();
        box->button(button)->click();
        return;
      }
  });
  timer->start(50);
}

}  // namespace

TEST(FirstRun, SplitSampleIsSpreadOverTheTask) {
  const std::vector<int> o = app::splitSampleOrder(200, 48);
  ASSERT_EQ(o.size(), 48u);
  EXPECT_EQ(std::set<int>(o.begin(), o.end()).size(), 48u);
  EXPECT_EQ(o[0], 0);
  EXPECT_GE(o[1], 100);  // coarse to fine: the second item checked is from the second half of the file
  for (int i : o) EXPECT_TRUE(i >= 0 && i < 200);
  const std::vector<int> all = app::splitSampleOrder(5, 48);
  EXPECT_EQ(std::set<int>(all.begin(), all.end()), (std::set<int>{0, 1, 2, 3, 4}));
}

TEST(FirstRun, DemoSelectsATaskWithCorrectAndIncorrectItems) {
  qputenv("LAYERSCOPE_DATA_DIR", LAYERSCOPE_SOURCE_DIR "/resources");
  const app::DemoFiles demo = app::findDemo();
  if (demo.modelDir.isEmpty() || !haveDemo()) GTEST_SKIP() << "no demo model";
  EXPECT_EQ(QFileInfo(app::defaultDemoTask(demo)).fileName(), QStringLiteral("list_index.mc.jsonl"));
  QTemporaryDir tmp;
  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  w.openDemo(demo);
  EXPECT_EQ(w.inputsPanel()->taskFiles().size(), demo.taskFiles.size());
  EXPECT_EQ(QFileInfo(w.currentSession().taskFiles.value(0)).path(), QFileInfo(demo.taskFiles.front()).path());
  EXPECT_EQ(QFileInfo(w.inputsPanel()->currentTask()).fileName(), QStringLiteral("list_index.mc.jsonl"));
}

TEST(FirstRun, OneSidedTaskIsRefusedBeforeTheAnalysisWithPairsModeOffered) {
  if (!haveDemo()) GTEST_SKIP() << "no demo model";
  QTemporaryDir tmp;
  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  w.setQuietErrors(true);
  w.show();
  w.setModelDir(kDemoModel);
  const QString reverseShort = kDemoTasks + QStringLiteral("/reverse.short.jsonl");
  w.addTaskFile(reverseShort);
  QSignalSpy failed(&w, &app::MainWindow::analysisFailed);
  QSignalSpy finished(&w, &app::MainWindow::analysisFinished);
  const QString out = tmp.filePath(QStringLiteral("never"));
  QElapsedTimer clock;
  clock.start();
  ASSERT_TRUE(w.startAnalysis(out));
  EXPECT_TRUE(w.isRunning());
  ASSERT_TRUE(failed.wait(120000));
  const QString message = failed.first().first().toString();
  // The sample (48 of 200 items), not the full evaluation pass and the analyses after it.
  EXPECT_TRUE(message.contains(QStringLiteral("In a sample of 48 of the 200 items of reverse.short.jsonl"))) << message.toStdString();
  EXPECT_TRUE(message.contains(QStringLiteral("none of them correctly"))) << message.toStdString();
  EXPECT_TRUE(message.contains(QStringLiteral("\"pairs\""))) << message.toStdString();
  EXPECT_TRUE(message.contains(QStringLiteral("reverse.pairs.jsonl"))) << message.toStdString();
  EXPECT_FALSE(message.contains(QStringLiteral("--"))) << "a command-line flag in a GUI message: " << message.toStdString();
  EXPECT_TRUE(finished.isEmpty());
  EXPECT_FALSE(QFileInfo::exists(out));
  EXPECT_FALSE(w.isRunning());
  EXPECT_TRUE(w.runButton()->isEnabled());
  std::cerr << "refused after " << clock.elapsed() / 1000.0 << " s\n";

  // "Use pairs mode": the option and the pairs form of the task, selected.
  w.switchToPairsMode(reverseShort);
  EXPECT_EQ(w.analysisPanel()->optionsJson().value(QStringLiteral("sensitivity_mode")).toString(), QStringLiteral("pairs"));
  EXPECT_EQ(QFileInfo(w.inputsPanel()->currentTask()).fileName(), QStringLiteral("reverse.pairs.jsonl"));
}

TEST(FirstRun, PipelineRefusalIsRecognisedForTheGuiWording) {
  if (!haveDemo()) GTEST_SKIP() << "no demo model";
  // The first 12 items of reverse.short (all answered wrong): the pipeline refuses after evaluating them.
  QTemporaryDir tmp;
  QFile in(kDemoTasks + QStringLiteral("/reverse.short.jsonl"));
  ASSERT_TRUE(in.open(QIODevice::ReadOnly));
  const QString task = tmp.filePath(QStringLiteral("reverse12.short.jsonl"));
  QFile outFile(task);
  ASSERT_TRUE(outFile.open(QIODevice::WriteOnly));
  for (int i = 0; i < 12; ++i) outFile.write(in.readLine());
  outFile.close();
  QProcess cli;
  cli.start(QStringLiteral(LAYERSCOPE_CLI_PATH), {QStringLiteral("analyze"), QStringLiteral("--model"), kDemoModel, QStringLiteral("--task"), task,
                                                   QStringLiteral("--out"), tmp.filePath(QStringLiteral("out"))});
  ASSERT_TRUE(cli.waitForFinished(300000));
  const QString err = QString::fromLocal8Bit(cli.readAllStandardError());
  EXPECT_NE(cli.exitCode(), 0);
  EXPECT_TRUE(app::isOneSidedTaskError(err)) << err.toStdString();
  EXPECT_FALSE(app::isOneSidedTaskError(QStringLiteral("--model: 'x' is not a directory")));
}

TEST(FirstRun, AcceptTheDemoRunAndTheViewsArePopulated) {
  qputenv("LAYERSCOPE_DATA_DIR", LAYERSCOPE_SOURCE_DIR "/resources");
  if (!haveDemo()) GTEST_SKIP() << "no demo model";
  QTemporaryDir tmp;
  const QString ini = tmp.filePath(QStringLiteral("settings.ini"));
  {
    QSettings s(ini, QSettings::IniFormat);  // new results go under the test's folder, not the user's
    s.setValue(QStringLiteral("resultsRoot"), tmp.filePath(QStringLiteral("results")));
  }
  app::MainWindow w(ini);
  w.setQuietErrors(true);
  w.show();
  answerNextMessageBox(QMessageBox::Yes);  // "Open the bundled demo model and tasks?" -> Yes
  w.offerDemoOnFirstStart();
  ASSERT_EQ(QFileInfo(w.inputsPanel()->currentTask()).fileName(), QStringLiteral("list_index.mc.jsonl"));
  EXPECT_EQ(QFileInfo(w.inputsPanel()->currentTask()).path(), QFileInfo(kDemoTasks + QStringLiteral("/x")).path());

  QSignalSpy finished(&w, &app::MainWindow::analysisFinished);
  QSignalSpy failed(&w, &app::MainWindow::analysisFailed);
  ASSERT_TRUE(w.runButton()->isEnabled());
  w.runButton()->click();  // the default Run, options untouched
  ASSERT_TRUE(finished.wait(600000)) << (failed.isEmpty() ? "timeout" : failed.first().first().toString().toStdString());
  EXPECT_TRUE(failed.isEmpty());
  ASSERT_TRUE(w.bundle().has_value());
  EXPECT_EQ(w.bundle()->numLayers(), 12);
  EXPECT_TRUE(finished.first().first().toString().startsWith(tmp.filePath(QStringLiteral("results"))));
  int populated = 0;
  bool heatmap = false;
  for (views::PlotView* v : w.plotViews()) {
    if (!v->hasData()) continue;
    ++populated;
    EXPECT_GT(v->plot()->plottableCount(), 0) << v->kind().toStdString();
    if (auto* h = qobject_cast<views::HeatmapView*>(v)) heatmap = h->colorMap() && h->colorMap()->data()->keySize() >= 12;
  }
  EXPECT_GE(populated, 4);  // profile, heatmap, scatter, redundancy
  EXPECT_TRUE(heatmap) << "no real heatmap after the first run";
}
