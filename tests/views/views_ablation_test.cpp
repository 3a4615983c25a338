// views_tests, AblationChart (main() is in views_test.cpp): the legend says what each arm is (docs/methods.md
// section 8), C5's spread over its seeds is drawn as error bars (sample SD) and written to the CSV, and the long
// legend sits below the plot at the one-column size.
#include <gtest/gtest.h>

#include <QTemporaryDir>
#include <cmath>

#include "results/reader.h"
#include "results/synthetic.h"
#include "views/ablation_view.h"
#include "views/figure_style.h"

using namespace layerscope;

TEST(AblationChart, LegendExplainsArmsAndC5HasErrorBarsOverSeeds) {
  QTemporaryDir tmp;
  results::writeSyntheticResults(tmp.filePath(QStringLiteral("r")).toStdString(), 12, 2);
  const auto bundle = results::readResultsDir(tmp.filePath(QStringLiteral("r")).toStdString());
  ASSERT_TRUE(bundle.ablation);
  const auto& c5 = bundle.ablation->arms.back();
  ASSERT_EQ(c5.name, "C5");
  ASSERT_EQ(c5.runAccuracy.at("arith").size(), 3u);  // read from report.json's "runs"

  views::AblationView v;
  v.setFigureStyle(views::withPreset(views::FigureStyle{}, views::SizePreset::OneColumn));
  v.setData(*bundle.ablation);
  QStringList names;
  for (int i = 0; i < v.plot()->legend->itemCount(); ++i)
    if (auto* item = qobject_cast<QCPPlottableLegendItem*>(v.plot()->legend->item(i))) names << item->plottable()->name();
  EXPECT_EQ(names, (QStringList{QStringLiteral("base model"), QStringLiteral("C1: LoRA + GARFA on S_sens"),
                                QStringLiteral("C2: LoRA on S_sens, GARFA on S_rope"),
                                QStringLiteral("C3: LoRA on S_rope, GARFA on S_sens"), QStringLiteral("C4: LoRA + GARFA on S_rope"),
                                QString::fromUtf8("C5: random layers, mean \u00b1 SD of 3 seeds")}));

  // Error bars on C5 only: the sample SD of the three runs (0.02 apart: SD 0.02 exactly, 0.024 for 'sort').
  QList<QCPErrorBars*> errs;
  for (int i = 0; i < v.plot()->plottableCount(); ++i)
    if (auto* e = qobject_cast<QCPErrorBars*>(v.plot()->plottable(i))) errs << e;
  ASSERT_EQ(errs.size(), 1);
  EXPECT_TRUE(errs[0]->dataPlottable()->name().startsWith(QStringLiteral("C5")));
  ASSERT_EQ(errs[0]->dataCount(), 3);
  EXPECT_NEAR(errs[0]->data()->at(0).errorPlus, 0.02, 1e-12);   // arith
  EXPECT_NEAR(errs[0]->data()->at(2).errorMinus, 0.024, 1e-12);  // sort: 0.02 x 1.2
  // CSV: seeds and the SD per task, blank SD for single-seed arms.
  const QStringList lines = v.csv().split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  EXPECT_EQ(lines[0], QStringLiteral("arm,task,accuracy,delta_vs_base_pts,trainable_parameters,seeds,sd_over_seeds"));
  bool sawC5 = false;
  for (const QString& l : lines) {
    const QStringList f = l.split(QLatin1Char(','));
    if (f[0] == QLatin1String("C1")) {  // braces: EXPECT_* expands to an if/else
      EXPECT_TRUE(f[5] == QLatin1String("1") && f[6].isEmpty()) << l.toStdString();
    }
    if (f[0] == QLatin1String("C5") && f[1] == QLatin1String("arith")) {
      sawC5 = true;
      EXPECT_EQ(f[5], QStringLiteral("3"));
      EXPECT_NEAR(f[6].toDouble(), 0.02, 1e-12);
    }
  }
  EXPECT_TRUE(sawC5);
  // The legend (long names) lies below the bars at the one-column size, clear of the data.
  const views::FigureStyle& st = v.figureStyle();
  v.layoutAt(st.widthUnits(), st.heightUnits());
  const QRectF legend = v.plot()->legend->outerRect();
  for (const QRectF& d : v.dataRects(v.plot()->axisRect())) EXPECT_FALSE(legend.intersects(d));
  EXPECT_GE(legend.top(), v.plot()->axisRect()->outerRect().bottom() - 1);
  EXPECT_LE(legend.width(), st.widthUnits());
}
