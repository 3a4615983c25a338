// views_tests: the results reader (round trip of a synthetic results directory, errors naming file and key)
// and each view rendered offscreen: non-empty plottables, the documented axis ranges, integer heatmap cells,
// the linked selection, and the layers table through QAbstractItemModelTester.
#include <gtest/gtest.h>

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QTemporaryDir>
#include <fstream>

#include "results/reader.h"
#include "results/synthetic.h"
#include "results/transforms.h"
#include "views/ablation_view.h"
#include "views/figure_export.h"
#include "views/heatmap_view.h"
#include "views/layers_table_model.h"
#include "views/manipulation_view.h"
#include "views/profile_view.h"
#include "views/redundancy_view.h"
#include "views/scatter_view.h"

namespace fs = std::filesystem;
using namespace layerscope;

namespace {

class Views : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new QTemporaryDir;
    path_ = fs::path(dir_->path().toStdString()) / "res";
    results::writeSyntheticResults(path_, kL, kG);
    bundle_ = new results::ResultsBundle(results::readResultsDir(path_));
  }
  static void TearDownTestSuite() {
    delete bundle_;
    delete dir_;
  }
  static constexpr int kL = 12, kG = 3;
  static inline QTemporaryDir* dir_ = nullptr;
  static inline fs::path path_;
  static inline results::ResultsBundle* bundle_ = nullptr;
};

void writeFile(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

}  // namespace

TEST_F(Views, ReaderRoundTripsTheSyntheticDirectory) {
  const auto& b = *bundle_;
  ASSERT_TRUE(b.scores && b.stats && b.layers && b.manipulation && b.drop && b.ablation);
  EXPECT_EQ(b.scores->numLayers, kL);
  EXPECT_EQ(b.scores->numKvHeads, kG);
  ASSERT_TRUE(b.scores->has("sensitivity.rel_l2"));
  EXPECT_EQ(b.scores->layerHeadScores.at("rope_influence.gradient.per_head").heads(), kG);
  // layers.csv holds the same numbers as scores.json (printed with 17 digits: exact round trip).
  const auto& t = *b.layers;
  const auto col = std::find(t.columns.begin(), t.columns.end(), "sensitivity.rel_l2") - t.columns.begin();
  for (int l = 0; l < kL; ++l) EXPECT_EQ(t.rows[size_t(l)][size_t(col)], b.scores->layerScores.at("sensitivity.rel_l2")[size_t(l)]);
  EXPECT_EQ(int(b.stats->topSens.size()), b.stats->kSens);
  EXPECT_EQ(b.manipulation->accuracy.size(), 4u);
  EXPECT_EQ(b.ablation->tasks.size(), 3u);
}

TEST_F(Views, ReaderErrorsNameFileAndKey) {
  QTemporaryDir tmp;
  const fs::path d = tmp.path().toStdString();
  writeFile(d / "scores.json",
            R"({"format":"layerscope.scores/1","num_layers":3,"layer_scores":{"sensitivity.rel_l2":[1,2]}})");
  try {
    results::readResultsDir(d);
    FAIL() << "expected ResultsError";
  } catch (const results::ResultsError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("scores.json"), std::string::npos) << m;
    EXPECT_NE(m.find("layer_scores.sensitivity.rel_l2"), std::string::npos) << m;
    EXPECT_NE(m.find("expected 3 values"), std::string::npos) << m;
  }
  writeFile(d / "scores.json", "{ not json");
  EXPECT_THROW(results::readResultsDir(d), results::ResultsError);
  fs::remove(d / "scores.json");
  EXPECT_THROW(results::readResultsDir(d), results::ResultsError);  // nothing there
}

TEST(Transforms, AverageRanksShareTies) {
  const auto r = results::averageRanks({3.0, 1.0, 3.0, 2.0});
  EXPECT_EQ(r, (std::vector<double>{3.5, 1.0, 3.5, 2.0}));
}

