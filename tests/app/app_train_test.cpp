// app_tests, adapters in the GUI: the "Train on selection" panel prefilled from the linked selection and
// from stats.json top_k; a short real fine-tune of a tiny random model through the window's JobRunner (adapter
// files, one loss point per step, evaluate vs base on the kept model); an exact resume from a checkpoint; cancel
// leaving the window usable; the cost estimate before Start. The 4-way ablation panel is in app_ablation_test.cpp.
#include <gtest/gtest.h>

#include <QFile>
#include <QCheckBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <filesystem>
#include <algorithm>
#include <cmath>

#include "app/gui/ablation_panel.h"
#include "app/gui/job_runner.h"
#include "app/gui/main_window.h"
#include "app/gui/train_panel.h"
#include "results/synthetic.h"
#include "tests/app/tiny_setup.h"
#include "views/items_table_model.h"
#include "views/items_view.h"
#include "views/layer_selection.h"
#include "views/loss_curve_view.h"
#include "views/qcp.h"

namespace fs = std::filesystem;
using namespace layerscope;

namespace {

struct TrainFixture : ::testing::Test {
  QTemporaryDir tmp;
  QString model, task;
  std::unique_ptr<app::MainWindow> w;

  void SetUp() override {
    w = std::make_unique<app::MainWindow>(tmp.filePath(QStringLiteral("settings.ini")));
    w->setQuietErrors(true);
    w->show();
  }
  // Tiny random model (2 layers) with the byte tokenizer and a 6-item MC task.
  void makeModelAndTask() {
    model = tmp.filePath(QStringLiteral("tiny"));
    task = tmp.filePath(QStringLiteral("tiny.mc.jsonl"));
    apptest::writeTinyModel(model, 5);
    apptest::writeTinyTask(task);
    w->setModelDir(model);
  }
  app::TrainPanel* panel() { return w->trainPanel(); }
  void configure(const QString& out, int steps) {
    panel()->loraLayersEdit()->setText(QStringLiteral("0"));
    panel()->garfaLayersEdit()->setText(QStringLiteral("1"));
    panel()->rankSpin()->setValue(4);
    panel()->stepsSpin()->setValue(steps);
    panel()->batchSpin()->setValue(2);
    panel()->trainFileEdit()->setText(task);
    panel()->evalFileEdit()->setText(task);
    panel()->outDirEdit()->setText(out);
  }
  QString firstError(const QSignalSpy& s) { return s.isEmpty() ? QString() : s.first().last().toString(); }
};

QVector<int> jsonInts(const QJsonValue& v) {
  QVector<int> out;
  for (const auto& x : v.toArray()) out << x.toInt();
  return out;
}

}  // namespace

TEST_F(TrainFixture, PrefillsLayerSetsFromSelectionAndStats) {
  const QString results = tmp.filePath(QStringLiteral("res"));
  results::writeSyntheticResults(results.toStdString(), 16, 4);
  ASSERT_TRUE(w->openResults(results));
  // From the linked selection (Adapters > Train on selection): ranges compressed in the core layer-list syntax.
  w->selection()->setLayers({7, 1, 2, 3});
  w->showTrainPanel();
  EXPECT_TRUE(panel()->isVisible());
  EXPECT_EQ(panel()->loraLayersEdit()->text(), QStringLiteral("1-3,7"));
  EXPECT_EQ(panel()->garfaLayersEdit()->text(), QStringLiteral("1-3,7"));

  // From stats.json top_k, read here independently of the results reader.
  QFile f(results + QStringLiteral("/stats.json"));
  ASSERT_TRUE(f.open(QIODevice::ReadOnly));
  const QJsonObject topK = QJsonDocument::fromJson(f.readAll()).object().value(QStringLiteral("top_k")).toObject();
  QVector<int> sens = jsonInts(topK.value(QStringLiteral("S_sens"))), rope = jsonInts(topK.value(QStringLiteral("S_rope")));
  ASSERT_FALSE(sens.isEmpty());
  ASSERT_FALSE(rope.isEmpty());
  auto asSet = [](const QString& text) {  // expand "a-b,c" back to layers
    QVector<int> v;
    for (const QString& part : text.split(QLatin1Char(','))) {
      const QStringList ab = part.split(QLatin1Char('-'));
      for (int l = ab.first().toInt(); l <= ab.last().toInt(); ++l) v << l;
    }
    return v;
  };
  std::sort(sens.begin(), sens.end());
  std::sort(rope.begin(), rope.end());
  ASSERT_TRUE(panel()->prefillFromTopK(true));
  EXPECT_EQ(asSet(panel()->loraLayersEdit()->text()), sens);
  EXPECT_EQ(asSet(panel()->garfaLayersEdit()->text()), sens);
  ASSERT_TRUE(panel()->prefillFromTopK(false));
  EXPECT_EQ(asSet(panel()->garfaLayersEdit()->text()), rope);
  // With no selection the dock falls back to S_sens.
  w->selection()->clear();
  w->showTrainPanel();
  EXPECT_EQ(asSet(panel()->loraLayersEdit()->text()), sens);
  // The ablation panel picks the analysis folder up too.
  EXPECT_EQ(w->ablationPanel()->analysisEdit()->text(), results);
}

