#include "views/redundancy_view.h"

#include <cmath>

#include "results/transforms.h"

namespace layerscope::views {
namespace {
const char* const kModules[] = {"attn", "mlp", "block"};
}

void RedundancyView::setData(const std::optional<results::Scores>& scores, const std::optional<results::DropPlan>& plan) {
  similarity_.clear();
  plan_ = plan;
  if (scores)
    for (const char* m : kModules)
      if (const auto* v = scores->find(std::string("redundancy.") + m)) similarity_[m] = *v;
  if (plan)
    for (const auto& [m, v] : plan->similarity)
      if (!similarity_.count(m)) similarity_[m] = v;
  rebuild();
}

void RedundancyView::build() {
  QCustomPlot* p = plot();
  const FigureStyle& st = figureStyle();
  if (!hasData()) {
    setTitle(tr("No redundancy scores: run the analysis with redundancy or open a drop.json"));
    return;
  }
  const int n = layerCount();
  int present = 0;
  for (const char* m : kModules) present += similarity_.count(m) ? 1 : 0;
  auto* group = new QCPBarsGroup(p);
  group->setSpacingType(QCPBarsGroup::stAbsolute);
  group->setSpacing(0);
  const double width = 0.8 / std::max(1, present);
  double hi = 0;
  int index = 0;
  bool anyDropped = false;
  for (const char* m : kModules) {
    auto it = similarity_.find(m);
    if (it == similarity_.end()) continue;
    const QColor c = seriesColor(index == 0 ? 0 : index == 1 ? 2 : 6);
    const auto imp = results::importanceOf(it->second);
    QVector<double> keys, kept, dropped;
    for (int l = 0; l < n; ++l) {
      const bool isDropped = plan_ && plan_->isDropped(l, m);
      keys << l;
      kept << (isDropped ? 0.0 : imp[size_t(l)]);
      dropped << (isDropped ? imp[size_t(l)] : 0.0);
      anyDropped = anyDropped || isDropped;
      if (!std::isnan(imp[size_t(l)])) hi = std::max(hi, imp[size_t(l)]);
    }
    auto* bars = new QCPBars(p->xAxis, p->yAxis);
    bars->setData(keys, kept, true);
    bars->setWidth(width);
    bars->setPen(Qt::NoPen);
    bars->setBrush(c);
    bars->setBarsGroup(group);
    bars->setName(m == std::string("attn") ? tr("attention") : m == std::string("mlp") ? tr("MLP") : tr("block (BI)"));
    if (std::string(m) != "block" && plan_) {
      // Dropped modules stack on the kept series so they share its slot, hatched with a dark outline.
      auto* d = new QCPBars(p->xAxis, p->yAxis);
      d->setData(keys, dropped, true);
      d->setWidth(width);
      d->setPen(QPen(Qt::black, st.pen(0.8)));
      d->setBrush(QBrush(c.darker(130), Qt::BDiagPattern));
      d->moveAbove(bars);
      d->setName(tr("%1 dropped").arg(bars->name()));
      if (!anyDropped) d->removeFromLegend();
    }
    ++index;
  }
  p->xAxis->setLabel(tr("layer"));
  p->xAxis->setRange(-0.5, n - 0.5);
  tickEveryLayer(p->xAxis, n);
  // The table and layers.csv hold the similarity itself; the bars show its complement (higher = less redundant).
  p->yAxis->setLabel(tr("1 \u2212 cos similarity"));
  p->yAxis->setRange(0, hi * 1.15 + 1e-12);
  placeLegendClearOfData();
  QString title = tr("Layer importance (1 \u2212 redundancy similarity)");
  if (plan_ && !plan_->plan.empty()) {
    if (!std::isnan(plan_->speedup)) title += tr(" (drop plan: %1x faster)").arg(plan_->speedup, 0, 'f', 2);
    title += tr("\n%1, %2 dropped").arg(QString::fromStdString(plan_->plan)).arg(plan_->dropped.size());
    if (!std::isnan(plan_->accuracy)) title += tr(": acc %1 vs %2").arg(fmt(plan_->accuracy), fmt(plan_->baseAccuracy));
  }
  setTitle(title);
}

QString RedundancyView::tooltipAt(double key, double) const {
  const int l = int(std::lround(key));
  if (l < 0 || l >= layerCount()) return {};
  QStringList lines{tr("layer %1").arg(l)};
  for (const auto& [m, v] : similarity_) {
    QString line = QStringLiteral("%1: similarity %2, importance %3").arg(QString::fromStdString(m), exact(v[size_t(l)]), exact(1 - v[size_t(l)]));
    if (plan_ && plan_->isDropped(l, m)) line += tr("  (dropped)");
    lines << line;
  }
  return lines.join(QLatin1Char('\n'));
}

QString RedundancyView::csv() const {
  if (!hasData()) return {};
  QString out = QStringLiteral("layer");
  for (const auto& [m, v] : similarity_) out += QStringLiteral(",%1_similarity,%1_dropped").arg(QString::fromStdString(m));
  out += QLatin1Char('\n');
  for (int l = 0; l < layerCount(); ++l) {
    out += QString::number(l);
    for (const auto& [m, v] : similarity_) out += QStringLiteral(",%1,%2").arg(exact(v[size_t(l)])).arg(int(plan_ && plan_->isDropped(l, m)));
    out += QLatin1Char('\n');
  }
  return out;
}

}  // namespace layerscope::views
