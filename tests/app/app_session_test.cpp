// app_tests, Session (main() is in app_test.cpp): a session saved from a window with every dock changed from its
// defaults restores into a fresh MainWindow with the same value in every widget (the selected task, the training
// and ablation inputs and loss curves, the trained adapters, the results shown, the Runs list with its checked
// runs and A / B, the figure toolbar, the tab, the docks, the selection); a malformed session file is one error
// naming the file and the key; File > Recent Sessions lists saved sessions; the last session reopens at start.
#include <gtest/gtest.h>

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTemporaryDir>

#include "app/gui/ablation_panel.h"
#include "app/gui/app_settings.h"
#include "app/gui/inputs_panel.h"
#include "app/gui/main_window.h"
#include "app/gui/results_area.h"
#include "app/gui/train_panel.h"
#include "results/synthetic.h"
#include "views/layer_selection.h"
#include "views/loss_curve_view.h"
#include "views/runs_view.h"

using namespace layerscope;

namespace {

struct SessionFixture : ::testing::Test {
  QTemporaryDir tmp;
  QString a, b, c, t1, t2;
  void SetUp() override {
    a = tmp.filePath(QStringLiteral("base/res"));
    b = tmp.filePath(QStringLiteral("adapted/res"));
    c = tmp.filePath(QStringLiteral("other"));
    results::writeSyntheticResults(a.toStdString(), 12, 2, 1);
    results::writeSyntheticResults(b.toStdString(), 12, 2, 2);
    results::writeSyntheticResults(c.toStdString(), 12, 2, 3);
    t1 = tmp.filePath(QStringLiteral("one.mc.jsonl"));
    t2 = tmp.filePath(QStringLiteral("two.mc.jsonl"));
    for (const QString& t : {t1, t2}) {
      QFile f(t);
      f.open(QIODevice::WriteOnly);
    }
  }
  std::unique_ptr<app::MainWindow> window(const QString& settings = QStringLiteral("settings.ini")) {
    auto w = std::make_unique<app::MainWindow>(tmp.filePath(settings));
    w->setQuietErrors(true);
    return w;
  }
  /// Every dock, the Runs list, the toolbar and the selection away from their defaults.
  void changeEverything(app::MainWindow& w) {
    w.addTaskFile(t1);
    w.addTaskFile(t2);
    w.inputsPanel()->selectTask(t1);  // not the last one added
    ASSERT_TRUE(w.openResults(c));    // joins the Runs list only: b replaces it on screen
    ASSERT_TRUE(w.openResults(a));
    ASSERT_TRUE(w.openResults(b, true));
    app::TrainPanel* t = w.trainPanel();
    w.showTrainPanel();
    t->loraLayersEdit()->setText(QStringLiteral("3-5"));
    t->garfaLayersEdit()->setText(QStringLiteral("7"));
    t->stepsSpin()->setValue(37);
    t->batchSpin()->setValue(3);
    t->rankSpin()->setValue(4);
    t->checkpointEverySpin()->setValue(9);
    t->trainFileEdit()->setText(t1);
    t->evalFileEdit()->setText(t2);
    t->outDirEdit()->setText(tmp.filePath(QStringLiteral("adapter")));
    t->smoothingSpin()->setValue(0.6);
    t->logScaleBox()->setChecked(true);
    t->lossView()->addReferenceRun(QStringLiteral("earlier"), {1, 2}, {3.0, 2.5});
    t->lossView()->setData({1, 2, 3}, {2.0, 1.5, 1.25}, 37);
    app::AblationPanel* ab = w.ablationPanel();
    w.showAblationPanel();
    ab->stepsSpin()->setValue(11);
    ab->controlSeedsSpin()->setValue(5);
    ab->dtypeCombo()->setCurrentIndex(1);
    ab->evalEdit()->setText(t1 + QLatin1Char(',') + t2);
    ab->analysisEdit()->setText(a);
    app::ResultsArea* area = w.resultsArea();
    QComboBox* metric = area->profileMetricCombo();
    ASSERT_GT(metric->count(), 2);
    metric->setCurrentIndex(metric->count() - 1);
    views::RunsView* runs = area->runsView();
    ASSERT_EQ(runs->runLabels().size(), 3);
    runs->setChecked(runs->runLabels()[1], false);
    runs->setDifferenceRuns(runs->runLabels()[2], runs->runLabels()[0]);
    runs->keyCombo()->setCurrentIndex(runs->keyCombo()->count() - 1);
    area->setCurrentWidget(runs);
    w.selection()->setLayers({4, 5});
  }
};

QJsonObject readJson(const QString& file) {
  QFile f(file);
  f.open(QIODevice::ReadOnly);
  return QJsonDocument::fromJson(f.readAll()).object();
}

}  // namespace

