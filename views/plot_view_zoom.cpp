// PlotView zoom and pan (plot_view.h): wheel, drag and keys change the axis ranges; the ranges are kept as the
// view's state so a rebuild (new points, a style change) shows the same region until Reset view.
#include <QAction>
#include <QCoreApplication>
#include <QKeyEvent>
#include <QScrollArea>
#include <QWheelEvent>
#include <cmath>

#include "views/plot_view.h"

namespace layerscope::views {
namespace {

constexpr double kZoomStep = 1.25;  // one key press; one wheel notch is 0.85

bool horizontal(const QCPAxis* a) { return a->orientation() == Qt::Horizontal; }

/// The rect's axes in a fixed order (QCPAxisRect::axes() walks a hash: its order can differ between two rects).
QList<QCPAxis*> orderedAxes(const QCPAxisRect* rect) {
  QList<QCPAxis*> out;
  for (QCPAxis::AxisType t : {QCPAxis::atBottom, QCPAxis::atLeft, QCPAxis::atTop, QCPAxis::atRight}) out += rect->axes(t);
  return out;
}

/// The first scroll area around `w`, or null.
QScrollArea* scrollAreaAround(QWidget* w) {
  for (QWidget* p = w->parentWidget(); p; p = p->parentWidget())
    if (auto* a = qobject_cast<QScrollArea*>(p)) return a;
  return nullptr;
}

}  // namespace

void PlotView::buildViewActions() {
  // The key in the menu text (after a tab, drawn as the shortcut column); the keys themselves are keyPressEvent's,
  // so they act on the focused plot only.
  auto add = [this](const QString& text, auto slot) {
    auto* a = new QAction(text, this);
    connect(a, &QAction::triggered, this, slot);
    addAction(a);
    viewActions_ << a;
  };
  add(tr("Zoom in\t+"), [this] { zoomBy(1 / kZoomStep); });
  add(tr("Zoom out\t-"), [this] { zoomBy(kZoomStep); });
  add(tr("Reset view\t0 / Home"), [this] { resetView(); });
  setContextMenuPolicy(Qt::ActionsContextMenu);
}

void PlotView::zoomBy(double factor, std::optional<QPointF> centerPx) {
  if (!hasData() || !(factor > 0)) return;
  // Lay out at the widget's size first: a rebuild since the last paint leaves the layout at the figure size.
  layoutAt(plot_->viewport().width(), plot_->viewport().height());
  QCPAxisRect* rect = centerPx ? plot_->axisRectAt(*centerPx) : plot_->axisRect();
  if (!rect) return;
  for (QCPAxis* a : orderedAxes(rect)) {
    const double center = centerPx ? a->pixelToCoord(horizontal(a) ? centerPx->x() : centerPx->y()) : a->range().center();
    if (a->scaleType() == QCPAxis::stLogarithmic && !centerPx) {
      a->scaleRange(factor, std::sqrt(a->range().lower * a->range().upper));  // the geometric centre
    } else {
      a->scaleRange(factor, center);
    }
  }
  captureView();
}

void PlotView::panBy(double fx, double fy) {
  if (!hasData()) return;
  layoutAt(plot_->viewport().width(), plot_->viewport().height());
  QCPAxisRect* rect = plot_->axisRect();
  const QRect r = rect->rect();
  const QPointF from = r.center();
  // Moving the view right shows what lies right of it: the data moves left.
  panPixels(rect, from, from - QPointF(fx * r.width(), -fy * r.height()));
}

void PlotView::panPixels(QCPAxisRect* rect, QPointF from, QPointF to) {
  if (!rect) return;
  layoutAt(plot_->viewport().width(), plot_->viewport().height());
  for (QCPAxis* a : orderedAxes(rect)) {
    const double p0 = horizontal(a) ? from.x() : from.y(), p1 = horizontal(a) ? to.x() : to.y();
    const double c0 = a->pixelToCoord(p0), c1 = a->pixelToCoord(p1);
    if (a->scaleType() == QCPAxis::stLogarithmic) {
      if (c0 > 0 && c1 > 0) a->setRange(a->range().lower * c0 / c1, a->range().upper * c0 / c1);
    } else {
      a->moveRange(c0 - c1);
    }
  }
  captureView();
}

void PlotView::captureView() {
  viewRanges_.clear();
  const QList<QCPAxisRect*> rects = plot_->axisRects();
  for (int i = 0; i < rects.size(); ++i) {
    const QList<QCPAxis*> axes = orderedAxes(rects[i]);
    for (int k = 0; k < axes.size(); ++k) viewRanges_.insert({i, k}, axes[k]->range());
  }
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

void PlotView::applyViewRanges() {
  const QList<QCPAxisRect*> rects = plot_->axisRects();
  for (auto it = viewRanges_.constBegin(); it != viewRanges_.constEnd(); ++it) {
    if (it.key().first >= rects.size()) continue;
    const QList<QCPAxis*> axes = orderedAxes(rects[it.key().first]);
    if (it.key().second < axes.size()) axes[it.key().second]->setRange(it.value());
  }
}

void PlotView::setViewRanges(const ViewRanges& ranges) {
  viewRanges_ = ranges;
  if (viewRanges_.isEmpty()) {
    rebuild();  // the ranges the view computes from its data
  } else {
    applyViewRanges();
    plot_->replot(QCustomPlot::rpQueuedReplot);
  }
}

void PlotView::resetView() { setViewRanges({}); }

void PlotView::keyPressEvent(QKeyEvent* e) {
  switch (e->key()) {
    case Qt::Key_Plus:
    case Qt::Key_Equal: zoomBy(1 / kZoomStep); break;
    case Qt::Key_Minus: zoomBy(kZoomStep); break;
    case Qt::Key_Left: panBy(-0.1, 0); break;
    case Qt::Key_Right: panBy(0.1, 0); break;
    case Qt::Key_Up: panBy(0, 0.1); break;
    case Qt::Key_Down: panBy(0, -0.1); break;
    case Qt::Key_0:
    case Qt::Key_Home: resetView(); break;
    default: QWidget::keyPressEvent(e); return;
  }
  e->accept();
}

bool PlotView::eventFilter(QObject* watched, QEvent* e) {
  if (watched != plot_ || e->type() != QEvent::Wheel) return QWidget::eventFilter(watched, e);
  onWheel(static_cast<QWheelEvent*>(e));
  return true;
}

void PlotView::onWheel(QWheelEvent* e) {
  // Inside a scrolling dock the wheel scrolls the dock unless the plot has focus or Ctrl is held (as spin boxes).
  // Sent to the scroll area's viewport: Qt does not pass a non-spontaneous wheel event on to parents.
  if (QScrollArea* area = scrollAreaAround(this); area && !hasFocus() && !(e->modifiers() & Qt::ControlModifier)) {
    QCoreApplication::sendEvent(area->viewport(), e);
    return;
  }
  const double notches = e->angleDelta().y() / 120.0;
  if (notches != 0) zoomBy(std::pow(0.85, notches), e->position());
  e->accept();
}

}  // namespace layerscope::views
