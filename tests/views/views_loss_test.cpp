// views_tests, LossCurve (main() is in views_test.cpp): smoothing draws the debiased EMA over the faint raw
// points, the log scale, the learning rate on the right axis, earlier runs overlaid, and the CSV of all of it.
#include <gtest/gtest.h>

#include <QJsonArray>

#include "results/transforms.h"
#include "views/loss_curve_view.h"

using namespace layerscope;

TEST(LossCurve, SmoothingLogScaleLearningRateAndEarlierRuns) {
  views::LossCurveView v;
  const QVector<double> steps{1, 2, 3, 4}, loss{4, 2, 2, 1}, lr{1e-4, 2e-4, 2e-4, 1e-4};
  v.setData(steps, loss, 4);
  EXPECT_EQ(v.plot()->graphCount(), 1);
  v.setSmoothing(0.5);
  ASSERT_EQ(v.plot()->graphCount(), 2);  // faint raw + smoothed
  const auto expected = results::emaSmoothed({4, 2, 2, 1}, 0.5);
  EXPECT_DOUBLE_EQ(v.plot()->graph(1)->data()->at(2)->value, expected[2]);
  EXPECT_DOUBLE_EQ(v.plot()->graph(0)->data()->at(2)->value, 2.0);
  v.setLogScale(true);
  EXPECT_EQ(v.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
  EXPECT_GT(v.plot()->yAxis->range().lower, 0.0);
  v.setLogScale(false);
  EXPECT_EQ(v.plot()->yAxis->scaleType(), QCPAxis::stLinear);
  v.setLearningRates(lr);
  EXPECT_TRUE(v.plot()->yAxis2->visible());
  EXPECT_EQ(v.plot()->graph(v.plot()->graphCount() - 1)->valueAxis(), v.plot()->yAxis2);
  v.addReferenceRun(QStringLiteral("previous run"), {1, 2, 3}, {5, 4, 3});
  EXPECT_EQ(v.referenceRuns(), QStringList{QStringLiteral("previous run")});
  EXPECT_EQ(v.plot()->graph(0)->name(), QStringLiteral("previous run"));
  EXPECT_EQ(v.plot()->graphCount(), 4);
  EXPECT_TRUE(v.csv().startsWith(QStringLiteral("step,loss,smoothed,lr\n1,4,4,")));
  // Appending with learning rates keeps the lr curve in step.
  v.appendPoints({5}, {0.5}, {5e-5});
  EXPECT_EQ(v.pointCount(), 5);
  EXPECT_TRUE(v.plot()->yAxis2->visible());
  v.setSmoothing(0);
  v.clearReferenceRuns();
  EXPECT_EQ(v.plot()->graphCount(), 2);  // this run + lr
}

TEST(LossCurve, HeldOutPointsAreDrawnExportedAndRestored) {
  views::LossCurveView v;
  v.setData({1, 2, 3, 4}, {4, 3, 2, 1.5}, 4);
  v.appendEvalPoints({2}, {3.5});
  v.appendEvalPoints({4}, {2.5});
  EXPECT_EQ(v.evalSteps(), (QVector<double>{2, 4}));
  ASSERT_EQ(v.plot()->graphCount(), 2);  // this run + held-out
  const auto* g = v.plot()->graph(1);
  EXPECT_EQ(g->name(), QStringLiteral("held-out loss (eval file)"));
  EXPECT_EQ(g->data()->size(), 2);
  EXPECT_DOUBLE_EQ(g->data()->at(1)->value, 2.5);
  EXPECT_NE(g->scatterStyle().shape(), QCPScatterStyle::ssNone);
  EXPECT_GE(v.plot()->yAxis->range().upper, 3.5);
  // Smoothing leaves the held-out points raw.
  v.setSmoothing(0.6);
  EXPECT_DOUBLE_EQ(v.plot()->graph(v.plot()->graphCount() - 1)->data()->at(0)->value, 3.5);
  v.setSmoothing(0);
  // CSV: one column, empty where a step has no held-out point.
  const QStringList rows = v.csv().split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  ASSERT_EQ(rows.size(), 5);
  EXPECT_EQ(rows[0], QStringLiteral("step,loss,smoothed,eval_loss"));
  EXPECT_TRUE(rows[1].endsWith(QLatin1Char(',')));
  EXPECT_TRUE(rows[2].endsWith(QStringLiteral(",3.5")));
  // A session round trip keeps them; a malformed pair is refused and changes nothing.
  views::LossCurveView w;
  EXPECT_EQ(w.applyCurvesJson(v.curvesJson()), QString());
  EXPECT_EQ(w.evalLosses(), (QVector<double>{3.5, 2.5}));
  QJsonObject bad = v.curvesJson();
  bad.insert(QStringLiteral("eval_losses"), QJsonArray{1.0});
  EXPECT_FALSE(w.applyCurvesJson(bad).isEmpty());
  EXPECT_EQ(w.evalSteps(), (QVector<double>{2, 4}));
  // A new run (setData) starts without held-out points.
  v.setData({}, {}, 10);
  EXPECT_TRUE(v.evalSteps().isEmpty());
}
