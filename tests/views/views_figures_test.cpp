// views_tests, Figures: the paper figures at the one-column preset (3.5 x 2.5 in), laid out at the export
// size, over synthetic results of 8 to 32 layers: no legend inside a plot covers a data point (points,
// bar tops, CI band edges), every layer is ticked up to 32 layers and labelled while the labels fit (all of
// them up to 16 layers), no zero line at layer 0, real subscripts, top-k shading and confidence bands
// encoded differently, centre-of-mass labels apart and clear of the data points; the heatmap shows the linked selection above its colour
// map; exports leave the selection band out unless the style asks for it.
#include <gtest/gtest.h>

#include <QFontMetricsF>
#include <QImage>
#include <QTemporaryDir>

#include "results/reader.h"
#include "results/synthetic.h"
#include "views/figure_export.h"
#include "views/heatmap_view.h"
#include "views/layers_table_model.h"
#include "views/profile_view.h"
#include "views/redundancy_view.h"
#include "views/scatter_view.h"

namespace fs = std::filesystem;
using namespace layerscope;

namespace {

views::FigureStyle oneColumn() {
  views::FigureStyle s = views::withPreset(views::FigureStyle{}, views::SizePreset::OneColumn);
  s.pxPerPt = 1;
  return s;
}

results::ResultsBundle synthetic(const QTemporaryDir& tmp, int L, unsigned seed) {
  const fs::path dir = fs::path(tmp.path().toStdString()) / ("res" + std::to_string(L) + "_" + std::to_string(seed));
  results::writeSyntheticResults(dir, L, 4, seed);
  return results::readResultsDir(dir);
}

/// Pixel positions of every data point (graph points, both ends of each bar) on `rect`, written independently
/// of PlotView::dataRects.
QList<QPointF> dataPoints(QCustomPlot* p, QCPAxisRect* rect) {
  QList<QPointF> out;
  for (int i = 0; i < p->plottableCount(); ++i) {
    QCPAbstractPlottable* pl = p->plottable(i);
    if (!pl->visible() || pl->keyAxis()->axisRect() != rect) continue;
    auto px = [&](double k, double v) { return QPointF(pl->keyAxis()->coordToPixel(k), pl->valueAxis()->coordToPixel(v)); };
    if (auto* g = qobject_cast<QCPGraph*>(pl)) {
      for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
        if (!std::isnan(it->value)) out << px(it->key, it->value);
    } else if (auto* b = qobject_cast<QCPBars*>(pl)) {
      for (auto it = b->data()->constBegin(); it != b->data()->constEnd(); ++it)
        if (!std::isnan(it->value) && it->value != 0) out << px(it->key, it->value);
    }
  }
  return out;
}

/// Lays `v` out at the export size and checks that a legend inside the axis rect covers no data point.
void expectLegendClearOfData(views::PlotView& v, const std::string& what) {
  const views::FigureStyle s = oneColumn();
  v.layoutAt(s.widthUnits(), s.heightUnits());
  QCustomPlot* p = v.plot();
  QCPLegend* legend = p->legend;
  if (!legend || !legend->visible()) return;
  const bool inside = qobject_cast<QCPLayoutInset*>(legend->layout()) != nullptr;
  if (!inside) {
    // Outside the data: below the axis rect and within the figure.
    EXPECT_GE(legend->outerRect().top(), p->axisRect()->rect().bottom()) << what;
    EXPECT_LE(legend->outerRect().width(), s.widthUnits()) << what;
    return;
  }
  const QRectF box = legend->outerRect();
  for (const QPointF& pt : dataPoints(p, p->axisRect()))
    EXPECT_FALSE(box.contains(pt)) << what << ": legend " << box.x() << "," << box.y() << " " << box.width() << "x"
                                   << box.height() << " covers the data point at " << pt.x() << "," << pt.y();
  // And it is compact: at most 40% of the axis rect's area.
  EXPECT_LE(box.width() * box.height(), 0.4 * p->axisRect()->width() * p->axisRect()->height()) << what;
}

}  // namespace

TEST(Figures, NoLegendCoversADataPointAtOneColumn) {
  QTemporaryDir tmp;
  for (int L : {8, 12, 24, 32})
    for (unsigned seed : {7u, 11u}) {
      const auto b = synthetic(tmp, L, seed);
      for (auto kind : {views::FigureKind::Profile, views::FigureKind::Scatter, views::FigureKind::Redundancy,
                        views::FigureKind::Manipulation}) {
        if (!views::canMakeFigure(kind, b)) continue;
        auto v = views::makeFigure(kind, b, oneColumn());
        expectLegendClearOfData(*v, views::figureKindName(kind).toStdString() + " L=" + std::to_string(L) +
                                        " seed=" + std::to_string(seed));
      }
      // Twin axes (no normalisation) too.
      views::FigureStyle twin = oneColumn();
      twin.normalise = false;
      auto v = views::makeFigure(views::FigureKind::Profile, b, twin);
      expectLegendClearOfData(*v, "profile twin L=" + std::to_string(L));
    }
}

