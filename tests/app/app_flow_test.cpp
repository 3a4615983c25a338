// app_tests, the flow from an analysis to adapters (issue 18, "Flow"): the training and ablation docks default to
// the task and top-k layer sets of the analysis on screen until the user edits an input (kept in sessions), with
// a warning while the train file is also an eval file; a trained adapter is analysed again in one click (the
// analysis on screen with the adapter applied) and the Runs tab then compares base and adapted results.
#include <gtest/gtest.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>

#include "app/gui/ablation_panel.h"
#include "app/gui/analysis_panel.h"
#include "app/gui/main_window.h"
#include "app/gui/results_area.h"
#include "app/gui/session.h"
#include "app/gui/train_panel.h"
#include "results/synthetic.h"
#include "tests/app/tiny_setup.h"
#include "views/heatmap_view.h"
#include "views/items_table_model.h"
#include "views/items_view.h"
#include "views/layer_selection.h"
#include "views/runs_view.h"

using namespace layerscope;

namespace {

QJsonObject readJson(const QString& file) {
  QFile f(file);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return QJsonDocument::fromJson(f.readAll()).object();
}

void writeJson(const QString& file, const QJsonObject& o) {
  QFile f(file);
  ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
  f.write(QJsonDocument(o).toJson());
}

/// Synthetic results whose scores.json names `task` (a real file) as the analysed task.
void writeResultsOfTask(const QString& dir, int layers, unsigned seed, const QString& task) {
  results::writeSyntheticResults(dir.toStdString(), layers, 4, seed);
  QJsonObject scores = readJson(dir + QStringLiteral("/scores.json"));
  QJsonObject t = scores.value(QStringLiteral("task")).toObject();
  t.insert(QStringLiteral("path"), task);
  scores.insert(QStringLiteral("task"), t);
  writeJson(dir + QStringLiteral("/scores.json"), scores);
}

/// stats.json top_k.S_sens / S_rope, read here independently of the results reader, sorted.
QVector<int> topK(const QString& dir, const char* key) {
  QVector<int> v;
  for (const auto& x : readJson(dir + QStringLiteral("/stats.json")).value(QStringLiteral("top_k")).toObject().value(QLatin1String(key)).toArray())
    v << x.toInt();
  std::sort(v.begin(), v.end());
  return v;
}

/// "a-b,c" back to layers.
QVector<int> layersOf(const QString& text) {
  QVector<int> v;
  for (const QString& part : text.split(QLatin1Char(','))) {
    const QStringList ab = part.split(QLatin1Char('-'));
    for (int l = ab.first().toInt(); l <= ab.last().toInt(); ++l) v << l;
  }
  return v;
}

/// Replaces the text as a user would: select all, type.
void typeInto(QLineEdit* e, const QString& text) {
  e->selectAll();
  QTest::keyClicks(e, text);
}

QString canonical(const QString& path) { return QFileInfo(path).canonicalFilePath(); }

/// Runs the event loop until `done` has a signal or `errors` one (a failure ends the wait at once).
bool waitFor(const QSignalSpy& done, const QSignalSpy& errors, int ms) {
  for (QElapsedTimer t; t.isValid() ? t.elapsed() < ms : (t.start(), true);) {
    if (!done.isEmpty()) return true;
    if (!errors.isEmpty()) return false;
    QTest::qWait(20);
  }
  return !done.isEmpty();
}

}  // namespace

