// app_tests: the real main window offscreen: opening results, figure export files (PDF header and page
// size, SVG parsed as XML with paths, PNG pixels = DPI x inches), export-all manifest, session round trip
// with a missing model, and an analysis run and cancel through the worker thread on a tiny random model.
#include <gtest/gtest.h>

#include <QApplication>
#include <QComboBox>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>
#include <filesystem>

#include "analysis/semantics.h"
#include "app/gui/analysis_panel.h"
#include "app/gui/job_runner.h"
#include "app/gui/main_window.h"
#include "tests/app/export_checks.h"
#include "core/text/byte_tokenizer.h"
#include "core/model/random_checkpoint.h"
#include "results/reader.h"
#include "results/synthetic.h"
#include "views/figure_export.h"
#include "views/layer_selection.h"
#include "views/layers_table_model.h"
#include "views/plot_view.h"

namespace fs = std::filesystem;
using namespace layerscope;

namespace {

struct Fixture : ::testing::Test {
  QTemporaryDir tmp;
  QString results;
  void SetUp() override {
    results = tmp.filePath(QStringLiteral("res"));
    results::writeSyntheticResults(results.toStdString(), 16, 4);
  }
  std::unique_ptr<app::MainWindow> window() {
    auto w = std::make_unique<app::MainWindow>(tmp.filePath(QStringLiteral("settings.ini")));
    w->setQuietErrors(true);
    return w;
  }
  /// A shown window on a random tiny model with the demo copy task, for the estimate tests.
  std::unique_ptr<app::MainWindow> tinyModelWindow() {
    const fs::path model = tmp.filePath(QStringLiteral("tiny")).toStdString();
    core::writeRandomCheckpoint(model, core::presetConfig("tiny"), {.seed = 3, .weightStd = 0.3});
    core::writeByteLevelTokenizer(model);
    auto w = window();
    w->show();
    w->setModelDir(QString::fromStdString(model.string()));
    w->addTaskFile(QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/copy.mc.jsonl"));
    return w;
  }
};

}  // namespace

TEST_F(Fixture, MainWindowShowsResultsInEveryTab) {
  auto w = window();
  w->show();
  ASSERT_TRUE(w->openResults(results));
  for (views::PlotView* v : w->plotViews()) EXPECT_TRUE(v->hasData()) << v->kind().toStdString();
  for (int i = 0; i < w->tabs()->count(); ++i) EXPECT_TRUE(w->tabs()->isTabEnabled(i));
  EXPECT_EQ(w->layersModel()->rowCount(), 16);
  w->selection()->setLayers({1, 2});
  EXPECT_EQ(w->selection()->layers(), (QVector<int>{1, 2}));
  QSignalSpy errors(w.get(), &app::MainWindow::errorShown);
  EXPECT_FALSE(w->openResults(tmp.filePath(QStringLiteral("missing"))));
  EXPECT_EQ(errors.count(), 1);
  EXPECT_TRUE(w->bundle().has_value());  // the previous results stay
}

TEST_F(Fixture, ExportWritesValidPdfSvgPng) {
  const auto bundle = results::readResultsDir(results.toStdString());
  views::FigureStyle style;
  style.widthIn = 3.5;
  style.heightIn = 2.5;
  style.dpi = 300;
  auto fig = views::makeFigure(views::FigureKind::Profile, bundle, style);
  const auto files = test::exportAndCheck(*fig, tmp.path(), QStringLiteral("f"), style);  // 1050 x 750 px PNG
  EXPECT_GT(files.svgPaths, 10);
  const QImage img(files.png);
  EXPECT_NEAR(img.dotsPerMeterX() * 0.0254, 300, 1);
  EXPECT_TRUE(QFile::exists(tmp.filePath(QStringLiteral("f.csv"))));
  EXPECT_FALSE(QFile::exists(files.pdf + QStringLiteral(".part")));
}

TEST_F(Fixture, ExportAllWritesEveryFigureAndManifest) {
  const auto bundle = results::readResultsDir(results.toStdString());
  const QString out = tmp.filePath(QStringLiteral("all"));
  const auto manifest = views::exportAllFigures(bundle, out, views::FigureStyle{}, {QStringLiteral("png")});
  const auto figures = manifest.value(QStringLiteral("figures")).toArray();
  EXPECT_EQ(figures.size(), 7);
  for (const auto& f : figures)
    for (const auto& file : f.toObject().value(QStringLiteral("files")).toArray())
      EXPECT_TRUE(QFile::exists(out + QLatin1Char('/') + file.toString())) << file.toString().toStdString();
  QFile m(out + QStringLiteral("/figures.json"));
  ASSERT_TRUE(m.open(QIODevice::ReadOnly));
  const auto doc = QJsonDocument::fromJson(m.readAll()).object();
  EXPECT_EQ(doc.value(QStringLiteral("fingerprints")).toObject().value(QStringLiteral("model")).toString(), QStringLiteral("synthetic-7"));
  EXPECT_TRUE(doc.value(QStringLiteral("analysis_options")).isObject());
}

TEST_F(Fixture, SessionRoundTripWithMissingModel) {
  auto w = window();
  w->openResults(results);
  w->addTaskFile(tmp.filePath(QStringLiteral("t.jsonl")));
  w->selection()->setLayers({4, 5});
  app::Session s = w->currentSession();
  s.modelDir = tmp.filePath(QStringLiteral("moved-model"));
  const QString file = tmp.filePath(QStringLiteral("s.lssession"));
  app::saveSession(s, file);
  auto w2 = window();
  QSignalSpy errors(w2.get(), &app::MainWindow::errorShown);
  w2->applySession(app::loadSession(file));
  EXPECT_EQ(errors.count(), 1);  // "model folder not found", no crash
  EXPECT_EQ(w2->selection()->layers(), (QVector<int>{4, 5}));
  EXPECT_TRUE(w2->bundle().has_value());
  EXPECT_EQ(w2->currentSession().taskFiles, s.taskFiles);
  EXPECT_EQ(w2->currentSession().options, s.options);
}

TEST_F(Fixture, CancelledAnalysisLeavesWindowUsableAndNoResults) {
  const fs::path model = tmp.filePath(QStringLiteral("tiny")).toStdString();
  core::writeRandomCheckpoint(model, core::presetConfig("tiny"), {.seed = 3, .weightStd = 0.3});
  core::writeByteLevelTokenizer(model);
  const QString task = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/copy.mc.jsonl");
  auto w = window();
  w->show();
  w->setModelDir(QString::fromStdString(model.string()));
  w->addTaskFile(task);
  app::Session s = w->currentSession();
  s.options.insert(QStringLiteral("bootstrap"), 20);
  w->applySession(s);

  // Cancel as soon as the worker reports progress: the pipeline must stop and write nothing.
  const QString out = tmp.filePath(QStringLiteral("cancelled"));
  QSignalSpy cancelled(w.get(), &app::MainWindow::analysisCancelled);
  QSignalSpy failed(w.get(), &app::MainWindow::analysisFailed);
  ASSERT_TRUE(w->startAnalysis(out));
  EXPECT_TRUE(w->isRunning());
  EXPECT_FALSE(w->runButton()->isEnabled());
  EXPECT_FALSE(w->startAnalysis(out));  // one job at a time
  w->cancelAnalysis();
  ASSERT_TRUE(cancelled.wait(120000)) << (failed.isEmpty() ? "" : failed.first().first().toString().toStdString());
  EXPECT_FALSE(w->isRunning());
  EXPECT_TRUE(w->runButton()->isEnabled());
  EXPECT_FALSE(QFileInfo::exists(out));
  for (const auto& e : fs::directory_iterator(tmp.path().toStdString()))
    EXPECT_EQ(e.path().filename().string().find("cancelled"), std::string::npos) << e.path();

  // The window is usable: the next run completes and its results are shown.
  const QString out2 = tmp.filePath(QStringLiteral("done"));
  QSignalSpy finished(w.get(), &app::MainWindow::analysisFinished);
  ASSERT_TRUE(w->startAnalysis(out2));
  ASSERT_TRUE(finished.wait(120000)) << (failed.isEmpty() ? "" : failed.last().first().toString().toStdString());
  EXPECT_TRUE(QFileInfo::exists(out2 + QStringLiteral("/scores.json")));
  ASSERT_TRUE(w->bundle().has_value());
  EXPECT_EQ(w->bundle()->numLayers(), 2);
}

// The Estimate button (issue 14): the cost estimate of the analysis on screen, shown under Run before anything
// runs; nothing is written. A budget-free estimate on a tiny model fits; the table names every stage.
TEST_F(Fixture, EstimateShowsTheCostBeforeRunning) {
  auto w = tinyModelWindow();
  app::AnalysisPanel* panel = w->analysisPanel();
  EXPECT_TRUE(panel->estimateText().isEmpty());
  QSignalSpy shown(panel, &app::AnalysisPanel::estimateShown);
  panel->estimateButton()->click();
  ASSERT_TRUE(shown.wait(120000));
  EXPECT_TRUE(shown.first().first().toBool());
  const QString text = panel->estimateText();
  for (const char* part : {"peak resident memory", "eval", "sensitivity", "rope influence (gradient)", "redundancy"})
    EXPECT_TRUE(text.contains(QLatin1String(part))) << part << " missing from " << text.toStdString();
  EXPECT_TRUE(panel->runButton()->isEnabled());
  EXPECT_FALSE(w->bundle().has_value());  // nothing ran
}

// Cancel during the estimate: the job stops, nothing is shown where the estimate goes (no half table, no
// estimateShown), the status says so and the window can run or estimate again at once.
TEST_F(Fixture, CancelledEstimateShowsNothingAndFreesTheWindow) {
  auto w = tinyModelWindow();
  app::AnalysisPanel* panel = w->analysisPanel();
  QSignalSpy shown(panel, &app::AnalysisPanel::estimateShown);
  QSignalSpy busy(w->jobRunner(), &app::JobRunner::busyChanged);
  panel->estimateButton()->click();
  ASSERT_TRUE(w->jobRunner()->isBusy());
  EXPECT_FALSE(panel->runButton()->isEnabled());
  ASSERT_TRUE(panel->cancelButton()->isEnabled());
  panel->cancelButton()->click();  // before the outcome reaches the window: the cancel wins
  EXPECT_FALSE(panel->cancelButton()->isEnabled()) << "cancel is asked once";
  ASSERT_TRUE(QTest::qWaitFor([&] { return !w->jobRunner()->isBusy(); }, 120000));
  QCoreApplication::processEvents();
  EXPECT_EQ(shown.count(), 0);
  EXPECT_TRUE(panel->estimateText().isEmpty()) << panel->estimateText().toStdString();
  EXPECT_EQ(panel->statusLabel()->text(), QStringLiteral("Estimate cancelled."));
  EXPECT_TRUE(panel->runButton()->isEnabled());
  EXPECT_TRUE(panel->estimateButton()->isEnabled());
  EXPECT_FALSE(panel->cancelButton()->isEnabled());
  EXPECT_FALSE(w->bundle().has_value());
  // The next estimate runs to the end.
  panel->estimateButton()->click();
  ASSERT_TRUE(shown.wait(120000));
  EXPECT_TRUE(shown.first().first().toBool());
  EXPECT_FALSE(panel->estimateText().isEmpty());
}

// The Definition list offers exactly the semantics the analyses know (analysis/semantics.h), LayerScope's first.
TEST_F(Fixture, DefinitionListIsEverySemantics) {
  auto w = window();
  QComboBox* combo = w->analysisPanel()->semanticsCombo();
  const auto all = analysis::allSemantics();
  ASSERT_EQ(combo->count(), int(all.size()));
  for (int i = 0; i < combo->count(); ++i)
    EXPECT_EQ(analysis::parseSemantics(combo->itemText(i).toStdString()), all[size_t(i)]) << i;
  EXPECT_EQ(combo->currentText(), QStringLiteral("layerscope"));
}

int main(int argc, char** argv) {
  if (qgetenv("QT_QPA_PLATFORM").isEmpty()) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
