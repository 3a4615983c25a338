#include "views/plot_view.h"

#include <QToolTip>
#include <QVBoxLayout>
#include <cmath>

namespace layerscope::views {

PlotView::PlotView(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(plot_);
  plot_->setMouseTracking(true);
  plot_->setInteractions({});  // click / drag select layers; no pan / zoom that would fight it
  plot_->addLayer(QStringLiteral("selection"), plot_->layer(QStringLiteral("grid")), QCustomPlot::limAbove);
  plot_->addLayer(QStringLiteral("selectionOverData"), plot_->layer(QStringLiteral("main")), QCustomPlot::limAbove);
  connect(plot_, &QCustomPlot::mousePress, this, &PlotView::onPress);
  connect(plot_, &QCustomPlot::mouseMove, this, &PlotView::onMove);
  connect(plot_, &QCustomPlot::mouseRelease, this, &PlotView::onRelease);
  plot_->installEventFilter(this);  // wheel: QCustomPlot accepts every wheel event itself, so filter before it
  setFocusPolicy(Qt::StrongFocus);  // a click on the plot focuses the view: + / - / arrows / 0 act on it
  buildViewActions();
  setMinimumSize(320, 220);
}

void PlotView::setFigureStyle(const FigureStyle& s) {
  style_ = s;
  rebuild();
}

void PlotView::setSelection(LayerSelection* selection) {
  if (selection_) disconnect(selection_, nullptr, this, nullptr);
  selection_ = selection;
  if (selection_) connect(selection_, &LayerSelection::changed, this, [this] { redrawSelection(); });
  redrawSelection();
}

void PlotView::setSelectionShown(bool shown) {
  if (shown == selectionShown_) return;
  selectionShown_ = shown;
  redrawSelection();
}

void PlotView::layoutAt(int width, int height) {
  // What QCustomPlot::replot / savePdf do before drawing: the viewport, then the three layout passes.
  plot_->setViewport(QRect(0, 0, width, height));
  for (auto phase : {QCPLayoutElement::upPreparation, QCPLayoutElement::upMargins, QCPLayoutElement::upLayout})
    plot_->plotLayout()->update(phase);
}

QList<QRectF> PlotView::dataRects(QCPAxisRect* rect) const {
  QList<QRectF> out;
  for (int i = 0; i < plot_->plottableCount(); ++i) {
    QCPAbstractPlottable* pl = plot_->plottable(i);
    if (!pl->visible() || pl->keyAxis()->axisRect() != rect) continue;
    QCPAxis* k = pl->keyAxis();
    QCPAxis* v = pl->valueAxis();
    auto px = [&](double key, double value) { return QPointF(k->coordToPixel(key), v->coordToPixel(value)); };
    if (auto* g = qobject_cast<QCPGraph*>(pl)) {
      const double r = std::max(2.0, g->scatterStyle().size() / 2 + 1);
      bool havePrev = false;
      QPointF prev;
      for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) {
        if (std::isnan(it->value)) {
          havePrev = false;
          continue;
        }
        const QPointF p = px(it->key, it->value);
        out << QRectF(p.x() - r, p.y() - r, 2 * r, 2 * r);
        if (havePrev && g->lineStyle() != QCPGraph::lsNone)
          for (int t = 1; t < 8; ++t) {
            const QPointF q = prev + (p - prev) * (t / 8.0);
            out << QRectF(q.x() - 1, q.y() - 1, 2, 2);
          }
        prev = p;
        havePrev = true;
      }
    } else if (auto* b = qobject_cast<QCPBars*>(pl)) {
      const double half = b->barsGroup() ? 0.45 : b->width() / 2;
      for (auto it = b->data()->constBegin(); it != b->data()->constEnd(); ++it)
        if (!std::isnan(it->value) && it->value != 0)
          out << QRectF(px(it->key - half, 0), px(it->key + half, it->value)).normalized();
    }
  }
  return out;
}

void PlotView::placeLegendClearOfData(bool allowHeadroom) {
  // Measured with the final fonts and title rows: rebuild() runs it after build() and applyStyle().
  legendPlacement_ = allowHeadroom ? 2 : 1;
}

