// views_tests, Zoom (main() is in views_test.cpp): synthetic wheel, mouse and key events on offscreen plot views:
// the wheel zooms about the cursor, middle and Shift + left drags pan without selecting, a left drag still
// selects, + / - / arrows / 0 / Home, the context menu's Reset view, the zoom kept across a rebuild, the wheel
// left to a scrolling dock unless the plot has focus, and exports drawing the full figure unless asked.
#include <gtest/gtest.h>

#include <QAction>
#include <QApplication>
#include <QImage>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QScrollArea>
#include <QScrollBar>
#include <QTemporaryDir>
#include <QVBoxLayout>
#include <QWheelEvent>

#include "results/reader.h"
#include "results/synthetic.h"
#include "views/figure_export.h"
#include "views/loss_curve_view.h"
#include "views/profile_view.h"

using namespace layerscope;

namespace {

struct Zoom : ::testing::Test {
  QTemporaryDir tmp;
  std::optional<results::ResultsBundle> bundle;
  views::LayerSelection sel;
  void SetUp() override {
    results::writeSyntheticResults(tmp.filePath(QStringLiteral("r")).toStdString(), 16, 2);
    bundle = results::readResultsDir(tmp.filePath(QStringLiteral("r")).toStdString());
  }
  void show(views::PlotView& v) {
    v.resize(640, 420);
    v.show();
    v.plot()->replot();  // lays the axis rect out at the widget size
  }
};

void wheel(QWidget* target, QPointF pos, int delta, Qt::KeyboardModifiers mods = Qt::NoModifier) {
  QWheelEvent e(pos, target->mapToGlobal(pos), QPoint(), QPoint(0, delta), Qt::NoButton, mods, Qt::NoScrollPhase, false);
  QApplication::sendEvent(target, &e);
}

void drag(QWidget* target, QPointF from, QPointF to, Qt::MouseButton button, Qt::KeyboardModifiers mods = Qt::NoModifier) {
  QMouseEvent press(QEvent::MouseButtonPress, from, target->mapToGlobal(from), button, button, mods);
  QApplication::sendEvent(target, &press);
  for (int i = 1; i <= 4; ++i) {
    const QPointF p = from + (to - from) * (i / 4.0);
    QMouseEvent move(QEvent::MouseMove, p, target->mapToGlobal(p), Qt::NoButton, button, mods);
    QApplication::sendEvent(target, &move);
  }
  QMouseEvent release(QEvent::MouseButtonRelease, to, target->mapToGlobal(to), button, Qt::NoButton, mods);
  QApplication::sendEvent(target, &release);
}

void key(QWidget* target, int k) {
  QKeyEvent e(QEvent::KeyPress, k, Qt::NoModifier);
  QApplication::sendEvent(target, &e);
}

double span(const QCPRange& r) { return r.upper - r.lower; }

}  // namespace

