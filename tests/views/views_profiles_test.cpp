// views_tests, ExtraProfiles (main() is in views_test.cpp): a registered extra profile shows in the views with no
// view code. The synthetic results (results/synthetic.h) get logit_lens.* layer scores added here, as the pipeline
// writes them; the profile view, the scatter, the metric heatmap and the layers table must show them with labels
// derived from the key, while the built-in keys keep their labels.
#include <gtest/gtest.h>

#include <QAbstractItemModelTester>
#include <QTemporaryDir>

#include "results/reader.h"
#include "results/synthetic.h"
#include "results/transforms.h"
#include "views/heatmap_view.h"
#include "views/layers_table_model.h"
#include "views/profile_view.h"
#include "views/scatter_view.h"
#include "views/score_names.h"

namespace fs = std::filesystem;
using namespace layerscope;

namespace {

constexpr int kL = 10;

QStringList graphNames(QCustomPlot* p) {
  QStringList names;
  for (int i = 0; i < p->graphCount(); ++i) names << p->graph(i)->name();
  return names;
}

// The synthetic bundle plus logit-lens scores: accuracy rising with depth, log-probabilities (negative) too.
results::ResultsBundle withLogitLens() {
  QTemporaryDir tmp;
  const fs::path dir = fs::path(tmp.path().toStdString()) / "res";
  results::writeSyntheticResults(dir, kL, 2);
  results::ResultsBundle b = results::readResultsDir(dir);
  std::vector<double> acc(kL), logp(kL);
  for (int l = 0; l < kL; ++l) {
    acc[size_t(l)] = 0.25 + 0.07 * l;
    logp[size_t(l)] = -3.0 + 0.25 * l;
  }
  b.scores->layerScores["logit_lens.accuracy"] = acc;
  b.scores->layerScores["logit_lens.gold_logprob"] = logp;
  b.layers.reset();  // the table from scores.json, as for a run that wrote these keys
  return b;
}

}  // namespace

TEST(ExtraProfiles, KeyNamesAreGeneric) {
  EXPECT_TRUE(views::isIntervalKey("sensitivity.rel_l2.ci_low"));
  EXPECT_TRUE(views::isIntervalKey("logit_lens.accuracy.ci_high"));
  EXPECT_FALSE(views::isIntervalKey("logit_lens.accuracy"));
  EXPECT_EQ(views::readableKey(QStringLiteral("logit_lens.accuracy")), QStringLiteral("logit lens: accuracy"));
  EXPECT_EQ(views::readableKey(QStringLiteral("logit_lens.gold_logprob")), QStringLiteral("logit lens: gold logprob"));
  EXPECT_EQ(views::seriesLabel(QStringLiteral("logit_lens.accuracy")), QStringLiteral("logit lens: accuracy"));
  // The built-in keys keep the labels of the existing figures.
  EXPECT_EQ(views::seriesLabel(QStringLiteral("sensitivity.rel_l2")), QStringLiteral("sensitivity (rel_l2)"));
  EXPECT_EQ(views::seriesLabel(QStringLiteral("rope_influence.gradient")), QStringLiteral("RoPE influence (gradient)"));
  const auto b = withLogitLens();
  const auto keys = views::profileKeys(*b.scores);
  // built-in groups first, extra profiles after them; no interval bounds
  EXPECT_EQ(keys.front(), "sensitivity.cos");
  EXPECT_EQ(keys[keys.size() - 2], "logit_lens.accuracy");
  EXPECT_EQ(keys.back(), "logit_lens.gold_logprob");
  EXPECT_EQ(std::count(keys.begin(), keys.end(), "sensitivity.rel_l2.ci_low"), 0);
  EXPECT_EQ(keys.size(), b.scores->layerScores.size() - 2);
}