TEST_F(TrainFixture, ShortTrainingRunWritesAdapterShowsLossAndEvaluates) {
  makeModelAndTask();
  const QString out = tmp.filePath(QStringLiteral("adapter"));
  configure(out, 3);
  QSignalSpy done(panel(), &app::TrainPanel::trainingFinished);
  QSignalSpy failed(panel(), &app::TrainPanel::failed);
  ASSERT_TRUE(panel()->startTraining());
  // One job at a time: the analysis and the ablation wait.
  EXPECT_FALSE(w->runButton()->isEnabled());
  EXPECT_FALSE(w->startAnalysis(tmp.filePath(QStringLiteral("never"))));
  EXPECT_FALSE(w->ablationPanel()->startButton()->isEnabled());
  EXPECT_FALSE(panel()->startTraining());
  ASSERT_TRUE(done.wait(120000)) << firstError(failed).toStdString();
  EXPECT_EQ(done.first().first().toString(), out);
  for (const char* file : {"adapter_config.json", "adapter_model.safetensors", "garfa_config.json", "garfa.safetensors",
                           "train_options.json", "training_log.json"})
    EXPECT_TRUE(QFileInfo::exists(out + QLatin1Char('/') + QLatin1String(file))) << file;
  EXPECT_EQ(panel()->lossView()->pointCount(), 3);
  for (double l : panel()->lossView()->losses()) EXPECT_TRUE(std::isfinite(l) && l > 0);
  // The held-out loss on the eval file (on by default): every max(1, steps / 10) steps, so every step here.
  EXPECT_EQ(panel()->lossView()->evalSteps(), (QVector<double>{1, 2, 3}));
  for (double l : panel()->lossView()->evalLosses()) EXPECT_TRUE(std::isfinite(l) && l > 0);
  EXPECT_TRUE(panel()->lossView()->hasData());
  EXPECT_TRUE(panel()->resultLabel()->text().contains(out));
  // Opening the adapter folder shows the finished run's curves from its training_log.json (as for a CLI run):
  // the same losses and held-out points, the learning rate from the recorded schedule, and the run that was on
  // screen kept as a dashed earlier run.
  const QVector<double> trained = panel()->lossView()->losses(), heldOut = panel()->lossView()->evalLosses();
  const QVector<double> lrs = panel()->lossView()->learningRates();
  w->setAdapterDir(out);
  EXPECT_EQ(panel()->lossView()->losses(), trained);
  EXPECT_EQ(panel()->lossView()->evalLosses(), heldOut);
  ASSERT_EQ(panel()->lossView()->learningRates().size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(panel()->lossView()->learningRates()[i], lrs[i], 1e-12 * lrs[i]);
  EXPECT_EQ(panel()->lossView()->referenceRuns(), QStringList{QStringLiteral("adapter")});
  EXPECT_EQ(panel()->showTrainingRun(tmp.path()), QStringLiteral("no training_log.json"));
  EXPECT_FALSE(w->jobRunner()->isBusy());
  EXPECT_TRUE(w->runButton()->isEnabled());

  QSignalSpy evaluated(panel(), &app::TrainPanel::evaluationFinished);
  ASSERT_TRUE(panel()->startEvaluation());
  ASSERT_TRUE(evaluated.wait(120000)) << firstError(failed).toStdString();
  const auto o = evaluated.first().first().value<app::EvalOutcome>();
  EXPECT_EQ(o.items, 6);
  EXPECT_GE(o.baseAccuracy, 0.0);
  EXPECT_LE(o.adapterAccuracy, 1.0);
  EXPECT_TRUE(failed.isEmpty());
  // Item by item: both evaluations paired, their accuracies the ones reported, the flips the difference, and
  // the Items tab showing the comparison with the eval file's prompts.
  const auto& c = o.comparison;
  EXPECT_EQ(c.paired, 6);
  EXPECT_EQ(c.bothCorrect + c.onlyA + c.onlyB + c.bothWrong, 6);
  EXPECT_NEAR(c.accuracyA, o.baseAccuracy, 1e-12);
  EXPECT_NEAR(c.accuracyB, o.adapterAccuracy, 1e-12);
  EXPECT_EQ(c.onlyB - c.onlyA, int(std::lround(6 * (o.adapterAccuracy - o.baseAccuracy))));
  EXPECT_GE(c.mcnemarP, 0.0);
  EXPECT_LE(c.mcnemarP, 1.0);
  EXPECT_LE(c.ci.low, c.difference);
  EXPECT_GE(c.ci.high, c.difference);
  ASSERT_EQ(o.baseItems.items.size(), 6u);
  EXPECT_FALSE(o.baseItems.items.front().prompt.empty()) << o.baseItems.promptNote;
  auto* itemsView = w->findChild<views::ItemsView*>();
  ASSERT_NE(itemsView, nullptr);
  ASSERT_TRUE(itemsView->model()->comparison().has_value());
  EXPECT_EQ(itemsView->model()->rowCount(), 6);
  EXPECT_NE(itemsView->summaryText().indexOf(QStringLiteral("McNemar")), -1);
  EXPECT_TRUE(panel()->evalResultLabel()->text().contains(QStringLiteral("McNemar")));
}

TEST_F(TrainFixture, ResumeFromCheckpointReproducesTheLossCurve) {
  makeModelAndTask();
  const QString out = tmp.filePath(QStringLiteral("resumed"));
  configure(out, 4);
  // Checkpoints every 2 steps: after the run, drop the step-4 checkpoint and the final log so the folder looks
  // like a run killed after step 2; Resume must replay steps 3-4 to exactly the same losses (CPU, float32).
  panel()->checkpointEverySpin()->setValue(2);
  QSignalSpy done(panel(), &app::TrainPanel::trainingFinished);
  QSignalSpy failed(panel(), &app::TrainPanel::failed);
  ASSERT_TRUE(panel()->startTraining());
  ASSERT_TRUE(done.wait(120000)) << firstError(failed).toStdString();
  const QVector<double> first = panel()->lossView()->losses();
  const QVector<double> firstHeldOut = panel()->lossView()->evalLosses();
  ASSERT_EQ(first.size(), 4);
  ASSERT_EQ(firstHeldOut.size(), 4);
  ASSERT_TRUE(QDir(out + QStringLiteral("/checkpoints/step-00000004")).removeRecursively());
  ASSERT_TRUE(QFile::remove(out + QStringLiteral("/training_log.json")));
  ASSERT_TRUE(QFileInfo::exists(out + QStringLiteral("/checkpoints/step-00000002/manifest.json")));
  // The Resume button follows what --resume would pick: a damaged newer step folder (no manifest) and other
  // folders named step-* do not count, the intact step-2 does.
  const QString ck = out + QStringLiteral("/checkpoints");
  ASSERT_TRUE(QDir().mkpath(ck + QStringLiteral("/step-00000009")));
  ASSERT_TRUE(QDir().mkpath(ck + QStringLiteral("/step-final")));
  ASSERT_TRUE(QDir().rename(ck + QStringLiteral("/step-00000002"), out + QStringLiteral("/aside")));
  panel()->outDirEdit()->setText(QString());
  panel()->outDirEdit()->setText(out);
  EXPECT_FALSE(panel()->resumeButton()->isEnabled()) << "only damaged or misnamed step folders";
  ASSERT_TRUE(QDir().rename(out + QStringLiteral("/aside"), ck + QStringLiteral("/step-00000002")));
  panel()->outDirEdit()->setText(QString());
  panel()->outDirEdit()->setText(out);
  // Resume takes the recorded options even when the panel shows others.
  panel()->stepsSpin()->setValue(50);
  panel()->loraLayersEdit()->setText(QStringLiteral("1"));
  ASSERT_TRUE(panel()->resumeButton()->isEnabled());
  ASSERT_TRUE(panel()->startTraining(true));
  ASSERT_TRUE(done.wait(120000)) << firstError(failed).toStdString();
  EXPECT_EQ(panel()->stepsSpin()->value(), 4);
  EXPECT_EQ(panel()->loraLayersEdit()->text(), QStringLiteral("0"));
  EXPECT_EQ(panel()->lossView()->losses(), first);
  EXPECT_EQ(panel()->lossView()->evalLosses(), firstHeldOut) << "the held-out points of steps 1-2 come from the checkpoint";
  EXPECT_TRUE(QFileInfo::exists(out + QStringLiteral("/training_log.json")));
}

TEST_F(TrainFixture, CancelLeavesWindowUsable) {
  makeModelAndTask();
  const QString out = tmp.filePath(QStringLiteral("cancelled"));
  configure(out, 100000);
  QSignalSpy cancelled(panel(), &app::TrainPanel::trainingCancelled);
  QSignalSpy failed(panel(), &app::TrainPanel::failed);
  ASSERT_TRUE(panel()->startTraining());
  EXPECT_TRUE(panel()->cancelButton()->isEnabled());
  // Cancel once training is under way (a loss point has arrived), so the stop lands between steps.
  ASSERT_TRUE(QTest::qWaitFor([&] { return panel()->lossView()->pointCount() > 0 || !failed.isEmpty(); }, 120000));
  ASSERT_TRUE(failed.isEmpty()) << firstError(failed).toStdString();
  panel()->cancel();
  ASSERT_TRUE(cancelled.wait(60000)) << firstError(failed).toStdString();
  EXPECT_FALSE(panel()->isRunning());
  EXPECT_TRUE(panel()->startButton()->isEnabled());
  EXPECT_FALSE(panel()->cancelButton()->isEnabled());
  EXPECT_TRUE(w->runButton()->isEnabled());
  EXPECT_TRUE(w->ablationPanel()->startButton()->isEnabled());
  EXPECT_FALSE(QFileInfo::exists(out + QStringLiteral("/training_log.json")));  // not a finished run
  EXPECT_TRUE(failed.isEmpty());
  // Still usable: a new short run into a new folder completes.
  configure(tmp.filePath(QStringLiteral("after-cancel")), 2);
  QSignalSpy done(panel(), &app::TrainPanel::trainingFinished);
  ASSERT_TRUE(panel()->startTraining());
  ASSERT_TRUE(done.wait(120000)) << firstError(failed).toStdString();
  EXPECT_EQ(panel()->lossView()->pointCount(), 2);
}

TEST_F(TrainFixture, LossCurveKeepsTheEarlierRunShowsTheLearningRateAndSmooths) {
  makeModelAndTask();
  QSignalSpy done(panel(), &app::TrainPanel::trainingFinished);
  QSignalSpy failed(panel(), &app::TrainPanel::failed);
  configure(tmp.filePath(QStringLiteral("first")), 3);
  ASSERT_TRUE(panel()->startTraining());
  ASSERT_TRUE(done.wait(120000)) << firstError(failed).toStdString();
  const QVector<double> first = panel()->lossView()->losses();
  // Every step reported its learning rate: the lr curve is on the right-hand axis.
  EXPECT_TRUE(panel()->lossView()->plot()->yAxis2->visible());
  configure(tmp.filePath(QStringLiteral("second")), 3);
  ASSERT_TRUE(panel()->startTraining());
  ASSERT_TRUE(done.wait(120000)) << firstError(failed).toStdString();
  // The first run stays on the axes as a dashed earlier run, named by its folder.
  EXPECT_EQ(panel()->lossView()->referenceRuns(), QStringList{QStringLiteral("first")});
  EXPECT_EQ(panel()->lossView()->plot()->graph(0)->name(), QStringLiteral("first"));
  ASSERT_EQ(panel()->lossView()->plot()->graph(0)->dataCount(), first.size());
  EXPECT_DOUBLE_EQ(panel()->lossView()->plot()->graph(0)->data()->at(2)->value, first[2]);
  panel()->smoothingSpin()->setValue(0.5);
  EXPECT_DOUBLE_EQ(panel()->lossView()->smoothing(), 0.5);
  panel()->logScaleBox()->setChecked(true);
  EXPECT_TRUE(panel()->lossView()->logScale());
  EXPECT_EQ(panel()->lossView()->plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
}

// Estimate (issue 14): the dock's fine-tune costed before Start, as `train --dry-run` prints it (peak resident memory
// and time from layer rates measured here), with no output folder needed; a configuration the plan refuses shows
// the reason where the estimate goes, and the window stays usable.
TEST_F(TrainFixture, EstimateShowsPeakMemoryAndTimeBeforeStart) {
  makeModelAndTask();
  configure(QString(), 5);
  QSignalSpy shown(panel(), &app::TrainPanel::estimateShown);
  ASSERT_TRUE(panel()->startEstimate());
  EXPECT_FALSE(panel()->startTraining()) << "one job at a time";
  ASSERT_TRUE(shown.wait(60000));
  EXPECT_TRUE(shown.first().first().toBool()) << panel()->estimateText().toStdString();
  const QString text = panel()->estimateText();
  EXPECT_TRUE(text.contains(QStringLiteral("peak resident memory"))) << text.toStdString();
  EXPECT_TRUE(text.contains(QStringLiteral("5 steps"))) << text.toStdString();
  EXPECT_TRUE(panel()->startButton()->isEnabled());
  panel()->loraLayersEdit()->setText(QStringLiteral("none"));
  panel()->garfaLayersEdit()->setText(QStringLiteral("none"));
  ASSERT_TRUE(panel()->startEstimate());
  ASSERT_TRUE(shown.wait(60000));
  EXPECT_FALSE(shown.last().first().toBool());
  EXPECT_TRUE(panel()->estimateText().contains(QStringLiteral("both layer sets are empty"))) << panel()->estimateText().toStdString();
  EXPECT_TRUE(panel()->estimateButton()->isEnabled());
}

// Cancel during the estimate: no estimate and no estimateShown, the status says it was cancelled, the dock is
// usable again (Start and Estimate enabled, Cancel not).
TEST_F(TrainFixture, CancelledEstimateShowsNothingAndFreesTheDock) {
  makeModelAndTask();
  configure(QString(), 5);
  QSignalSpy shown(panel(), &app::TrainPanel::estimateShown);
  ASSERT_TRUE(panel()->startEstimate());
  ASSERT_TRUE(panel()->cancelButton()->isEnabled());
  panel()->cancelButton()->click();  // before the outcome reaches the dock: the cancel wins
  EXPECT_FALSE(panel()->cancelButton()->isEnabled()) << "cancel is asked once";
  ASSERT_TRUE(QTest::qWaitFor([&] { return panel()->startButton()->isEnabled(); }, 60000));
  QCoreApplication::processEvents();
  EXPECT_EQ(shown.count(), 0);
  EXPECT_TRUE(panel()->estimateText().isEmpty()) << panel()->estimateText().toStdString();
  EXPECT_EQ(panel()->statusLabel()->text(), QStringLiteral("Estimate cancelled."));
  EXPECT_TRUE(panel()->estimateButton()->isEnabled());
  EXPECT_FALSE(panel()->cancelButton()->isEnabled());
  ASSERT_TRUE(panel()->startEstimate());
  ASSERT_TRUE(shown.wait(60000));
  EXPECT_TRUE(shown.first().first().toBool()) << panel()->estimateText().toStdString();
}
