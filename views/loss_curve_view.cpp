#include "views/loss_curve_view.h"

#include <algorithm>
#include <cmath>

namespace layerscope::views {

LossCurveView::LossCurveView(QWidget* parent) : PlotView(parent) { rebuild(); }

void LossCurveView::setData(const QVector<double>& steps, const QVector<double>& losses, int totalSteps) {
  steps_ = steps;
  losses_ = losses;
  losses_.resize(steps_.size());
  totalSteps_ = totalSteps;
  rebuild();
}

void LossCurveView::appendPoints(const QVector<double>& steps, const QVector<double>& losses) {
  for (qsizetype i = 0; i < std::min(steps.size(), losses.size()); ++i) {
    steps_ << steps[i];
    losses_ << losses[i];
  }
  rebuild();
}

void LossCurveView::setTotalSteps(int totalSteps) {
  totalSteps_ = totalSteps;
  rebuild();
}

void LossCurveView::clear() { setData({}, {}, totalSteps_); }

void LossCurveView::build() {
  QCustomPlot* p = plot();
  const FigureStyle& st = figureStyle();
  p->xAxis->setLabel(tr("optimizer step"));
  p->yAxis->setLabel(tr("training loss (nats / completion token)"));
  const double xMax = std::max<double>({1.0, double(totalSteps_), steps_.isEmpty() ? 1.0 : steps_.back()});
  p->xAxis->setRange(0, xMax + 0.5);
  if (!hasData()) {
    p->yAxis->setRange(0, 1);
    setTitle(tr("Training loss (no steps yet)"));
    return;
  }
  auto* g = p->addGraph();
  g->setData(steps_, losses_, true);
  const QColor c = seriesColor(0);
  g->setPen(QPen(c, st.pen(st.lineWidthPt)));
  if (steps_.size() <= 60) g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, c, st.pen(3)));
  const auto [lo, hi] = std::minmax_element(losses_.begin(), losses_.end());
  const double pad = std::max(1e-3, 0.05 * (*hi - *lo));
  p->yAxis->setRange(std::max(0.0, *lo - pad), *hi + pad);
  setTitle(tr("Training loss: step %1%2, last %3")
               .arg(steps_.back())
               .arg(totalSteps_ > 0 ? tr(" of %1").arg(totalSteps_) : QString())
               .arg(fmt(losses_.back())));
}

QString LossCurveView::tooltipAt(double key, double) const {
  if (!hasData()) return {};
  // Nearest reported step.
  qsizetype best = 0;
  for (qsizetype i = 1; i < steps_.size(); ++i)
    if (std::abs(steps_[i] - key) < std::abs(steps_[best] - key)) best = i;
  return tr("step %1\nloss %2").arg(steps_[best]).arg(exact(losses_[best]));
}

QString LossCurveView::csv() const {
  QString out = QStringLiteral("step,loss\n");
  for (qsizetype i = 0; i < steps_.size(); ++i) out += QString::number(steps_[i]) + QLatin1Char(',') + exact(losses_[i]) + QLatin1Char('\n');
  return out;
}

}  // namespace layerscope::views
