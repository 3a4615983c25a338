// app_tests, EndToEnd (main() and the QApplication are in app_test.cpp): through the real main window
// offscreen, the bundled demo model (resources/models/demo, 12 layers, byte tokenizer) and its list_index.mc
// task (69.5% accuracy, so both correct and incorrect items exist) are analysed with the window's default
// options through the window's JobRunner on its worker thread; the views must then show the 12 layers, and the
// profile figure is exported as PDF, SVG and PNG by the code File > Export uses (makeFigure + exportFigure) and
// the files are checked; the Items tab then lists every item of the analysis with its prompt from the task file,
// and File > Compare items with... pairs them with a second items.jsonl (three items flipped) and counts the flips.
// About 11 s on 2 CPU cores.
#include <gtest/gtest.h>

#include <QFile>
#include <QDir>
#include <QFileInfo>
#include <QTableView>
#include <fstream>
#include <QImage>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QXmlStreamReader>

#include "app/gui/main_window.h"
#include "tests/app/export_checks.h"
#include "results/items.h"
#include "results/reader.h"
#include "views/items_table_model.h"
#include "views/items_view.h"
#include "views/figure_export.h"
#include "views/plot_view.h"
#include "views/qcp.h"

using namespace layerscope;

TEST(EndToEnd, DemoModelAnalysisShowsEveryLayerAndExportsPdfSvgPng) {
  const QString model = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/models/demo");
  const QString task = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/list_index.mc.jsonl");
  if (!QFileInfo::exists(model + QStringLiteral("/model.safetensors"))) GTEST_SKIP() << "no demo model";
  constexpr int kLayers = 12;  // resources/models/demo/config.json num_hidden_layers

  QTemporaryDir tmp;
  ASSERT_TRUE(tmp.isValid());
  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  w.setQuietErrors(true);
  w.show();
  w.setModelDir(model);
  w.addTaskFile(task);

  // The default analysis (options panel untouched), run to completion through the worker thread.
  const QString out = tmp.filePath(QStringLiteral("results"));
  QSignalSpy finished(&w, &app::MainWindow::analysisFinished);
  QSignalSpy failed(&w, &app::MainWindow::analysisFailed);
  QSignalSpy errors(&w, &app::MainWindow::errorShown);
  ASSERT_TRUE(w.startAnalysis(out)) << (errors.isEmpty() ? "" : errors.first().first().toString().toStdString());
  ASSERT_TRUE(finished.wait(300000))
      << (failed.isEmpty() ? "timeout" : failed.first().first().toString().toStdString());
  EXPECT_FALSE(w.isRunning());
  EXPECT_TRUE(w.runButton()->isEnabled());
  EXPECT_TRUE(QFileInfo::exists(out + QStringLiteral("/scores.json")));
  ASSERT_TRUE(w.bundle().has_value());
  ASSERT_EQ(w.bundle()->numLayers(), kLayers);

  // Views: the layer-axis views have plottables and an x range covering layers 0..11 (and not far beyond).
  int withData = 0;
  for (views::PlotView* v : w.plotViews()) {
    if (!v->hasData()) continue;
    ++withData;
    const std::string name = v->kind().toStdString();
    EXPECT_GT(v->plot()->plottableCount(), 0) << name;
    if (v->kind() == QLatin1String("profile") || v->kind() == QLatin1String("heatmap") ||
        v->kind() == QLatin1String("redundancy")) {
      const QCPRange x = v->plot()->xAxis->range();
      EXPECT_LE(x.lower, 0.0) << name;
      EXPECT_GE(x.upper, kLayers - 1.0) << name;
      EXPECT_GT(x.lower, -1.0) << name;
      EXPECT_LT(x.upper, double(kLayers)) << name;
    }
  }
  EXPECT_GE(withData, 2);  // profile and heatmap at least

  // The profile view plots one point per layer, keys 0..11.
  views::PlotView* profile = nullptr;
  for (views::PlotView* v : w.plotViews())
    if (v->kind() == QLatin1String("profile")) profile = v;
  ASSERT_NE(profile, nullptr);
  ASSERT_TRUE(profile->hasData());
  bool perLayerSeries = false;
  for (int i = 0; i < profile->plot()->plottableCount(); ++i) {
    QCPPlottableInterface1D* d = profile->plot()->plottable(i)->interface1D();
    if (!d || d->dataCount() != kLayers) continue;
    bool keys = true;
    for (int k = 0; k < kLayers; ++k) keys = keys && d->dataMainKey(k) == k;
    perLayerSeries = perLayerSeries || keys;
  }
  EXPECT_TRUE(perLayerSeries);

  // Export the profile figure as File > Export does (pxPerPt = 1, the window's selection).
  views::FigureStyle style;
  style.widthIn = 3.5;
  style.heightIn = 2.5;
  style.dpi = 200;
  style.pxPerPt = 1;
  auto fig = views::makeFigure(views::FigureKind::Profile, *w.bundle(), style, w.selection());
  ASSERT_TRUE(fig->hasData());
  const auto files = test::exportAndCheck(*fig, tmp.path(), QStringLiteral("profile"), style);  // PNG 700 x 500 px
  EXPECT_GT(files.svgPaths, 0);

  // Items tab: every item of the run (items.jsonl), prompts joined from the task file by id, the same accuracy as
  // scores.json, and the first prompt the task file's first.
  views::ItemsView* items = nullptr;
  for (auto* v : w.findChildren<views::ItemsView*>()) items = v;
  ASSERT_NE(items, nullptr);
  ASSERT_TRUE(items->hasData());
  const auto scores = results::readItemsJsonl(out.toStdString() + "/items.jsonl");
  EXPECT_EQ(items->model()->rowCount(), int(scores.items.size()));
  EXPECT_EQ(items->model()->rowCount(), 200);  // list_index.mc.jsonl holds 200 items
  std::ifstream taskFile(QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/list_index.mc.jsonl").toStdString());
  std::string firstTask;
  std::getline(taskFile, firstTask);
  const auto firstPrompt = nlohmann::json::parse(firstTask)["prompt"].get<std::string>();
  EXPECT_EQ(items->model()->items().items.front().prompt, firstPrompt);
  EXPECT_TRUE(items->model()->items().promptNote.empty()) << items->model()->items().promptNote;
  const double accuracy = nlohmann::json::parse(std::ifstream(out.toStdString() + "/scores.json"))["task"]["accuracy"].get<double>();
  EXPECT_NEAR(items->model()->items().accuracy(), accuracy, 1e-12);

  // A second evaluation: the same items with the first three flipped; the comparison counts them.
  const QString other = tmp.filePath(QStringLiteral("other"));
  ASSERT_TRUE(QDir().mkpath(other));
  {
    std::ifstream in(out.toStdString() + "/items.jsonl");
    std::ofstream o(other.toStdString() + "/items.jsonl");
    std::string line;
    for (int i = 0; std::getline(in, line); ++i) {
      auto j = nlohmann::json::parse(line);
      if (i < 3) j["correct"] = !j["correct"].get<bool>();
      o << j.dump() << "\n";
    }
  }
  int fixedExpected = 0, brokenExpected = 0;
  for (int i = 0; i < 3; ++i) (scores.items[size_t(i)].correct ? brokenExpected : fixedExpected)++;
  ASSERT_TRUE(w.compareItemsWith(other)) << (errors.isEmpty() ? "" : errors.last().first().toString().toStdString());
  ASSERT_TRUE(items->model()->comparison().has_value());
  const auto& c = *items->model()->comparison();
  EXPECT_EQ(c.paired, 200);
  EXPECT_EQ(c.onlyB, fixedExpected);
  EXPECT_EQ(c.onlyA, brokenExpected);
  EXPECT_EQ(c.labelA, "results");
  EXPECT_EQ(c.labelB, "other");
  items->outcomeFilter()->setCurrentIndex(3);  // changed (fixed or broken)
  EXPECT_EQ(items->table()->model()->rowCount(), 3);
  // A folder without items.jsonl is a dialog naming the file, and the comparison stays.
  EXPECT_FALSE(w.compareItemsWith(tmp.filePath(QStringLiteral("missing"))));
  EXPECT_TRUE(items->model()->comparison().has_value());
}