TEST_F(SessionFixture, EveryWidgetValueComesBackInAFreshWindow) {
  auto w = window();
  changeEverything(*w);
  const QString file = tmp.filePath(QStringLiteral("s.lssession"));
  ASSERT_TRUE(w->saveSessionFile(file));
  const QJsonObject saved = readJson(file);
  EXPECT_EQ(saved.value(QStringLiteral("format")).toString(), QStringLiteral("layerscope.session/2"));

  auto w2 = window(QStringLiteral("settings2.ini"));
  QSignalSpy errors(w2.get(), &app::MainWindow::errorShown);
  ASSERT_TRUE(w2->openSessionFile(file));
  EXPECT_EQ(errors.count(), 0) << (errors.isEmpty() ? "" : errors.first().first().toString().toStdString());
  // The whole session as the new window sees it equals the one saved: every key, every widget.
  const QJsonObject restored = w2->currentSession().toJson();
  for (auto it = saved.begin(); it != saved.end(); ++it)
    EXPECT_EQ(restored.value(it.key()), it.value()) << it.key().toStdString() << ": saved "
        << QJsonDocument(QJsonObject{{it.key(), it.value()}}).toJson(QJsonDocument::Compact).toStdString() << ", restored "
        << QJsonDocument(QJsonObject{{it.key(), restored.value(it.key())}}).toJson(QJsonDocument::Compact).toStdString();
  // And spelled out for the values changed above (none of them is a default).
  EXPECT_EQ(w2->inputsPanel()->currentTask(), t1);
  EXPECT_EQ(w2->inputsPanel()->taskFiles(), (QStringList{t1, t2}));
  EXPECT_EQ(w2->resultsArea()->dirs(), (QStringList{a, b}));
  app::TrainPanel* t = w2->trainPanel();
  EXPECT_EQ(t->loraLayersEdit()->text(), QStringLiteral("3-5"));
  EXPECT_EQ(t->garfaLayersEdit()->text(), QStringLiteral("7"));
  EXPECT_EQ(t->stepsSpin()->value(), 37);
  EXPECT_EQ(t->batchSpin()->value(), 3);
  EXPECT_EQ(t->rankSpin()->value(), 4);
  EXPECT_EQ(t->checkpointEverySpin()->value(), 9);
  EXPECT_EQ(t->evalFileEdit()->text(), t2);
  EXPECT_DOUBLE_EQ(t->smoothingSpin()->value(), 0.6);
  EXPECT_DOUBLE_EQ(t->lossView()->smoothing(), 0.6);  // the view follows the restored input
  EXPECT_TRUE(t->lossView()->logScale());
  EXPECT_EQ(t->lossView()->losses(), (QVector<double>{2.0, 1.5, 1.25}));
  EXPECT_EQ(t->lossView()->referenceRuns(), QStringList{QStringLiteral("earlier")});
  app::AblationPanel* ab = w2->ablationPanel();
  EXPECT_EQ(ab->stepsSpin()->value(), 11);
  EXPECT_EQ(ab->controlSeedsSpin()->value(), 5);
  EXPECT_EQ(ab->dtypeCombo()->currentText(), QStringLiteral("bfloat16"));
  EXPECT_EQ(ab->analysisEdit()->text(), a);  // not the folder the results prefill
  views::RunsView* runs = w2->resultsArea()->runsView();
  EXPECT_EQ(runs->runLabels(), w->resultsArea()->runsView()->runLabels());
  EXPECT_EQ(w2->resultsArea()->runFolders(), (QStringList{c, a, b}));
  EXPECT_EQ(runs->checkedRuns().size(), 2);
  EXPECT_EQ(runs->differenceRunA(), runs->runLabels()[2]);
  EXPECT_EQ(w2->tabs()->currentWidget(), runs);
  EXPECT_FALSE(w2->findChild<QDockWidget*>(QStringLiteral("trainDock"))->isHidden());
  EXPECT_FALSE(w2->findChild<QDockWidget*>(QStringLiteral("ablationDock"))->isHidden());
  EXPECT_EQ(w2->selection()->layers(), (QVector<int>{4, 5}));
}

TEST_F(SessionFixture, TrainingWarnsWhileTrainAndEvalAreTheSameFile) {
  auto w = window();
  app::TrainPanel* t = w->trainPanel();
  auto* warning = t->findChild<QLabel*>(QStringLiteral("sameFileWarning"));
  ASSERT_NE(warning, nullptr);
  t->trainFileEdit()->setText(t1);
  t->evalFileEdit()->setText(t2);
  EXPECT_TRUE(warning->isHidden());
  t->evalFileEdit()->setText(tmp.path() + QStringLiteral("/./one.mc.jsonl"));  // the same file, spelled differently
  EXPECT_FALSE(warning->isHidden());
  t->trainFileEdit()->setText(t2);
  EXPECT_TRUE(warning->isHidden());
}

