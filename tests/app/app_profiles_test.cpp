// app_tests, ExtraProfiles (main() and the QApplication are in app_test.cpp): the GUI is generic over the
// registry of extra per-layer profiles (analysis/profile_registry.h) and over layer_scores keys. The analysis
// panel shows one checkbox per registered profile and a co-localization pair, both feeding the AnalyzeRequest and
// the session; the results' Profile combo lists every layer_scores key; and, end to end on the demo model, a run
// with the logit lens on offers its keys and compares the chosen pair.
#include <gtest/gtest.h>

#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <filesystem>
#include <fstream>

#include "analysis/pipeline.h"
#include "analysis/profile_registry.h"
#include "app/gui/analysis_panel.h"
#include "app/gui/job_runner.h"
#include "app/gui/main_window.h"
#include "app/gui/results_area.h"
#include "results/synthetic.h"
#include "views/plot_view.h"
#include "views/profile_view.h"
#include "views/qcp.h"

namespace fs = std::filesystem;
using namespace layerscope;

namespace {

QStringList comboTexts(const QComboBox* c) {
  QStringList out;
  for (int i = 0; i < c->count(); ++i) out << c->itemText(i);
  return out;
}

views::ProfileView* profileView(const app::MainWindow& w) {
  for (views::PlotView* v : w.plotViews())
    if (auto* p = qobject_cast<views::ProfileView*>(v)) return p;
  return nullptr;
}

QStringList graphNames(QCustomPlot* p) {
  QStringList names;
  for (int i = 0; i < p->graphCount(); ++i) names << p->graph(i)->name();
  return names;
}

}  // namespace

TEST(ExtraProfiles, PanelHasACheckboxPerRegisteredProfile) {
  app::JobRunner runner;
  app::AnalysisPanel panel(&runner);
  const auto& specs = analysis::registeredProfiles();
  ASSERT_FALSE(specs.empty());
  ASSERT_EQ(panel.profileBoxes().size(), qsizetype(specs.size()));
  for (const auto& spec : specs) {
    QCheckBox* box = panel.profileBox(QString::fromStdString(spec.name));
    ASSERT_NE(box, nullptr) << spec.name;
    EXPECT_EQ(box->isChecked(), spec.byDefault) << spec.name;
    EXPECT_TRUE(box->toolTip().contains(QString::fromStdString(spec.summary))) << spec.name;
  }
  // The panel's defaults are the request's defaults.
  const analysis::AnalyzeRequest defaults;
  const auto req = app::analyzeRequestOf(panel.jobOptions());
  EXPECT_EQ(req.profiles, defaults.profiles);
  EXPECT_TRUE(req.colocFirst.empty() && req.colocSecond.empty());
  EXPECT_EQ(panel.colocFirstCombo()->currentData().toString(), QString());
  EXPECT_EQ(panel.colocSecondCombo()->currentData().toString(), QString());
}

TEST(ExtraProfiles, LogitLensBoxAndPairFeedTheRequestAndTheSession) {
  app::JobRunner runner;
  app::AnalysisPanel panel(&runner);
  QCheckBox* lens = panel.profileBox(QStringLiteral("logit_lens"));
  ASSERT_NE(lens, nullptr);
  ASSERT_FALSE(lens->isChecked());  // off by default (docs/analyses.md)
  EXPECT_LT(panel.colocFirstCombo()->findData(QStringLiteral("logit_lens.accuracy")), 0);
  for (QCheckBox* box : panel.profileBoxes()) box->setChecked(box == lens);
  app::AnalysisJob job = panel.jobOptions();
  EXPECT_EQ(job.profiles, QStringList{QStringLiteral("logit_lens")});
  EXPECT_EQ(app::analyzeRequestOf(job).profiles, std::vector<std::string>{"logit_lens"});

  // The pair offers every key the run will produce (interval bounds left out); one side chosen gets the other
  // side's default in the request (the pipeline takes both keys or neither).
  QComboBox* first = panel.colocFirstCombo();
  const QStringList offered = comboTexts(first);
  EXPECT_EQ(offered.first(), QStringLiteral("sensitivity (first metric)"));
  EXPECT_EQ(comboTexts(panel.colocSecondCombo()).first(), QStringLiteral("RoPE influence"));
  for (const char* key : {"logit_lens.accuracy", "logit_lens.gold_logprob", "sensitivity.rel_l2", "rope_influence.gradient"})
    EXPECT_TRUE(offered.contains(QLatin1String(key))) << key;
  for (const QString& k : offered) EXPECT_FALSE(k.endsWith(QLatin1String(".ci_low")) || k.endsWith(QLatin1String(".ci_high")));
  first->setCurrentIndex(first->findData(QStringLiteral("logit_lens.gold_logprob")));
  const auto req = app::analyzeRequestOf(panel.jobOptions());
  EXPECT_EQ(req.colocFirst, "logit_lens.gold_logprob");
  EXPECT_EQ(req.colocSecond, "rope_influence.gradient");
  EXPECT_EQ(analysis::colocalizationKeys(req), (std::pair<std::string, std::string>{"logit_lens.gold_logprob", "rope_influence.gradient"}));

  // Session options round trip into a fresh panel.
  const QJsonObject o = panel.optionsJson();
  app::AnalysisPanel restored(&runner);
  restored.applyOptionsJson(o);
  EXPECT_TRUE(restored.profileBox(QStringLiteral("logit_lens"))->isChecked());
  EXPECT_EQ(restored.colocFirstCombo()->currentData().toString(), QStringLiteral("logit_lens.gold_logprob"));
  EXPECT_EQ(restored.optionsJson(), o);

  // A key the options no longer produce falls back to the side's default.
  lens->setChecked(false);
  EXPECT_EQ(first->currentData().toString(), QString());
  EXPECT_TRUE(panel.jobOptions().profiles.isEmpty());
}