void PlotView::placeLegendNow(bool allowHeadroom) {
  QCPLegend* legend = plot_->legend;
  QCPAxisRect* rect = plot_->axisRect();
  if (!legend || legend->itemCount() == 0) return;
  legend->setVisible(true);
  auto setColumns = [legend](int columns) {
    legend->setWrap(columns);
    // foColumnsFirst: a row takes `columns` entries, then wraps (foRowsFirst would make `columns` the number of
    // rows per column, so "5 columns" came out as one tall column). `true` re-flows the entries.
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
  };
  QCPLayoutInset* inset = rect->insetLayout();
  const int w = style_.widthUnits(), h = style_.heightUnits();
  const QRect viewport = plot_->viewport();
  auto covers = [&] {
    const QRectF l = QRectF(legend->outerRect()).adjusted(-1, -1, 1, 1);
    if (!QRectF(rect->rect()).contains(QRectF(legend->outerRect()))) return true;
    for (const QRectF& d : dataRects(rect))
      if (l.intersects(d)) return true;
    return false;
  };
  const Qt::Alignment corners[] = {Qt::AlignTop | Qt::AlignLeft, Qt::AlignTop | Qt::AlignRight,
                                   Qt::AlignTop | Qt::AlignHCenter, Qt::AlignBottom | Qt::AlignRight,
                                   Qt::AlignBottom | Qt::AlignLeft};
  const int n = legend->itemCount();
  bool placed = false;
  for (int columns = 1; columns <= std::min(2, n) && !placed; ++columns) {
    setColumns(columns);
    for (Qt::Alignment c : corners) {
      inset->setInsetAlignment(0, c);
      layoutAt(w, h);
      if (!covers()) {
        placed = true;
        break;
      }
    }
  }
  // Headroom: raise the value axis so the data ends below a legend across the top.
  for (int columns = std::min(n, 3); allowHeadroom && !placed && columns >= 1; --columns) {
    setColumns(columns);
    inset->setInsetAlignment(0, Qt::AlignTop | Qt::AlignHCenter);
    layoutAt(w, h);
    if (!QRectF(rect->rect()).contains(QRectF(legend->outerRect()))) continue;
    const double H = rect->height(), f = (legend->outerRect().bottom() - rect->top() + style_.pen(2)) / std::max(1.0, H);
    if (f > 0.4) continue;
    QCPAxis* v = plot_->yAxis;
    double vmax = -INFINITY;
    for (int i = 0; i < plot_->plottableCount(); ++i) {
      QCPAbstractPlottable* pl = plot_->plottable(i);
      if (pl->valueAxis() != v || !pl->visible()) continue;
      bool found = false;
      const QCPRange r = pl->getValueRange(found);
      if (found) vmax = std::max(vmax, r.upper);
    }
    if (!std::isfinite(vmax) || v->rangeReversed()) break;
    const QCPRange r = v->range();
    v->setRange(r.lower, std::max(r.upper, (vmax - f * r.lower) / (1 - f)));
    layoutAt(w, h);
    if (!covers()) placed = true;
    else v->setRange(r);
  }
  plot_->setViewport(viewport);
  if (placed) {
    legend->setBorderPen(Qt::NoPen);
    return;
  }
  // Below the plot, in as many columns as fit the width.
  int columns = n;
  for (; columns > 1; --columns) {
    setColumns(columns);
    if (legend->minimumOuterSizeHint().width() <= w) break;
  }
  placeLegendBelow(columns);
}

void PlotView::rebuild() {
  plot_->clearItems();
  plot_->clearPlottables();
  plot_->clearGraphs();
  selectionItems_.clear();
  rubber_ = nullptr;
  // A fresh main axis rect and legend each time; views add title rows, colour scales and extra rects.
  plot_->plotLayout()->clear();
  plot_->plotLayout()->simplify();
  auto* rect = new QCPAxisRect(plot_, true);
  plot_->plotLayout()->addElement(0, 0, rect);
  plot_->xAxis = rect->axis(QCPAxis::atBottom);
  plot_->yAxis = rect->axis(QCPAxis::atLeft);
  plot_->xAxis2 = rect->axis(QCPAxis::atTop);
  plot_->yAxis2 = rect->axis(QCPAxis::atRight);
  plot_->xAxis2->setVisible(false);
  plot_->yAxis2->setVisible(false);
  auto* legend = new QCPLegend;
  rect->insetLayout()->addElement(legend, Qt::AlignRight | Qt::AlignTop);
  rect->insetLayout()->setMargins(QMargins(6, 6, 6, 6));
  legend->setLayer(QStringLiteral("legend"));
  legend->setVisible(false);
  plot_->legend = legend;
  legendBelow_ = false;
  legendPlacement_ = 0;
  layerAxes_.clear();
  applyStyle(plot_, style_);  // fonts first: legend entries and measurements in build() use them
  build();
  applyStyle(plot_, style_);
  fitLayerLabels();
  if (legendPlacement_) placeLegendNow(legendPlacement_ == 2);
  {
    const QRect viewport = plot_->viewport();
    placeAfterLayout();
    plot_->setViewport(viewport);
  }
  applyViewRanges();  // a zoomed view stays zoomed when points arrive or the style changes
  redrawSelection();
}