TEST_F(Zoom, WheelDragAndKeysZoomAndPanThenResetRestoresTheFullFigure) {
  views::ProfileView v;
  v.setSelection(&sel);
  v.setData(*bundle->scores, bundle->stats);
  show(v);
  QCPAxis* x = v.plot()->xAxis;
  QCPAxis* y = v.plot()->yAxis;
  const QCPRange x0 = x->range(), y0 = y->range();
  const QPointF c = v.plot()->axisRect()->rect().center() + QPointF(60, 20);
  const double keyAtC = x->pixelToCoord(c.x()), valueAtC = y->pixelToCoord(c.y());

  // Wheel: one notch in zooms both axes by 0.85 about the cursor (the point under it stays under it).
  wheel(v.plot(), c, 120);
  EXPECT_NEAR(span(x->range()), 0.85 * span(x0), 1e-9);
  EXPECT_NEAR(span(y->range()), 0.85 * span(y0), 1e-9);
  EXPECT_NEAR(x->pixelToCoord(c.x()), keyAtC, 1e-9);
  EXPECT_NEAR(y->pixelToCoord(c.y()), valueAtC, 1e-9);
  EXPECT_TRUE(v.isZoomed());

  // Middle drag pans: the data point under the press ends under the release; nothing is selected.
  const QCPRange x1 = x->range();
  const double keyAtStart = x->pixelToCoord(c.x());
  drag(v.plot(), c, c + QPointF(80, 0), Qt::MiddleButton);
  // (within 3 px: new tick labels can change the axis margins by a pixel or two while panning)
  EXPECT_NEAR(x->coordToPixel(keyAtStart), c.x() + 80, 3.0);
  EXPECT_NEAR(span(x->range()), span(x1), 1e-9);
  EXPECT_LT(x->range().lower, x1.lower);
  EXPECT_TRUE(sel.layers().isEmpty());
  // Shift + left drag pans too (a plain left drag is the layer selection).
  const QCPRange x2 = x->range();
  drag(v.plot(), c, c + QPointF(-50, 0), Qt::LeftButton, Qt::ShiftModifier);
  EXPECT_NEAR((x->range().lower - x2.lower) / (x->pixelToCoord(c.x()) - x->pixelToCoord(c.x() - 50)), 1.0, 0.06);
  EXPECT_TRUE(sel.layers().isEmpty());
  drag(v.plot(), c, c + QPointF(40, 0), Qt::LeftButton);
  EXPECT_FALSE(sel.layers().isEmpty());
  sel.clear();

  // Keys: + zooms in by 1.25 about the centre, - zooms back, arrows move a tenth of the range.
  const QCPRange x3 = x->range();
  key(&v, Qt::Key_Plus);
  EXPECT_NEAR(span(x->range()), span(x3) / 1.25, 1e-9);
  EXPECT_NEAR(x->range().center(), x3.center(), 1e-9);
  key(&v, Qt::Key_Minus);
  EXPECT_NEAR(span(x->range()), span(x3), 1e-9);
  key(&v, Qt::Key_Right);
  EXPECT_NEAR(x->range().lower, x3.lower + 0.1 * span(x3), 1e-9);
  const QCPRange yBefore = y->range();
  key(&v, Qt::Key_Up);
  EXPECT_NEAR(y->range().lower, yBefore.lower + 0.1 * span(yBefore), 1e-9);

  // A rebuild (style change, new points) keeps the view; 0 resets it to the ranges of the full figure.
  const QCPRange zoomed = x->range();
  v.setFigureStyle(v.figureStyle());
  EXPECT_NEAR(v.plot()->xAxis->range().lower, zoomed.lower, 1e-9);
  key(&v, Qt::Key_0);
  EXPECT_FALSE(v.isZoomed());
  EXPECT_NEAR(v.plot()->xAxis->range().lower, x0.lower, 1e-9);
  EXPECT_NEAR(v.plot()->xAxis->range().upper, x0.upper, 1e-9);
  EXPECT_NEAR(v.plot()->yAxis->range().upper, y0.upper, 1e-9);
  // Home and the context menu's Reset view do the same.
  wheel(v.plot(), c, 240);
  key(&v, Qt::Key_Home);
  EXPECT_FALSE(v.isZoomed());
  wheel(v.plot(), c, -120);
  EXPECT_NEAR(span(v.plot()->xAxis->range()), span(x0) / 0.85, 1e-9);
  QAction* reset = nullptr;
  for (QAction* a : v.viewActions())
    if (a->text().startsWith(QStringLiteral("Reset view"))) reset = a;
  ASSERT_NE(reset, nullptr);
  EXPECT_TRUE(v.actions().contains(reset));  // on the widget: its context menu (Qt::ActionsContextMenu)
  EXPECT_EQ(v.contextMenuPolicy(), Qt::ActionsContextMenu);
  reset->trigger();
  EXPECT_FALSE(v.isZoomed());
  EXPECT_NEAR(v.plot()->xAxis->range().upper, x0.upper, 1e-9);
}