TEST(ExtraProfiles, RunButtonStaysInViewInTheDefaultWindow) {
  // The options scroll (more with every registered profile); Run / Cancel sit below them, always visible.
  QTemporaryDir tmp;
  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  w.resize(1400, 860);
  w.show();
  ASSERT_TRUE(QTest::qWaitForWindowExposed(&w));
  QPushButton* run = w.runButton();
  EXPECT_TRUE(run->isVisible());
  EXPECT_FALSE(run->visibleRegion().isEmpty());
  EXPECT_EQ(run->visibleRegion().boundingRect().size(), run->size());  // not clipped by a scrolled viewport
  EXPECT_FALSE(w.cancelButton()->visibleRegion().isEmpty());
}

TEST(ExtraProfiles, ResultsProfileComboListsEveryLayerScoreKey) {
  QTemporaryDir tmp;
  const fs::path dir = fs::path(tmp.path().toStdString()) / "res";
  results::writeSyntheticResults(dir, 8, 2);
  // Add the logit lens's keys as the pipeline writes them (scores.json and layers.csv come from the same map).
  nlohmann::json scores = nlohmann::json::parse(std::ifstream(dir / "scores.json"));
  scores["layer_scores"]["logit_lens.accuracy"] = std::vector<double>{0.2, 0.2, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9};
  scores["layer_scores"]["logit_lens.gold_logprob"] = std::vector<double>{-4, -3.5, -3, -2.5, -2, -1.5, -1, -0.5};
  std::ofstream(dir / "scores.json") << scores.dump(1);
  fs::remove(dir / "layers.csv");

  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  w.setQuietErrors(true);
  ASSERT_TRUE(w.openResults(QString::fromStdString(dir.string())));
  QComboBox* combo = w.resultsArea()->profileMetricCombo();
  const QStringList items = comboTexts(combo);
  for (const char* key : {"sensitivity.rel_l2", "sensitivity.probe", "rope_influence.gradient", "redundancy.attn",
                          "logit_lens.accuracy", "logit_lens.gold_logprob"})
    EXPECT_TRUE(items.contains(QLatin1String(key))) << key;
  for (const QString& k : items) EXPECT_FALSE(k.endsWith(QLatin1String(".ci_low")) || k.endsWith(QLatin1String(".ci_high")));
  EXPECT_EQ(combo->currentText(), QStringLiteral("sensitivity.rel_l2"));  // stats.json's first key
  const int i = combo->findText(QStringLiteral("logit_lens.accuracy"));
  EXPECT_EQ(combo->itemData(i, Qt::ToolTipRole).toString(), QStringLiteral("logit lens: accuracy"));
  combo->setCurrentIndex(i);
  views::ProfileView* profile = profileView(w);
  ASSERT_NE(profile, nullptr);
  EXPECT_EQ(profile->sensitivityKey(), QStringLiteral("logit_lens.accuracy"));
  EXPECT_TRUE(graphNames(profile->plot()).contains(QStringLiteral("logit lens: accuracy")));
}

// About 15 s on 2 CPU cores: the demo model on add.mc (93.5% accuracy: both outcomes exist) with B = 20.
TEST(EndToEnd, DemoModelWithLogitLensOffersItsKeysAndComparesTheChosenPair) {
  const QString model = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/models/demo");
  const QString task = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/add.mc.jsonl");
  if (!QFileInfo::exists(model + QStringLiteral("/model.safetensors"))) GTEST_SKIP() << "no demo model";
  QTemporaryDir tmp;
  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  w.setQuietErrors(true);
  w.show();
  w.setModelDir(model);
  w.addTaskFile(task);
  app::AnalysisPanel* panel = w.analysisPanel();
  panel->applyOptionsJson({{QStringLiteral("bootstrap"), 20}});
  ASSERT_NE(panel->profileBox(QStringLiteral("logit_lens")), nullptr);
  panel->profileBox(QStringLiteral("logit_lens"))->setChecked(true);
  QComboBox* first = panel->colocFirstCombo();
  first->setCurrentIndex(first->findData(QStringLiteral("logit_lens.gold_logprob")));
  ASSERT_EQ(first->currentData().toString(), QStringLiteral("logit_lens.gold_logprob"));

  const QString out = tmp.filePath(QStringLiteral("results"));
  QSignalSpy finished(&w, &app::MainWindow::analysisFinished);
  QSignalSpy failed(&w, &app::MainWindow::analysisFailed);
  ASSERT_TRUE(w.startAnalysis(out));
  ASSERT_TRUE(finished.wait(300000)) << (failed.isEmpty() ? "timeout" : failed.first().first().toString().toStdString());
  ASSERT_TRUE(w.bundle() && w.bundle()->scores && w.bundle()->stats);
  EXPECT_TRUE(w.bundle()->scores->has("logit_lens.accuracy"));
  EXPECT_EQ(w.bundle()->stats->sensitivityKey, "logit_lens.gold_logprob");  // stats.json "profiles"
  EXPECT_EQ(w.bundle()->stats->ropeKey, "rope_influence.gradient");

  const QStringList items = comboTexts(w.resultsArea()->profileMetricCombo());
  EXPECT_TRUE(items.contains(QStringLiteral("logit_lens.accuracy")));
  EXPECT_TRUE(items.contains(QStringLiteral("logit_lens.gold_logprob")));
  views::ProfileView* profile = profileView(w);
  ASSERT_NE(profile, nullptr);
  EXPECT_EQ(profile->sensitivityKey(), QStringLiteral("logit_lens.gold_logprob"));
  EXPECT_TRUE(graphNames(profile->plot()).contains(QStringLiteral("logit lens: gold logprob")));
}