void PlotView::setTitle(const QString& text) {
  QCPLayoutGrid* layout = plot_->plotLayout();
  layout->insertRow(0);
  auto* title = new QCPTextElement(plot_, text, style_.font(1, true));
  title->setMargins(QMargins(0, int(std::lround(style_.pen(2))), 0, 0));
  layout->addElement(0, 0, title);
}

void PlotView::placeLegendBelow(int columns) {
  QCPLegend* legend = plot_->legend;
  plot_->axisRect()->insetLayout()->take(legend);
  plot_->axisRect()->insetLayout()->simplify();
  QCPLayoutGrid* layout = plot_->plotLayout();
  const int row = layout->rowCount();
  layout->addElement(row, 0, legend);
  legend->setWrap(columns);
  legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);  // `columns` entries per row; true: re-flow them
  legend->setBorderPen(Qt::NoPen);
  legend->setMaximumSize(QWIDGETSIZE_MAX, QWIDGETSIZE_MAX);
  layout->setRowStretchFactor(row, 0.001);
  legend->setVisible(true);
  legendBelow_ = true;
}

void PlotView::tickEveryLayer(QCPAxis* axis, int layers) {
  // Ticks at every integer layer, every one labelled for now; fitLayerLabels() thins the labels once the plot
  // is laid out at the figure size (rebuild(), after the fonts are set).
  QSharedPointer<QCPAxisTickerText> t(new QCPAxisTickerText);
  for (int l = 0; l < layers; ++l) t->addTick(l, QString::number(l));
  axis->setTicker(t);
  axis->setSubTicks(false);
  axis->grid()->setZeroLinePen(Qt::NoPen);  // a zero line at layer 0 would cut through its bars and markers
  layerAxes_.push_back({axis, layers});
}

void PlotView::fitLayerLabels() {
  if (layerAxes_.isEmpty()) return;
  const QRect viewport = plot_->viewport();
  layoutAt(style_.widthUnits(), style_.heightUnits());
  for (const auto& [axis, layers] : layerAxes_) {
    // Every layer labelled when the widest label plus a quarter digit of gap fits the room one layer gets on
    // the laid-out axis, else every layer with the labels turned upright (a label then needs one line height),
    // else every 2nd / 4th / 5th ... label, flat or upright, whichever labels more (the ticks stay on every layer).
    const QFontMetricsF fm(axis->tickLabelFont());
    const double gap = 0.25 * fm.horizontalAdvance(QLatin1Char('0'));
    const double flat = fm.horizontalAdvance(QString::number(std::max(0, layers - 1))) + gap, upright = fm.height() + gap;
    const double perLayer = std::abs(axis->coordToPixel(1) - axis->coordToPixel(0));
    int every = 1;
    bool rotate = false;
    for (int step : {1, 2, 4, 5, 8, 10, 16, 20, 50, 100}) {
      every = step;
      if (perLayer * step >= flat) break;
      if (perLayer * step >= upright) {
        rotate = true;
        break;
      }
    }
    axis->setTickLabelRotation(rotate ? -90 : 0);
    QSharedPointer<QCPAxisTickerText> t(new QCPAxisTickerText);
    for (int l = 0; l < layers; ++l) t->addTick(l, l % every == 0 ? QString::number(l) : QString());
    axis->setTicker(t);
  }
  plot_->setViewport(viewport);
}

QVector<int> PlotView::layersForDrag(double x0, double, double x1, double) const {
  const int n = layerCount();
  QVector<int> out;
  if (n == 0) return out;
  int a = int(std::lround(std::min(x0, x1))), b = int(std::lround(std::max(x0, x1)));
  a = std::max(a, 0);
  b = std::min(b, n - 1);
  for (int l = a; l <= b; ++l) out.push_back(l);
  return out;
}