TEST_F(Zoom, PlotsWithoutALayerAxisPanWithAPlainDragAndDocksScrollUnlessFocused) {
  QScrollArea area;
  auto* content = new QWidget;
  auto* layout = new QVBoxLayout(content);
  auto* loss = new views::LossCurveView;
  loss->setMinimumHeight(300);
  layout->addWidget(loss);
  layout->addSpacing(2000);
  area.setWidget(content);
  area.setWidgetResizable(true);
  area.resize(500, 400);
  area.show();
  loss->setData({1, 2, 3, 4, 5, 6, 7, 8}, {4, 3, 2.5, 2, 1.8, 1.6, 1.5, 1.4}, 8);
  loss->plot()->replot();
  QCPAxis* x = loss->plot()->xAxis;
  const QCPRange x0 = x->range();
  const QPointF c = loss->plot()->axisRect()->rect().center();
  // Unfocused, inside a scrolling dock: the wheel scrolls the dock, the plot stays.
  ASSERT_FALSE(loss->hasFocus());
  wheel(loss->plot(), c, -120);
  EXPECT_GT(area.verticalScrollBar()->value(), 0);
  EXPECT_FALSE(loss->isZoomed());
  // Ctrl + wheel zooms there; a plain left drag pans (no layer axis to select on).
  wheel(loss->plot(), c, 120, Qt::ControlModifier);
  EXPECT_NEAR(span(x->range()), 0.85 * span(x0), 1e-9);
  const QCPRange x1 = x->range();
  drag(loss->plot(), c, c + QPointF(-60, 0), Qt::LeftButton);
  EXPECT_GT(x->range().lower, x1.lower);
  EXPECT_NEAR(span(x->range()), span(x1), 1e-9);
  // New points keep the zoomed region (a live curve does not jump back while the user looks at a part of it).
  const QCPRange x2 = x->range();
  loss->appendPoints({9}, {1.3});  // a rebuild: new axis objects
  EXPECT_NEAR(loss->plot()->xAxis->range().lower, x2.lower, 1e-9);
  EXPECT_NEAR(loss->plot()->xAxis->range().upper, x2.upper, 1e-9);
}

TEST_F(Zoom, ExportsDrawTheFullFigureUnlessAskedAndKeepTheViewZoomed) {
  views::FigureStyle style = views::withPreset(views::FigureStyle{}, views::SizePreset::OneColumn);
  style.dpi = 100;
  style.dataCsv = false;
  views::ProfileView zoomed, plain;
  for (views::ProfileView* v : {&zoomed, &plain}) {
    v->setData(*bundle->scores, bundle->stats);
    v->setFigureStyle(style);
    show(*v);
  }
  wheel(zoomed.plot(), zoomed.plot()->axisRect()->rect().center(), 360);
  key(&zoomed, Qt::Key_Left);
  const views::PlotView::ViewRanges ranges = zoomed.viewRanges();
  ASSERT_FALSE(ranges.isEmpty());
  const QString a = tmp.filePath(QStringLiteral("zoomed.png")), b = tmp.filePath(QStringLiteral("plain.png")),
                asked = tmp.filePath(QStringLiteral("asked.png"));
  views::exportFigure(zoomed, a, style);
  views::exportFigure(plain, b, style);
  const QImage ia(a), ib(b);
  ASSERT_FALSE(ia.isNull());
  EXPECT_EQ(ia.size(), QSize(350, 250));  // the preset's paper size at 100 dpi, not the widget's
  EXPECT_TRUE(ia == ib) << "a zoomed view exported differently from the full figure";
  EXPECT_EQ(zoomed.viewRanges(), ranges);  // the view on screen stays zoomed
  style.exportZoom = true;
  views::exportFigure(zoomed, asked, style);
  EXPECT_FALSE(QImage(asked) == ib) << "exportZoom drew the full figure";
  EXPECT_EQ(zoomed.viewRanges(), ranges);
}
