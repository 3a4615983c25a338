#include "views/loss_curve_view.h"

#include <QJsonArray>
#include <algorithm>
#include <cmath>
#include <optional>

#include "results/transforms.h"

namespace layerscope::views {

LossCurveView::LossCurveView(QWidget* parent) : PlotView(parent) { rebuild(); }

void LossCurveView::setData(const QVector<double>& steps, const QVector<double>& losses, int totalSteps) {
  steps_ = steps;
  losses_ = losses;
  losses_.resize(steps_.size());
  if (lrs_.size() != steps_.size()) lrs_.clear();
  evalSteps_.clear();
  evalLosses_.clear();
  totalSteps_ = totalSteps;
  rebuild();
}

void LossCurveView::setEvalPoints(const QVector<double>& steps, const QVector<double>& losses) {
  evalSteps_.clear();
  evalLosses_.clear();
  appendEvalPoints(steps, losses);
}

void LossCurveView::appendEvalPoints(const QVector<double>& steps, const QVector<double>& losses) {
  for (qsizetype i = 0; i < std::min(steps.size(), losses.size()); ++i) {
    evalSteps_ << steps[i];
    evalLosses_ << losses[i];
  }
  rebuild();
}

void LossCurveView::appendPoints(const QVector<double>& steps, const QVector<double>& losses, const QVector<double>& lrs) {
  const bool withLr = lrs.size() == steps.size() && lrs_.size() == steps_.size();
  if (!withLr) lrs_.clear();
  for (qsizetype i = 0; i < std::min(steps.size(), losses.size()); ++i) {
    steps_ << steps[i];
    losses_ << losses[i];
    if (withLr) lrs_ << lrs[i];
  }
  rebuild();
}

void LossCurveView::setLearningRates(const QVector<double>& lrs) {
  lrs_ = lrs.size() == steps_.size() ? lrs : QVector<double>{};
  rebuild();
}

void LossCurveView::setTotalSteps(int totalSteps) {
  totalSteps_ = totalSteps;
  rebuild();
}

void LossCurveView::setSmoothing(double weight) {
  smoothing_ = std::clamp(weight, 0.0, 0.999);
  rebuild();
}

void LossCurveView::setLogScale(bool on) {
  log_ = on;
  rebuild();
}

void LossCurveView::addReferenceRun(const QString& label, const QVector<double>& steps, const QVector<double>& losses) {
  references_.erase(std::remove_if(references_.begin(), references_.end(), [&](const Reference& r) { return r.label == label; }),
                    references_.end());
  references_.push_back({label, steps, losses});
  rebuild();
}

void LossCurveView::clearReferenceRuns() {
  references_.clear();
  rebuild();
}

QStringList LossCurveView::referenceRuns() const {
  QStringList out;
  for (const auto& r : references_) out << r.label;
  return out;
}

QVector<double> LossCurveView::smoothedLosses() const {
  const auto s = results::emaSmoothed(std::vector<double>(losses_.begin(), losses_.end()), smoothing_);
  return QVector<double>(s.begin(), s.end());
}

void LossCurveView::clear() {
  lrs_.clear();
  setData({}, {}, totalSteps_);
}

namespace {

QJsonArray numbers(const QVector<double>& v) {
  QJsonArray a;
  for (double x : v) a.append(x);
  return a;
}

/// The numbers of `v` (an array of numbers), or nullopt.
std::optional<QVector<double>> numbersOf(const QJsonValue& v) {
  if (v.isUndefined()) return QVector<double>{};
  if (!v.isArray()) return std::nullopt;
  QVector<double> out;
  for (const QJsonValue& x : v.toArray()) {
    if (!x.isDouble()) return std::nullopt;
    out << x.toDouble();
  }
  return out;
}

}  // namespace

QJsonObject LossCurveView::curvesJson() const {
  QJsonArray earlier;
  for (const auto& r : references_)
    earlier.append(QJsonObject{{QStringLiteral("label"), r.label}, {QStringLiteral("steps"), numbers(r.steps)},
                               {QStringLiteral("losses"), numbers(r.losses)}});
  return {{QStringLiteral("steps"), numbers(steps_)},          {QStringLiteral("losses"), numbers(losses_)},
          {QStringLiteral("lrs"), numbers(lrs_)},              {QStringLiteral("total_steps"), totalSteps_},
          {QStringLiteral("eval_steps"), numbers(evalSteps_)}, {QStringLiteral("eval_losses"), numbers(evalLosses_)},
          {QStringLiteral("earlier"), earlier}};
}

QString LossCurveView::applyCurvesJson(const QJsonObject& o) {
  const auto steps = numbersOf(o.value(QStringLiteral("steps")));
  const auto losses = numbersOf(o.value(QStringLiteral("losses")));
  const auto lrs = numbersOf(o.value(QStringLiteral("lrs")));
  if (!steps || !losses || !lrs || losses->size() != steps->size() || (!lrs->isEmpty() && lrs->size() != steps->size()))
    return QStringLiteral("steps, losses and lrs must be arrays of numbers of the same length");
  const auto evalSteps = numbersOf(o.value(QStringLiteral("eval_steps")));
  const auto evalLosses = numbersOf(o.value(QStringLiteral("eval_losses")));
  if (!evalSteps || !evalLosses || evalSteps->size() != evalLosses->size())
    return QStringLiteral("eval_steps and eval_losses must be arrays of numbers of the same length");
  QList<Reference> refs;
  for (const QJsonValue& e : o.value(QStringLiteral("earlier")).toArray()) {
    const QJsonObject r = e.toObject();
    const auto s = numbersOf(r.value(QStringLiteral("steps")));
    const auto l = numbersOf(r.value(QStringLiteral("losses")));
    if (!r.value(QStringLiteral("label")).isString() || !s || !l || s->size() != l->size())
      return QStringLiteral("each earlier run needs a label and steps and losses of the same length");
    refs.push_back({r.value(QStringLiteral("label")).toString(), *s, *l});
  }
  steps_ = *steps;
  losses_ = *losses;
  lrs_ = *lrs;
  evalSteps_ = *evalSteps;
  evalLosses_ = *evalLosses;
  references_ = refs;
  totalSteps_ = o.value(QStringLiteral("total_steps")).toInt(0);
  rebuild();
  return {};
}

void LossCurveView::build() {
  QCustomPlot* p = plot();
  const FigureStyle& st = figureStyle();
  p->xAxis->setLabel(tr("optimizer step"));
  p->yAxis->setLabel(evalSteps_.isEmpty() ? tr("training loss (nats / completion token)")
                                          : tr("loss (nats / completion token)"));
  // Axis state survives a rebuild: reset what the options below change.
  if (!log_ && p->yAxis->scaleType() == QCPAxis::stLogarithmic) {
    p->yAxis->setScaleType(QCPAxis::stLinear);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  }
  p->yAxis2->setVisible(false);
  double xMax = std::max<double>({1.0, double(totalSteps_), steps_.isEmpty() ? 1.0 : steps_.back(),
                                  evalSteps_.isEmpty() ? 1.0 : evalSteps_.back()});
  for (const auto& r : references_)
    if (!r.steps.isEmpty()) xMax = std::max(xMax, r.steps.back());
  p->xAxis->setRange(0, xMax + 0.5);
  if (!hasData()) {
    p->yAxis->setRange(0, 1);
    setTitle(tr("Training loss (no steps yet)"));
    return;
  }
  double lo = INFINITY, hi = -INFINITY;
  auto span = [&](const QVector<double>& v) {
    for (double x : v)
      if (std::isfinite(x) && (!log_ || x > 0)) lo = std::min(lo, x), hi = std::max(hi, x);
  };
  // Earlier runs first (under the current one), faint, dashed, one colour each.
  for (int i = 0; i < references_.size(); ++i) {
    const auto& r = references_[i];
    auto* g = p->addGraph();
    const auto sm = results::emaSmoothed(std::vector<double>(r.losses.begin(), r.losses.end()), smoothing_);
    g->setData(r.steps, QVector<double>(sm.begin(), sm.end()), true);
    QColor c = seriesColor(i + 2);
    g->setPen(QPen(c, st.pen(st.lineWidthPt * 0.8), Qt::DashLine));
    g->setName(r.label);
    span(r.losses);
  }
  const QColor c = seriesColor(0);
  if (!steps_.isEmpty()) {
    const QVector<double> smooth = smoothedLosses();
    if (smoothing_ > 0) {
      auto* raw = p->addGraph();
      raw->setData(steps_, losses_, true);
      QColor faint = c;
      faint.setAlpha(70);
      raw->setPen(QPen(faint, st.pen(0.8)));
      raw->removeFromLegend();
    }
    auto* g = p->addGraph();
    g->setData(steps_, smooth, true);
    g->setPen(QPen(c, st.pen(st.lineWidthPt)));
    g->setName(smoothing_ > 0 ? tr("this run (smoothed %1)").arg(smoothing_, 0, 'f', 2) : tr("this run"));
    if (steps_.size() <= 60 && smoothing_ == 0) g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, c, st.pen(3)));
    span(losses_);
  }
  // Held-out loss: few points, never smoothed, open circles on a line of the second series colour.
  if (!evalSteps_.isEmpty()) {
    const QColor e = seriesColor(1);
    auto* g = p->addGraph();
    g->setData(evalSteps_, evalLosses_, true);
    g->setPen(QPen(e, st.pen(st.lineWidthPt)));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(e, st.pen(1.2)), Qt::white, st.pen(4.5)));
    g->setName(tr("held-out loss (eval file)"));
    span(evalLosses_);
  }
  if (!std::isfinite(lo)) lo = 0.1, hi = 1;
  if (log_) {
    p->yAxis->setScaleType(QCPAxis::stLogarithmic);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    p->yAxis->setRange(lo / 1.2, hi * 1.2);
  } else {
    const double pad = std::max(1e-3, 0.05 * (hi - lo));
    p->yAxis->setRange(std::max(0.0, lo - pad), hi + pad);
  }
  // Learning rate on the right-hand axis.
  if (!lrs_.isEmpty() && lrs_.size() == steps_.size()) {
    p->yAxis2->setVisible(true);
    p->yAxis2->setLabel(tr("learning rate"));
    auto* g = p->addGraph(p->xAxis, p->yAxis2);
    g->setData(steps_, lrs_, true);
    g->setPen(QPen(QColor(110, 110, 110), st.pen(0.9), Qt::DotLine));
    g->setName(tr("learning rate"));
    const auto [mn, mx] = std::minmax_element(lrs_.begin(), lrs_.end());
    p->yAxis2->setRange(0, std::max(*mx, *mn) * 1.1 + 1e-12);
  }
  if (references_.size() + (lrs_.isEmpty() ? 0 : 1) + (smoothing_ > 0 ? 1 : 0) + (evalSteps_.isEmpty() ? 0 : 1) > 0)
    placeLegendClearOfData();
  setTitle(steps_.isEmpty() ? tr("Training loss: earlier runs")
                            : tr("Training loss: step %1%2, last %3%4")
                                  .arg(steps_.back())
                                  .arg(totalSteps_ > 0 ? tr(" of %1").arg(totalSteps_) : QString())
                                  .arg(fmt(losses_.back()))
                                  .arg(evalLosses_.isEmpty() ? QString()
                                                             : tr("; held-out %1 at step %2")
                                                                   .arg(fmt(evalLosses_.back()))
                                                                   .arg(evalSteps_.back())));
}

