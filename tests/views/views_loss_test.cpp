// views_tests, LossCurve (main() is in views_test.cpp): smoothing draws the debiased EMA over the faint raw
// points, the log scale, the learning rate on the right axis, earlier runs overlaid, and the CSV of all of it.
#include <gtest/gtest.h>

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