TEST(Flow, TrainingAndAblationDefaultToTheAnalysisOnScreenUntilEdited) {
  QTemporaryDir tmp;
  const QString taskA = tmp.filePath(QStringLiteral("a.mc.jsonl")), taskB = tmp.filePath(QStringLiteral("b.mc.jsonl")),
                taskC = tmp.filePath(QStringLiteral("c.mc.jsonl"));
  for (const QString& t : {taskA, taskB, taskC}) apptest::writeTinyTask(t);
  const QString resA = tmp.filePath(QStringLiteral("resA")), resB = tmp.filePath(QStringLiteral("resB"));
  writeResultsOfTask(resA, 16, 7, taskA);
  writeResultsOfTask(resB, 12, 11, taskB);
  ASSERT_NE(topK(resA, "S_rope"), topK(resB, "S_rope"));
  ASSERT_NE(topK(resA, "S_sens"), topK(resA, "S_rope"));

  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  w.setQuietErrors(true);
  w.show();
  app::TrainPanel* train = w.trainPanel();
  app::AblationPanel* ablation = w.ablationPanel();

  // The analysis on screen fills the inputs: its task, LS-LoRA on S_sens, GARFA on S_rope, its folder.
  ASSERT_TRUE(w.openResults(resA));
  EXPECT_EQ(train->trainFileEdit()->text(), taskA);
  EXPECT_EQ(layersOf(train->loraLayersEdit()->text()), topK(resA, "S_sens"));
  EXPECT_EQ(layersOf(train->garfaLayersEdit()->text()), topK(resA, "S_rope"));
  EXPECT_EQ(ablation->analysisEdit()->text(), resA);
  EXPECT_EQ(ablation->trainEdit()->text(), taskA);
  // The training dock opened without a selection keeps those sets.
  w.showTrainPanel();
  EXPECT_EQ(layersOf(train->garfaLayersEdit()->text()), topK(resA, "S_rope"));

  // Train and eval files distinct: a warning while they are the same file, in both docks.
  train->evalFileEdit()->setText(taskB);
  EXPECT_TRUE(train->sameFileWarning()->isHidden());
  train->evalFileEdit()->setText(taskA);
  EXPECT_FALSE(train->sameFileWarning()->isHidden());
  ablation->evalEdit()->setText(taskB);
  EXPECT_TRUE(ablation->sameFileWarning()->isHidden());
  // One of several eval files, spelled differently: compared after resolving the path.
  ablation->evalEdit()->setText(taskB + QStringLiteral(", ") + tmp.path() + QStringLiteral("/./a.mc.jsonl"));
  EXPECT_FALSE(ablation->sameFileWarning()->isHidden());
  EXPECT_TRUE(ablation->sameFileWarning()->isVisibleTo(ablation));

  // What the user edits stays when another analysis comes on screen; the rest follows it.
  typeInto(train->loraLayersEdit(), QStringLiteral("0-1"));
  typeInto(ablation->trainEdit(), taskC);
  EXPECT_TRUE(train->isUserSet(train->loraLayersEdit()));
  EXPECT_FALSE(train->isUserSet(train->garfaLayersEdit()));
  ASSERT_TRUE(w.openResults(resB));
  EXPECT_EQ(train->loraLayersEdit()->text(), QStringLiteral("0-1"));
  EXPECT_EQ(layersOf(train->garfaLayersEdit()->text()), topK(resB, "S_rope"));
  EXPECT_EQ(train->trainFileEdit()->text(), taskB);
  EXPECT_EQ(ablation->analysisEdit()->text(), resB);
  EXPECT_EQ(ablation->trainEdit()->text(), taskC);
  // The selection fills only the unedited set when the dock opens.
  w.selection()->setLayers({3, 4});
  w.showTrainPanel();
  EXPECT_EQ(train->loraLayersEdit()->text(), QStringLiteral("0-1"));
  EXPECT_EQ(train->garfaLayersEdit()->text(), QStringLiteral("3-4"));

  // Sessions keep which inputs the user chose.
  const QString file = tmp.filePath(QStringLiteral("flow.lssession"));
  app::saveSession(w.currentSession(), file);
  app::MainWindow w2(tmp.filePath(QStringLiteral("settings2.ini")));
  w2.setQuietErrors(true);
  EXPECT_TRUE(w2.applySession(app::loadSession(file)).isEmpty());
  EXPECT_EQ(w2.trainPanel()->loraLayersEdit()->text(), QStringLiteral("0-1"));
  ASSERT_TRUE(w2.openResults(resA));
  EXPECT_EQ(w2.trainPanel()->loraLayersEdit()->text(), QStringLiteral("0-1"));
  EXPECT_EQ(layersOf(w2.trainPanel()->garfaLayersEdit()->text()), topK(resA, "S_rope"));
  EXPECT_EQ(w2.trainPanel()->trainFileEdit()->text(), taskA);
  EXPECT_EQ(w2.ablationPanel()->trainEdit()->text(), taskC);
  EXPECT_EQ(w2.ablationPanel()->analysisEdit()->text(), resA);
}