TEST(Figures, EveryLayerTickedUpTo32LayersAndLabelledWhileLabelsFit) {
  QTemporaryDir tmp;
  for (int L : {2, 8, 12, 16, 24, 32}) {
    const auto b = synthetic(tmp, L, 7);
    for (auto kind : {views::FigureKind::Profile, views::FigureKind::Redundancy, views::FigureKind::HeatmapMetrics}) {
      auto v = views::makeFigure(kind, b, oneColumn());
      const views::FigureStyle s = oneColumn();
      v->layoutAt(s.widthUnits(), s.heightUnits());
      QCPAxis* x = v->plot()->xAxis;
      auto ticker = x->ticker().dynamicCast<QCPAxisTickerText>();
      ASSERT_TRUE(ticker) << L;
      const std::string what = views::figureKindName(kind).toStdString() + " L=" + std::to_string(L);
      ASSERT_EQ(ticker->ticks().size(), L) << what;
      for (int l = 0; l < L; ++l) EXPECT_TRUE(ticker->ticks().contains(l)) << what << " layer " << l;
      EXPECT_EQ(x->grid()->zeroLinePen().style(), Qt::NoPen) << what;  // nothing cuts the layer-0 bars
      // Labelled layers: all of them up to 16 layers in the line plots (the heatmap's row names leave it less
      // room: every 2nd at least); labels (flat, or upright when turned) never overlap on the laid-out axis.
      int labelled = 0;
      double lastRight = -INFINITY;
      const QFontMetricsF fm(x->tickLabelFont());
      const bool upright = x->tickLabelRotation() != 0;
      for (auto it = ticker->ticks().constBegin(); it != ticker->ticks().constEnd(); ++it) {
        if (it.value().isEmpty()) continue;
        ++labelled;
        const double centre = x->coordToPixel(it.key()), half = (upright ? fm.height() : fm.horizontalAdvance(it.value())) / 2;
        EXPECT_GT(centre - half, lastRight) << what << ": label " << it.value().toStdString() << " overlaps the previous one";
        lastRight = centre + half;
      }
      const bool heatmap = kind == views::FigureKind::HeatmapMetrics;
      if (L <= 16 && !heatmap) EXPECT_EQ(labelled, L) << what;
      else if (L <= 16) EXPECT_GE(labelled, L / 2) << what;
      else EXPECT_GE(labelled, L / 4) << what;
    }
  }
}

TEST(Figures, RealSubscriptsDistinctShadingAndCentreOfMassLabelsApart) {
  QTemporaryDir tmp;
  auto b = synthetic(tmp, 12, 7);
  // Centres of mass 0.1 layer apart: the worst case for their labels.
  b.stats->centreOfMassSens = 6.9;
  b.stats->centreOfMassRope = 7.0;
  auto v = views::makeFigure(views::FigureKind::Profile, b, oneColumn());
  const views::FigureStyle s = oneColumn();
  v->layoutAt(s.widthUnits(), s.heightUnits());
  QCustomPlot* p = v->plot();
  bool title = false;
  for (int i = 0; i < p->plotLayout()->elementCount(); ++i)
    if (auto* t = qobject_cast<QCPTextElement*>(p->plotLayout()->elementAt(i))) {
      EXPECT_FALSE(t->text().contains(QStringLiteral("r_s"))) << t->text().toStdString();
      title = title || t->text().contains(QStringLiteral("r\u209B = "));
    }
  EXPECT_TRUE(title);

  // The top-k shading (items on the grid layer) uses no colour of a confidence band (graph channel fills).
  QList<QColor> bands;
  for (int i = 0; i < p->graphCount(); ++i)
    if (p->graph(i)->channelFillGraph()) bands << p->graph(i)->brush().color();
  ASSERT_FALSE(bands.isEmpty());
  int shades = 0;
  QList<QRectF> labels;
  for (int i = 0; i < p->itemCount(); ++i) {
    if (auto* r = qobject_cast<QCPItemRect*>(p->item(i)); r && r->layer()->name() == QLatin1String("grid")) {
      ++shades;
      const QColor c = r->brush().color();
      for (const QColor& band : bands) EXPECT_NE(c.rgb(), band.rgb()) << "top-k shading shares the CI band's colour";
    }
    if (auto* t = qobject_cast<QCPItemText*>(p->item(i)); t && t->text().startsWith(QStringLiteral("CoM")))
      labels << QRectF(t->topLeft->pixelPosition(), t->bottomRight->pixelPosition()).normalized();
  }
  EXPECT_GT(shades, 0);
  ASSERT_EQ(labels.size(), 2);
  EXPECT_FALSE(labels[0].intersects(labels[1])) << "centre-of-mass labels collide";
}