TEST_F(Views, ProfileDrawsBothProfilesOnLayerAxis) {
  views::ProfileView v;
  v.setData(*bundle_->scores, bundle_->stats);
  QCustomPlot* p = v.plot();
  ASSERT_TRUE(v.hasData());
  // 2 profile graphs + 2 CI edge graphs (sensitivity has a bootstrap band)
  EXPECT_EQ(p->graphCount(), 4);
  for (int i = 0; i < p->graphCount(); ++i) EXPECT_EQ(p->graph(i)->dataCount(), kL);
  EXPECT_DOUBLE_EQ(p->xAxis->range().lower, -0.5);
  EXPECT_DOUBLE_EQ(p->xAxis->range().upper, kL - 0.5);
  // normalised: the maximum of each profile is 1, inside the y range
  EXPECT_LE(p->yAxis->range().lower, 0.0);
  EXPECT_GE(p->yAxis->range().upper, 1.0);
  // top-k bands + 2 centre-of-mass lines and labels are items
  EXPECT_GE(p->itemCount(), bundle_->stats->kSens + bundle_->stats->kRope + 4);
  EXPECT_NE(v.csv().count(QLatin1Char('\n')), 0);
  EXPECT_EQ(v.csv().count(QLatin1Char('\n')), kL + 1);

  views::FigureStyle twin;
  twin.normalise = false;
  v.setFigureStyle(twin);
  EXPECT_TRUE(p->yAxis2->visible());
}

TEST_F(Views, HeatmapCellsSitOnIntegerLayersAndHeads) {
  views::HeatmapView v;
  const auto data = views::headHeatmap(*bundle_->scores, "rope_influence.gradient.per_head");
  v.setData(data);
  QCPColorMap* map = v.colorMap();
  ASSERT_NE(map, nullptr);
  EXPECT_FALSE(map->interpolate());
  EXPECT_EQ(map->data()->keySize(), kL);
  EXPECT_EQ(map->data()->valueSize(), kG);
  const auto& m = bundle_->scores->layerHeadScores.at("rope_influence.gradient.per_head").values;
  for (int l : {0, 5, kL - 1})
    for (int g = 0; g < kG; ++g) EXPECT_DOUBLE_EQ(map->data()->data(l, g), m[size_t(l)][size_t(g)]) << l << "," << g;
  EXPECT_DOUBLE_EQ(v.plot()->xAxis->range().lower, -0.5);
  EXPECT_DOUBLE_EQ(v.plot()->xAxis->range().upper, kL - 0.5);
  EXPECT_DOUBLE_EQ(v.plot()->yAxis->range().upper, kG - 0.5);
  ASSERT_NE(map->colorScale(), nullptr);
  EXPECT_FALSE(map->colorScale()->label().isEmpty());
  // every layer has a tick
  auto ticker = v.plot()->xAxis->ticker().dynamicCast<QCPAxisTickerText>();
  ASSERT_TRUE(ticker);
  EXPECT_EQ(ticker->ticks().size(), kL);
}

TEST_F(Views, HeatmapUsesZeroCentredRangeForSignedData) {
  views::HeatmapData d;
  d.values = {{-1.0, 0.5}, {2.0, 0.0}};
  d.rowNames = {QStringLiteral("a"), QStringLiteral("b")};
  d.colourLabel = QStringLiteral("signed");
  views::HeatmapView v;
  v.setData(d);
  EXPECT_DOUBLE_EQ(v.colorMap()->dataRange().lower, -2.0);
  EXPECT_DOUBLE_EQ(v.colorMap()->dataRange().upper, 2.0);
}

TEST_F(Views, ScatterHasOnePointPerLayerAndStatsOutsideTheData) {
  views::ScatterView v;
  v.setData(*bundle_->scores, bundle_->stats);
  QCustomPlot* p = v.plot();
  ASSERT_TRUE(v.hasData());
  int points = 0;
  for (int i = 0; i < p->graphCount(); ++i) points = std::max(points, p->graph(i)->dataCount());
  EXPECT_EQ(points, kL);
  const auto& s = bundle_->scores->layerScores.at("sensitivity.rel_l2");
  EXPECT_LE(p->xAxis->range().lower, *std::min_element(s.begin(), s.end()));
  EXPECT_GE(p->xAxis->range().upper, *std::max_element(s.begin(), s.end()));
  // The statistics are text rows of the plot layout (outside the axis rect), with a real subscript in r_s.
  bool hasRs = false;
  for (int i = 0; i < p->plotLayout()->elementCount(); ++i)
    if (auto* t = qobject_cast<QCPTextElement*>(p->plotLayout()->elementAt(i)))
      hasRs = hasRs || t->text().contains(QStringLiteral("r\u209B = ") + views::fmt(bundle_->stats->spearmanR));
  EXPECT_TRUE(hasRs);
  EXPECT_FALSE(p->legend->visible());
  views::FigureStyle ranks;
  ranks.ranks = true;
  v.setFigureStyle(ranks);
  EXPECT_GE(p->xAxis->range().upper, double(kL));  // ranks run 1..L
}