TEST_F(SessionFixture, MalformedFilesAreOneErrorNamingTheFileAndTheKey) {
  auto w = window();
  QSignalSpy errors(w.get(), &app::MainWindow::errorShown);
  auto write = [&](const QString& name, const QByteArray& text) {
    const QString f = tmp.filePath(name);
    QFile out(f);
    out.open(QIODevice::WriteOnly);
    out.write(text);
    return f;
  };
  // A key of the wrong type: nothing is applied.
  const QString typed = write(QStringLiteral("typed.lssession"), R"({"format": "layerscope.session/2", "tasks": "one.jsonl"})");
  EXPECT_FALSE(w->openSessionFile(typed));
  ASSERT_EQ(errors.count(), 1);
  QString m = errors.takeFirst().first().toString();
  EXPECT_TRUE(m.contains(QStringLiteral("typed.lssession")) && m.contains(QStringLiteral("'tasks'")) &&
              m.contains(QStringLiteral("array")))
      << m.toStdString();
  const QString format = write(QStringLiteral("format.lssession"), R"({"format": "something/9"})");
  EXPECT_FALSE(w->openSessionFile(format));
  m = errors.takeFirst().first().toString();
  EXPECT_TRUE(m.contains(QStringLiteral("format.lssession")) && m.contains(QStringLiteral("'format'"))) << m.toStdString();
  const QString truncated = write(QStringLiteral("cut.lssession"), R"({"format": "layerscope.sess)");
  EXPECT_FALSE(w->openSessionFile(truncated));
  m = errors.takeFirst().first().toString();
  EXPECT_TRUE(m.contains(QStringLiteral("cut.lssession")) && m.contains(QStringLiteral("JSON"))) << m.toStdString();
  // Values a widget cannot take: the rest is applied, one message names the file and each key.
  const QString values = write(QStringLiteral("values.lssession"),
                               R"({"format": "layerscope.session/2", "selection": [2],
                                   "train": {"steps": "many", "rank": 4, "dtype": "float8"},
                                   "ablation": {"steps": -3, "control_seeds": 2}})");
  EXPECT_TRUE(w->openSessionFile(values));
  ASSERT_EQ(errors.count(), 1);
  m = errors.takeFirst().first().toString();
  for (const char* part : {"values.lssession", "train.steps: expected an integer", "train.dtype: 'float8' is not one of",
                           "ablation.steps: -3 is outside"})
    EXPECT_TRUE(m.contains(QLatin1String(part))) << part << " in " << m.toStdString();
  EXPECT_EQ(w->trainPanel()->rankSpin()->value(), 4);
  EXPECT_EQ(w->trainPanel()->stepsSpin()->value(), 200);  // left as it was
  EXPECT_EQ(w->ablationPanel()->controlSeedsSpin()->value(), 2);
  EXPECT_EQ(w->selection()->layers(), QVector<int>{2});
}

TEST_F(SessionFixture, RecentSessionsMenuAndReopenLastAtStart) {
  {
    auto w = window();
    w->openResults(a);
    w->selection()->setLayers({1, 3});
    ASSERT_TRUE(w->saveSessionFile(tmp.filePath(QStringLiteral("first.lssession"))));
    ASSERT_TRUE(w->saveSessionFile(tmp.filePath(QStringLiteral("second.lssession"))));
    QStringList titles;
    for (QAction* act : w->recentSessionsMenu()->actions()) titles << act->text();
    EXPECT_EQ(titles, (QStringList{QStringLiteral("second.lssession"), QStringLiteral("first.lssession")}));
    EXPECT_FALSE(w->appSettings()->reopenLastSession());  // off by default
    w->appSettings()->setReopenLastSession(true);
    w->selection()->setLayers({2, 6});
    w->close();  // writes last.lssession beside the settings
  }
  auto w = window();
  EXPECT_EQ(w->recentSessionsMenu()->actions().size(), 2);  // kept in the settings
  ASSERT_TRUE(w->reopenLastSession());
  EXPECT_EQ(w->resultsArea()->dirs(), QStringList{a});
  EXPECT_EQ(w->selection()->layers(), (QVector<int>{2, 6}));
  w->appSettings()->setReopenLastSession(false);
  EXPECT_FALSE(window()->reopenLastSession());
}