namespace {

/// The centre-of-mass labels' pixel rectangles at the current layout.
QList<QRectF> comLabelRects(QCustomPlot* p) {
  QList<QRectF> out;
  for (int i = 0; i < p->itemCount(); ++i)
    if (auto* t = qobject_cast<QCPItemText*>(p->item(i)); t && t->text().startsWith(QStringLiteral("CoM")))
      out << QRectF(t->topLeft->pixelPosition(), t->bottomRight->pixelPosition()).normalized();
  return out;
}

/// At the export size: no centre-of-mass label intersects a data-point rectangle (PlotView::dataRects: points
/// and the segments between them), the legend inside the plot, or another label; each sits inside the plot.
void expectComLabelsClear(views::PlotView& v, const std::string& what) {
  const views::FigureStyle s = oneColumn();
  v.layoutAt(s.widthUnits(), s.heightUnits());
  QCustomPlot* p = v.plot();
  const QList<QRectF> labels = comLabelRects(p), data = v.dataRects(p->axisRect());
  ASSERT_FALSE(data.isEmpty()) << what;
  for (int i = 0; i < labels.size(); ++i) {
    EXPECT_TRUE(QRectF(p->axisRect()->rect()).contains(labels[i])) << what << ": label " << i << " outside the plot";
    for (const QRectF& d : data)
      EXPECT_FALSE(labels[i].intersects(d)) << what << ": label " << i << " at " << labels[i].x() << "," << labels[i].y()
                                            << " covers the data at " << d.center().x() << "," << d.center().y();
    if (p->legend->visible() && qobject_cast<QCPLayoutInset*>(p->legend->layout())) {  // braces: EXPECT_* is an if/else
      EXPECT_FALSE(labels[i].intersects(p->legend->outerRect())) << what << ": label " << i << " covers the legend";
    }
    for (int j = i + 1; j < labels.size(); ++j) EXPECT_FALSE(labels[i].intersects(labels[j])) << what << ": labels collide";
  }
}

}  // namespace

TEST(Figures, CentreOfMassLabelsCoverNoDataPointNorEachOther) {
  QTemporaryDir tmp;
  auto b = synthetic(tmp, 12, 7);
  // Profiles built so that the old place (the bottom of the plot, beside each line) is taken: around the two
  // centres of mass (5.5 and 6.5) the first profile lies on the bottom and the second on the top.
  const std::string sk = b.stats->sensitivityKey, rk = b.stats->ropeKey;
  std::vector<double> sens(12), rope(12);
  for (int l = 0; l < 12; ++l) {
    const bool middle = l >= 3 && l <= 9;
    sens[size_t(l)] = middle ? 0.0 : 1.0;
    rope[size_t(l)] = middle ? 1.0 : 0.0;
  }
  b.scores->layerScores[sk] = sens;
  b.scores->layerScores[rk] = rope;
  for (const std::string& k : {sk, rk})
    for (const char* bound : {".ci_low", ".ci_high"}) b.scores->layerScores.erase(k + bound);
  b.stats->centreOfMassSens = 5.5;
  b.stats->centreOfMassRope = 6.5;
  auto v = views::makeFigure(views::FigureKind::Profile, b, oneColumn());
  const views::FigureStyle s = oneColumn();
  v->layoutAt(s.widthUnits(), s.heightUnits());
  QCustomPlot* p = v->plot();
  const QList<QRectF> labels = comLabelRects(p);
  ASSERT_EQ(labels.size(), 2);
  // The naive place would cover data: the bottom of the plot (2% up), the lower centre's label left of its line,
  // the higher one's right of it.
  const QRectF area = p->axisRect()->rect();
  const QList<QRectF> data = v->dataRects(p->axisRect());
  int naiveHits = 0;
  for (int i = 0; i < 2; ++i) {
    const double X = p->xAxis->coordToPixel(i == 0 ? 5.5 : 6.5), w = labels[i].width(), h = labels[i].height();
    const double bottom = area.top() + 0.98 * area.height();
    const QRectF naive(i == 0 ? X - w : X, bottom - h, w, h);
    for (const QRectF& d : data) naiveHits += naive.intersects(d) ? 1 : 0;
    // Each label stays beside its own line.
    EXPECT_TRUE(std::abs(labels[i].left() - X) < 1 || std::abs(labels[i].right() - X) < 1) << "label " << i;
  }
  EXPECT_GT(naiveHits, 0) << "the test's profiles do not block the old place";
  expectComLabelsClear(*v, "blocked profiles");
  // Both labels left on one side of the lines (the same preferred side), crossing each other's line: apart.
  b.stats->centreOfMassRope = 5.6;
  expectComLabelsClear(*views::makeFigure(views::FigureKind::Profile, b, oneColumn()), "centres 0.1 apart");

  // And on the synthetic results at one column, 8 to 32 layers, one axis and twin axes.
  for (int L : {8, 12, 24, 32})
    for (unsigned seed : {7u, 11u}) {
      const auto r = synthetic(tmp, L, seed);
      for (bool normalise : {true, false}) {
        views::FigureStyle st = oneColumn();
        st.normalise = normalise;
        expectComLabelsClear(*views::makeFigure(views::FigureKind::Profile, r, st),
                             "L=" + std::to_string(L) + " seed=" + std::to_string(seed) + (normalise ? "" : " twin"));
      }
    }
}