TEST(ExtraProfiles, ProfileViewDrawsThePairStatsNamesWithGenericLabels) {
  auto b = withLogitLens();
  views::ProfileView v;
  v.setData(*b.scores, b.stats);
  EXPECT_TRUE(graphNames(v.plot()).contains(QStringLiteral("sensitivity (rel_l2)")));
  EXPECT_TRUE(graphNames(v.plot()).contains(QStringLiteral("RoPE influence (gradient)")));

  // stats.json "profiles" names a logit-lens key as the first side: drawn, labelled from the key.
  b.stats->sensitivityKey = "logit_lens.gold_logprob";
  v.setData(*b.scores, b.stats);
  ASSERT_TRUE(v.hasData());
  EXPECT_EQ(v.sensitivityKey(), QStringLiteral("logit_lens.gold_logprob"));
  const QStringList names = graphNames(v.plot());
  EXPECT_TRUE(names.contains(QStringLiteral("logit lens: gold logprob"))) << names.join(QLatin1Char('|')).toStdString();
  EXPECT_TRUE(names.contains(QStringLiteral("RoPE influence (gradient)")));
  // normalised by max |value|: the negative log-probabilities reach -1, inside the y range
  EXPECT_LE(v.plot()->yAxis->range().lower, -1.0);
  EXPECT_TRUE(v.csv().startsWith(QStringLiteral("layer,logit_lens.gold_logprob,rope_influence.gradient,")));
  // the shaded top-k set is named after the side stats.json compared
  bool legend = false;
  for (int i = 0; i < v.plot()->plottableCount(); ++i)
    legend = legend || (v.plot()->plottable(i)->name().startsWith(QStringLiteral("top-")) &&
                        v.plot()->plottable(i)->name().contains(QStringLiteral("logit lens: gold logprob")));
  EXPECT_TRUE(legend);

  // The toolbar's override takes any key; the other side stays the stats.json one.
  v.setProfileKeys(QStringLiteral("logit_lens.accuracy"), {});
  EXPECT_TRUE(graphNames(v.plot()).contains(QStringLiteral("logit lens: accuracy")));

  views::ScatterView s;
  s.setData(*b.scores, b.stats);
  ASSERT_TRUE(s.hasData());
  EXPECT_EQ(s.plot()->xAxis->label(), QStringLiteral("logit lens: gold logprob"));
  EXPECT_EQ(s.plot()->yAxis->label(), QStringLiteral("RoPE influence (gradient)"));
}

TEST(ExtraProfiles, ProfileViewFallsBackToAnyKeyWithoutStats) {
  auto b = withLogitLens();
  results::Scores only = *b.scores;
  only.layerScores = {{"logit_lens.accuracy", b.scores->layerScores.at("logit_lens.accuracy")},
                      {"logit_lens.gold_logprob", b.scores->layerScores.at("logit_lens.gold_logprob")}};
  views::ProfileView v;
  v.setData(only, std::nullopt);
  ASSERT_TRUE(v.hasData());
  EXPECT_EQ(v.sensitivityKey(), QStringLiteral("logit_lens.accuracy"));
  EXPECT_TRUE(v.ropeKey().isEmpty());
  EXPECT_EQ(graphNames(v.plot()), QStringList{QStringLiteral("logit lens: accuracy")});
}

TEST(ExtraProfiles, HeatmapRowsAndTableColumnsIncludeEveryKey) {
  const auto b = withLogitLens();
  const auto d = views::metricHeatmap(*b.scores);
  const auto keys = views::profileKeys(*b.scores);
  ASSERT_EQ(d.rowNames.size(), qsizetype(keys.size()));
  EXPECT_EQ(d.rowNames.first(), QStringLiteral("sensitivity cos"));  // built-in names as before
  EXPECT_TRUE(d.rowNames.contains(QStringLiteral("RoPE gradient")));
  EXPECT_TRUE(d.rowNames.contains(QStringLiteral("attn: 1 \u2212 similarity")));
  const int acc = int(d.rowNames.indexOf(QStringLiteral("logit lens: accuracy")));
  const int logp = int(d.rowNames.indexOf(QStringLiteral("logit lens: gold logprob")));
  ASSERT_GE(acc, 0);
  ASSERT_GE(logp, 0);
  for (int l = 0; l < kL; ++l) {
    EXPECT_DOUBLE_EQ(d.raw[size_t(l)][size_t(logp)], -3.0 + 0.25 * l);
    EXPECT_NEAR(d.values[size_t(l)][size_t(acc)], l / double(kL - 1), 1e-12);  // min-max per row
  }
  views::HeatmapView h;
  h.setData(d);
  ASSERT_NE(h.colorMap(), nullptr);
  EXPECT_EQ(h.colorMap()->data()->valueSize(), int(keys.size()));
  EXPECT_TRUE(h.csv().section(QLatin1Char('\n'), 0, 0).contains(QStringLiteral("logit lens: accuracy")));

  views::LayersTableModel model;
  QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
  model.setTable(results::layerTableOf(b));
  int column = -1;
  for (int c = 1; c < model.columnCount(); ++c)
    if (model.headerData(c, Qt::Horizontal).toString() == QLatin1String("logit_lens.gold_logprob")) column = c;
  ASSERT_GT(column, 0);
  EXPECT_EQ(model.headerData(column, Qt::Horizontal, Qt::ToolTipRole).toString(), QStringLiteral("logit lens: gold logprob"));
  EXPECT_EQ(model.data(model.index(4, column), views::LayersTableModel::kRawRole).toDouble(), -2.0);
}