// About 3 s on 2 CPU cores: two analyses and a 2-step fine-tune of a tiny random model.
TEST(Flow, TrainedAdapterIsAnalysedInOneClickAndComparedWithTheBase) {
  QTemporaryDir tmp;
  const QString ini = tmp.filePath(QStringLiteral("settings.ini"));
  {
    QSettings s(ini, QSettings::IniFormat);  // new results go under the test's folder, not the user's
    s.setValue(QStringLiteral("resultsRoot"), tmp.filePath(QStringLiteral("results")));
  }
  const QString model = tmp.filePath(QStringLiteral("tiny"));
  core::writeRandomCheckpoint(model.toStdString(), core::presetConfig("tiny"), {.seed = 3, .weightStd = 0.3});
  core::writeByteLevelTokenizer(model.toStdString());
  const QString task = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/copy.mc.jsonl");
  app::MainWindow w(ini);
  w.setQuietErrors(true);
  w.show();
  w.setModelDir(model);
  w.addTaskFile(task);
  w.analysisPanel()->applyOptionsJson({{QStringLiteral("bootstrap"), 20}});
  app::TrainPanel* train = w.trainPanel();
  EXPECT_FALSE(train->analyseButton()->isEnabled());  // no analysis, no adapter

  QSignalSpy finished(&w, &app::MainWindow::analysisFinished);
  QSignalSpy failed(&w, &app::MainWindow::errorShown);
  auto firstError = [&] { return failed.isEmpty() ? std::string("timeout") : failed.first().first().toString().toStdString(); };
  const QString base = tmp.filePath(QStringLiteral("base"));
  ASSERT_TRUE(w.startAnalysis(base));
  ASSERT_TRUE(waitFor(finished, failed, 180000)) << firstError();
  // The training dock took the analysis's task; an analysis without an adapter trained here offers no re-analysis.
  EXPECT_EQ(canonical(train->trainFileEdit()->text()), canonical(task));
  EXPECT_FALSE(train->analyseButton()->isEnabled());

  const QString adapter = tmp.filePath(QStringLiteral("adapter"));
  train->rankSpin()->setValue(4);
  train->stepsSpin()->setValue(2);
  train->batchSpin()->setValue(2);
  train->outDirEdit()->setText(adapter);
  QSignalSpy trained(train, &app::TrainPanel::trainingFinished);
  ASSERT_TRUE(train->startTraining());
  ASSERT_TRUE(waitFor(trained, failed, 120000)) << firstError();
  ASSERT_TRUE(train->analyseButton()->isEnabled());

  // One click: the same analysis with the adapter, then base (A) against adapted (B) in the Runs tab.
  QSignalSpy compared(&w, &app::MainWindow::adapterComparisonShown);
  train->analyseButton()->click();
  EXPECT_FALSE(train->analyseButton()->isEnabled());  // one job at a time
  ASSERT_TRUE(waitFor(compared, failed, 180000)) << firstError();
  EXPECT_EQ(compared.first().at(0).toString(), base);
  const QString adapted = compared.first().at(1).toString();
  EXPECT_TRUE(adapted.startsWith(tmp.filePath(QStringLiteral("results/"))));
  EXPECT_TRUE(failed.isEmpty()) << firstError();

  // The adapted run is the base analysis (same model, task and every recorded option) with the adapter applied.
  const QJsonObject sb = readJson(base + QStringLiteral("/scores.json")), sa = readJson(adapted + QStringLiteral("/scores.json"));
  ASSERT_FALSE(sa.isEmpty());
  EXPECT_EQ(sa.value(QStringLiteral("options")), sb.value(QStringLiteral("options")));
  EXPECT_EQ(sa.value(QStringLiteral("task")).toObject().value(QStringLiteral("path")),
            sb.value(QStringLiteral("task")).toObject().value(QStringLiteral("path")));
  EXPECT_EQ(sa.value(QStringLiteral("model")).toObject().value(QStringLiteral("path")),
            sb.value(QStringLiteral("model")).toObject().value(QStringLiteral("path")));
  const QJsonValue baseAdapter = sb.value(QStringLiteral("model")).toObject().value(QStringLiteral("adapter"));
  EXPECT_TRUE(baseAdapter.isNull() || baseAdapter.isUndefined() || baseAdapter.toObject().isEmpty());
  EXPECT_EQ(canonical(sa.value(QStringLiteral("model")).toObject().value(QStringLiteral("adapter")).toObject().value(QStringLiteral("path")).toString()),
            canonical(adapter));

  // The comparison view: the Runs tab on the two runs, the difference heatmap B - A drawn, the items paired.
  app::ResultsArea* area = w.resultsArea();
  views::RunsView* runs = area->runsView();
  EXPECT_EQ(area->currentWidget(), runs);
  const QString la = QFileInfo(base).fileName(), lb = QFileInfo(adapted).fileName();
  EXPECT_EQ(runs->checkedRuns().size(), 2);
  EXPECT_TRUE(runs->checkedRuns().contains(la));
  EXPECT_TRUE(runs->checkedRuns().contains(lb));
  EXPECT_EQ(runs->differenceRunA(), la);
  EXPECT_EQ(runs->differenceRunB(), lb);
  EXPECT_TRUE(runs->difference()->hasData()) << runs->differenceNote().toStdString();
  ASSERT_TRUE(area->itemsView()->model()->comparison().has_value());
  EXPECT_EQ(area->itemsView()->model()->comparison()->paired,
            sb.value(QStringLiteral("task")).toObject().value(QStringLiteral("items")).toInt());
  // The adapted analysis is the one on screen now, the base stays in the run list.
  ASSERT_TRUE(w.bundle().has_value());
  EXPECT_EQ(canonical(QString::fromStdString(w.bundle()->dir.string())), canonical(adapted));
  EXPECT_TRUE(area->runFolders().contains(base));
}
