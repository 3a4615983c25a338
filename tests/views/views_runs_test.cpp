// views_tests, Runs (main() is in views_test.cpp): the run list overlays one layer score of the checked runs on the
// same axes (one graph per run, exact values) and draws B - A as a heatmap; different depths are explained.
#include <gtest/gtest.h>

#include <QComboBox>
#include <QTemporaryDir>

#include "results/reader.h"
#include "results/synthetic.h"
#include "views/runs_view.h"

namespace fs = std::filesystem;
using namespace layerscope;

namespace {
results::Scores synthetic(const QTemporaryDir& dir, const char* name, int L, unsigned seed) {
  const fs::path p = fs::path(dir.path().toStdString()) / name;
  results::writeSyntheticResults(p, L, 2, seed);
  return *results::readResultsDir(p).scores;
}
}  // namespace

TEST(Runs, OverlayAndDifferenceHeatmap) {
  QTemporaryDir dir;
  const auto base = synthetic(dir, "base", 12, 1), adapted = synthetic(dir, "adapted", 12, 2);
  views::RunsView view;
  view.addRun(QStringLiteral("base"), base);
  view.addRun(QStringLiteral("adapted"), adapted);
  EXPECT_EQ(view.runLabels(), (QStringList{QStringLiteral("base"), QStringLiteral("adapted")}));
  view.setKey(QStringLiteral("sensitivity.rel_l2"));
  ASSERT_EQ(view.keyCombo()->currentText(), QStringLiteral("sensitivity.rel_l2"));
  QCustomPlot* p = view.overlay()->plot();
  ASSERT_EQ(p->graphCount(), 2);
  EXPECT_EQ(p->graph(1)->name(), QStringLiteral("adapted"));
  ASSERT_EQ(p->graph(1)->dataCount(), 12);
  EXPECT_DOUBLE_EQ(p->graph(1)->data()->at(5)->value, adapted.layerScores.at("sensitivity.rel_l2")[5]);
  // Heatmap: newest run is B. Raw cells are B - A, colours (B - A) / max |A| of the row.
  const auto& h = view.difference()->data();
  ASSERT_TRUE(view.difference()->hasData()) << view.differenceNote().toStdString();
  const auto d = results::profileDifference(base, adapted);
  ASSERT_EQ(h.values.size(), 12u);
  ASSERT_EQ(h.values[0].size(), d.keys.size());
  const size_t k = size_t(std::find(d.keys.begin(), d.keys.end(), "sensitivity.rel_l2") - d.keys.begin());
  EXPECT_DOUBLE_EQ(h.raw[7][k], adapted.layerScores.at("sensitivity.rel_l2")[7] - base.layerScores.at("sensitivity.rel_l2")[7]);
  EXPECT_EQ(h.title, QStringLiteral("adapted \u2212 base per layer"));
  // Unchecking a run removes it from the overlay, not from the list.
  view.setChecked(QStringLiteral("base"), false);
  EXPECT_EQ(view.overlay()->plot()->graphCount(), 1);
  EXPECT_EQ(view.runLabels().size(), 2);
  // A 16-layer run cannot be differenced with a 12-layer one: the heatmap is empty and the note says why.
  view.addRun(QStringLiteral("deeper"), synthetic(dir, "deeper", 16, 3));
  EXPECT_FALSE(view.difference()->hasData());
  EXPECT_NE(view.differenceNote().indexOf(QStringLiteral("16 layers")), -1) << view.differenceNote().toStdString();
  view.setDifferenceRuns(QStringLiteral("base"), QStringLiteral("adapted"));
  EXPECT_TRUE(view.difference()->hasData());
  view.removeRun(QStringLiteral("deeper"));
  EXPECT_EQ(view.runLabels().size(), 2);
}