TEST(Figures, HeatmapDrawsTheLinkedSelectionAboveItsColourMap) {
  QTemporaryDir tmp;
  const auto b = synthetic(tmp, 12, 7);
  views::LayerSelection sel;
  auto v = views::makeFigure(views::FigureKind::Heatmap, b, oneColumn(), &sel);
  auto* heat = qobject_cast<views::HeatmapView*>(v.get());
  ASSERT_NE(heat, nullptr);
  sel.setLayers({3, 4});
  QCustomPlot* p = v->plot();
  QCPAbstractItem* band = nullptr;
  for (int i = 0; i < p->itemCount(); ++i)
    if (qobject_cast<QCPItemRect*>(p->item(i))) band = p->item(i);
  ASSERT_NE(band, nullptr);
  EXPECT_GT(band->layer()->index(), heat->colorMap()->layer()->index()) << "the band is drawn under the opaque map";

  // And it shows in the pixels: rendering with and without the selection differs inside the map.
  const views::FigureStyle s = oneColumn();
  const QImage with = p->toPixmap(s.widthUnits(), s.heightUnits()).toImage();
  sel.clear();
  const QImage without = p->toPixmap(s.widthUnits(), s.heightUnits()).toImage();
  EXPECT_NE(with, without);
}

TEST(Figures, ExportLeavesTheSelectionOutUnlessAsked) {
  QTemporaryDir tmp;
  const auto b = synthetic(tmp, 12, 7);
  views::LayerSelection sel;
  views::FigureStyle s = oneColumn();
  s.dpi = 72;
  s.dataCsv = false;
  auto render = [&](bool selected, bool ask, const QString& name) {
    sel.setLayers(selected ? QVector<int>{2, 3} : QVector<int>{});
    views::FigureStyle st = s;
    st.exportSelection = ask;
    auto v = views::makeFigure(views::FigureKind::Profile, b, st, &sel);
    const QString file = tmp.filePath(name);
    views::exportFigure(*v, file, st);
    return QImage(file);
  };
  const QImage plain = render(false, false, QStringLiteral("plain.png"));
  const QImage selectedNotAsked = render(true, false, QStringLiteral("sel.png"));
  const QImage selectedAsked = render(true, true, QStringLiteral("asked.png"));
  ASSERT_FALSE(plain.isNull());
  EXPECT_EQ(plain, selectedNotAsked) << "the transient selection band was baked into the export";
  EXPECT_NE(plain, selectedAsked) << "asked for, the selection must be drawn";

  // The on-screen view keeps its band after an export.
  sel.setLayers({5});
  auto v = views::makeFigure(views::FigureKind::Profile, b, s, &sel);
  views::exportFigure(*v, tmp.filePath(QStringLiteral("again.png")), s);
  EXPECT_TRUE(v->selectionShown());
}

TEST(Figures, RedundancyIsLabelledAsSimilarityInTheTableAndItsComplementInThePlot) {
  QTemporaryDir tmp;
  const auto b = synthetic(tmp, 12, 7);
  ASSERT_TRUE(b.layers.has_value());
  views::LayersTableModel model;
  model.setTable(*b.layers);
  bool found = false;
  for (int c = 1; c < model.columnCount(); ++c) {
    const QString h = model.headerData(c, Qt::Horizontal).toString();
    if (!h.startsWith(QLatin1String("redundancy."))) continue;
    found = true;
    EXPECT_TRUE(h.contains(QStringLiteral("similarity"))) << h.toStdString();
    EXPECT_TRUE(model.headerData(c, Qt::Horizontal, Qt::ToolTipRole).toString().contains(QStringLiteral("1 \u2212 similarity")));
  }
  EXPECT_TRUE(found);
  auto v = views::makeFigure(views::FigureKind::Redundancy, b, oneColumn());
  EXPECT_TRUE(v->plot()->yAxis->label().contains(QStringLiteral("1 \u2212 cos similarity")));
}