void PlotView::drawSelectionBands(QCPAxisRect* rect, double halfWidth, bool overData) {
  if (!selection_ || !selectionShown_) return;
  for (const auto& [first, last] : selection_->runs()) {
    auto* band = new QCPItemRect(plot_);
    band->setLayer(overData ? QStringLiteral("selectionOverData") : QStringLiteral("selection"));
    band->setClipAxisRect(rect);
    band->topLeft->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    band->bottomRight->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    band->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
    band->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
    band->topLeft->setAxisRect(rect);
    band->bottomRight->setAxisRect(rect);
    band->topLeft->setCoords(first - halfWidth, 0);
    band->bottomRight->setCoords(last + halfWidth, 1);
    if (overData) {
      // Over an opaque map: a strong outline and a faint wash, so the cells stay readable.
      band->setPen(QPen(QColor(255, 120, 0), style_.pen(1.6)));
      band->setBrush(QColor(255, 255, 255, 50));
    } else {
      band->setPen(QPen(QColor(230, 140, 0), style_.pen(0.8)));
      band->setBrush(selectionColor());
    }
    band->setSelectable(false);
    selectionItems_.push_back(band);
  }
}

void PlotView::redrawSelection() {
  for (QCPAbstractItem* it : selectionItems_) plot_->removeItem(it);
  selectionItems_.clear();
  if (hasData() && layerCount() > 0) drawSelection();
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

void PlotView::onPress(QMouseEvent* e) {
  const bool left = e->button() == Qt::LeftButton;
  if (hasData() && (e->button() == Qt::MiddleButton || (left && ((e->modifiers() & Qt::ShiftModifier) || layerCount() == 0)))) {
    panRect_ = plot_->axisRectAt(e->position());
    panning_ = panRect_ != nullptr;
    panLast_ = e->position();
    return;
  }
  if (!left || layerCount() == 0 || !hasData()) return;
  QCPAxisRect* rect = plot_->axisRectAt(e->position());
  if (!rect) return;
  dragging_ = true;
  dragStart_ = {rect->axis(QCPAxis::atBottom)->pixelToCoord(e->position().x()),
                rect->axis(QCPAxis::atLeft)->pixelToCoord(e->position().y())};
}

void PlotView::onMove(QMouseEvent* e) {
  if (panning_) {
    panPixels(panRect_, panLast_, e->position());
    panLast_ = e->position();
    return;
  }
  QCPAxisRect* rect = plot_->axisRect();
  const double key = rect->axis(QCPAxis::atBottom)->pixelToCoord(e->position().x());
  const double value = rect->axis(QCPAxis::atLeft)->pixelToCoord(e->position().y());
  if (dragging_) {
    if (!rubber_) {
      rubber_ = new QCPItemRect(plot_);
      rubber_->setLayer(QStringLiteral("overlay"));
      rubber_->setPen(QPen(QColor(230, 140, 0), 1, Qt::DashLine));
      rubber_->setBrush(QColor(255, 170, 0, 40));
    }
    rubber_->topLeft->setCoords(std::min(dragStart_.x(), key), std::max(dragStart_.y(), value));
    rubber_->bottomRight->setCoords(std::max(dragStart_.x(), key), std::min(dragStart_.y(), value));
    plot_->replot(QCustomPlot::rpQueuedReplot);
    return;
  }
  if (!hasData() || !rect->rect().contains(e->position().toPoint())) {
    QToolTip::hideText();
    return;
  }
  const QString tip = tooltipAt(key, value);
  if (tip.isEmpty()) QToolTip::hideText();
  else QToolTip::showText(e->globalPosition().toPoint(), tip, plot_);
}

void PlotView::onRelease(QMouseEvent* e) {
  if (panning_) {
    panning_ = false;
    return;
  }
  if (!dragging_) return;
  dragging_ = false;
  if (rubber_) {
    plot_->removeItem(rubber_);
    rubber_ = nullptr;
  }
  QCPAxisRect* rect = plot_->axisRect();
  const double x1 = rect->axis(QCPAxis::atBottom)->pixelToCoord(e->position().x());
  const double y1 = rect->axis(QCPAxis::atLeft)->pixelToCoord(e->position().y());
  QVector<int> layers = layersForDrag(dragStart_.x(), dragStart_.y(), x1, y1);
  // Ctrl-click adds to the selection; a plain click on the only selected layer clears it.
  if (selection_ && (e->modifiers() & Qt::ControlModifier)) layers += selection_->layers();
  else if (selection_ && layers.size() == 1 && selection_->layers() == layers) layers.clear();
  Q_EMIT layersSelected(layers);
  if (selection_) selection_->setLayers(layers);
  else plot_->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace layerscope::views