TEST_F(Views, RedundancyBarsMarkTheDropPlan) {
  views::RedundancyView v;
  v.setData(bundle_->scores, bundle_->drop);
  QCustomPlot* p = v.plot();
  ASSERT_TRUE(v.hasData());
  EXPECT_GE(p->plottableCount(), 3);
  double droppedSum = 0;
  for (int i = 0; i < p->plottableCount(); ++i)
    if (auto* b = qobject_cast<QCPBars*>(p->plottable(i)); b && b->name().contains(QStringLiteral("dropped")))
      for (auto it = b->data()->begin(); it != b->data()->end(); ++it) droppedSum += it->value > 0 ? 1 : 0;
  EXPECT_EQ(droppedSum, double(bundle_->drop->dropped.size()));
  EXPECT_DOUBLE_EQ(p->yAxis->range().lower, 0.0);
}

TEST_F(Views, ManipulationAndAblationRender) {
  views::ManipulationView m;
  m.setData(*bundle_->manipulation);
  EXPECT_EQ(m.plot()->graphCount(), 5);  // 4 curves + base line
  EXPECT_DOUBLE_EQ(m.plot()->yAxis->range().lower, 0.0);
  views::AblationView a;
  a.setData(*bundle_->ablation);
  EXPECT_EQ(a.plot()->plottableCount(), 7);  // base + 5 arms + C5's error bars over its seeds
  EXPECT_DOUBLE_EQ(a.plot()->xAxis->range().upper, 2.5);
}

TEST_F(Views, SelectionIsDrawnInEveryLinkedView) {
  views::LayerSelection sel;
  views::ProfileView profile;
  views::RedundancyView red;
  profile.setData(*bundle_->scores, bundle_->stats);
  red.setData(bundle_->scores, bundle_->drop);
  profile.setSelection(&sel);
  red.setSelection(&sel);
  const int before = profile.plot()->itemCount(), beforeRed = red.plot()->itemCount();
  sel.setLayers({3, 4, 5, 9});  // two runs: [3,5] and [9,9]
  EXPECT_EQ(profile.plot()->itemCount(), before + 2);
  EXPECT_EQ(red.plot()->itemCount(), beforeRed + 2);
  sel.clear();
  EXPECT_EQ(profile.plot()->itemCount(), before);
}

TEST_F(Views, LayersTableModelPassesTheTester) {
  views::LayersTableModel model;
  QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
  model.setTable(*bundle_->layers);
  EXPECT_EQ(model.rowCount(), kL);
  EXPECT_EQ(model.columnCount(), int(bundle_->layers->columns.size()) + 1);
  const double v = model.data(model.index(2, 1), views::LayersTableModel::kRawRole).toDouble();
  EXPECT_EQ(v, bundle_->layers->rows[2][0]);
  // The header's first line is the exact layers.csv name (redundancy columns add "(cos similarity)" below).
  EXPECT_EQ(model.headerData(1, Qt::Horizontal).toString().section(QLatin1Char('\n'), 0, 0).toStdString(), bundle_->layers->columns[0]);
  model.setTable({});
  EXPECT_EQ(model.rowCount(), 0);
}

TEST_F(Views, EveryFigureKindIsMadeFromTheBundle) {
  for (const QString& name : views::figureKindNames()) {
    const auto kind = views::parseFigureKind(name);
    ASSERT_TRUE(kind);
    ASSERT_TRUE(views::canMakeFigure(*kind, *bundle_)) << name.toStdString();
    auto v = views::makeFigure(*kind, *bundle_, views::FigureStyle{});
    EXPECT_GT(v->plot()->plottableCount(), 0) << name.toStdString();
  }
  results::ResultsBundle empty;
  empty.manipulation = bundle_->manipulation;
  EXPECT_THROW(views::makeFigure(views::FigureKind::Profile, empty, {}), results::ResultsError);
}

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", qgetenv("QT_QPA_PLATFORM").isEmpty() ? QByteArray("offscreen") : qgetenv("QT_QPA_PLATFORM"));
  QApplication app(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
