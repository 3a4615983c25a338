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
  connect(plot_, &QCustomPlot::mousePress, this, &PlotView::onPress);
  connect(plot_, &QCustomPlot::mouseMove, this, &PlotView::onMove);
  connect(plot_, &QCustomPlot::mouseRelease, this, &PlotView::onRelease);
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
  build();
  applyStyle(plot_, style_);
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
  legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);  // true: re-flow the existing entries
  legend->setBorderPen(Qt::NoPen);
  legend->setMaximumSize(QWIDGETSIZE_MAX, QWIDGETSIZE_MAX);
  layout->setRowStretchFactor(row, 0.001);
  legend->setVisible(true);
  legendBelow_ = true;
}

void PlotView::tickEveryLayer(QCPAxis* axis, int layers) const {
  // Ticks at every integer layer; with many layers label every 2nd / 4th so labels never overlap.
  QSharedPointer<QCPAxisTickerText> t(new QCPAxisTickerText);
  // About 70% of the figure width is plot area; a two-digit label needs ~2.2 em of room.
  const double unitsPerLayer = 0.7 * style_.widthUnits() / std::max(1.0, double(layers)) / style_.pxPerPt;
  int every = 1;
  for (int step : {1, 2, 4, 5, 8, 10, 16, 20}) {
    every = step;
    if (unitsPerLayer * step >= 2.2 * style_.fontPt) break;
  }
  for (int l = 0; l < layers; ++l) t->addTick(l, l % every == 0 ? QString::number(l) : QString());
  axis->setTicker(t);
  axis->setSubTicks(false);
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

void PlotView::drawSelectionBands(QCPAxisRect* rect, double halfWidth) {
  if (!selection_) return;
  for (const auto& [first, last] : selection_->runs()) {
    auto* band = new QCPItemRect(plot_);
    band->setLayer(QStringLiteral("selection"));
    band->setClipAxisRect(rect);
    band->topLeft->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    band->bottomRight->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    band->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
    band->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
    band->topLeft->setAxisRect(rect);
    band->bottomRight->setAxisRect(rect);
    band->topLeft->setCoords(first - halfWidth, 0);
    band->bottomRight->setCoords(last + halfWidth, 1);
    band->setPen(QPen(QColor(230, 140, 0), style_.pen(0.8)));
    band->setBrush(selectionColor());
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
  if (e->button() != Qt::LeftButton || layerCount() == 0 || !hasData()) return;
  QCPAxisRect* rect = plot_->axisRectAt(e->position());
  if (!rect) return;
  dragging_ = true;
  dragStart_ = {rect->axis(QCPAxis::atBottom)->pixelToCoord(e->position().x()),
                rect->axis(QCPAxis::atLeft)->pixelToCoord(e->position().y())};
}

void PlotView::onMove(QMouseEvent* e) {
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