QString LossCurveView::tooltipAt(double key, double) const {
  if (steps_.isEmpty()) return {};
  // Nearest reported step.
  qsizetype best = 0;
  for (qsizetype i = 1; i < steps_.size(); ++i)
    if (std::abs(steps_[i] - key) < std::abs(steps_[best] - key)) best = i;
  QString tip = tr("step %1\nloss %2").arg(steps_[best]).arg(exact(losses_[best]));
  if (smoothing_ > 0) tip += tr("\nsmoothed %1").arg(exact(smoothedLosses()[best]));
  if (best < lrs_.size()) tip += tr("\nlearning rate %1").arg(exact(lrs_[best]));
  if (const qsizetype e = evalSteps_.indexOf(steps_[best]); e >= 0) tip += tr("\nheld-out loss %1").arg(exact(evalLosses_[e]));
  return tip;
}

QString LossCurveView::csv() const {
  const bool lr = !lrs_.isEmpty() && lrs_.size() == steps_.size();
  const bool ev = !evalSteps_.isEmpty();
  QString out = QStringLiteral("step,loss,smoothed") + (lr ? QStringLiteral(",lr") : QString()) +
                (ev ? QStringLiteral(",eval_loss") : QString()) + QLatin1Char('\n');
  const QVector<double> sm = smoothedLosses();
  for (qsizetype i = 0; i < steps_.size(); ++i) {
    out += QString::number(steps_[i]) + QLatin1Char(',') + exact(losses_[i]) + QLatin1Char(',') + exact(sm[i]);
    if (lr) out += QLatin1Char(',') + exact(lrs_[i]);
    if (ev) {  // empty at steps without a held-out point
      out += QLatin1Char(',');
      if (const qsizetype e = evalSteps_.indexOf(steps_[i]); e >= 0) out += exact(evalLosses_[e]);
    }
    out += QLatin1Char('\n');
  }
  return out;
}

}  // namespace layerscope::views
