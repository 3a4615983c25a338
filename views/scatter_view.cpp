#include "views/scatter_view.h"

#include <cmath>
#include <limits>

#include "results/transforms.h"
#include "views/score_names.h"

namespace layerscope::views {

void ScatterView::setData(const results::Scores& scores, const std::optional<results::Stats>& stats) {
  scores_ = scores;
  stats_ = stats;
  rebuild();
}

void ScatterView::setProfileKeys(const QString& sensitivityKey, const QString& ropeKey) {
  sensOverride_ = sensitivityKey;
  ropeOverride_ = ropeKey;
  rebuild();
}

void ScatterView::resolve() {
  x_.clear(); y_.clear(); rawX_.clear(); rawY_.clear();
  if (!scores_) return;
  auto pick = [&](const QString& o, const std::string& fromStats) {
    if (!o.isEmpty() && scores_->has(o.toStdString())) return o;
    return QString::fromStdString(fromStats);
  };
  sensKey_ = pick(sensOverride_, stats_ ? stats_->sensitivityKey : "sensitivity.rel_l2");
  ropeKey_ = pick(ropeOverride_, stats_ ? stats_->ropeKey : "rope_influence.gradient");
  const auto* s = scores_->find(sensKey_.toStdString());
  const auto* r = scores_->find(ropeKey_.toStdString());
  if (!s || !r) return;
  rawX_ = *s;
  rawY_ = *r;
  x_ = figureStyle().ranks ? results::averageRanks(rawX_) : rawX_;
  y_ = figureStyle().ranks ? results::averageRanks(rawY_) : rawY_;
}

void ScatterView::build() {
  selGraph_ = nullptr;
  resolve();
  QCustomPlot* p = plot();
  const FigureStyle& st = figureStyle();
  if (!hasData()) {
    setTitle(tr("No correlation data: scores.json needs the two profiles stats.json names"));
    return;
  }
  const int n = int(x_.size());
  selGraph_ = p->addGraph();  // selected layers: orange rings under the points
  selGraph_->setLineStyle(QCPGraph::lsNone);
  selGraph_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QPen(QColor(230, 120, 0), st.pen(1.5)),
                                             selectionColor().darker(105), st.pen(11)));
  selGraph_->removeFromLegend();
  auto* g = p->addGraph();
  QVector<double> keys(x_.begin(), x_.end()), vals(y_.begin(), y_.end());
  g->setData(keys, vals);  // unsorted on purpose: points, not a line
  g->setLineStyle(QCPGraph::lsNone);
  g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(seriesColor(0), st.pen(1)),
                                     QColor(0, 114, 178, 90), st.pen(5)));
  g->setName(tr("layers (n = %1)").arg(n));
  for (int l = 0; l < n; ++l) {
    if (std::isnan(x_[size_t(l)]) || std::isnan(y_[size_t(l)])) continue;
    auto* t = new QCPItemText(p);
    t->position->setCoords(x_[size_t(l)], y_[size_t(l)]);
    t->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    t->setText(QString::number(l));
    t->setFont(st.font(-1.5));
    t->setColor(QColor(60, 60, 60));
    t->setPadding(QMargins(2, 0, 0, 1));
    t->setClipToAxisRect(false);
  }
  p->rescaleAxes();
  for (QCPAxis* ax : {p->xAxis, p->yAxis}) {
    const QCPRange r = ax->range();
    const double pad = std::max(1e-12, r.size()) * 0.08;
    ax->setRange(r.lower - pad, r.upper + pad);
  }
  const QString sName = seriesLabel(sensKey_), rName = seriesLabel(ropeKey_);
  p->xAxis->setLabel(st.ranks ? tr("rank of %1").arg(sName) : sName);
  p->yAxis->setLabel(st.ranks ? tr("rank of %1").arg(rName) : rName);

  // No legend over the data: the points are the layers (numbered), and the statistics sit in two lines under
  // the title, outside the axis rect.
  p->legend->setVisible(false);
  setTitle(stats_ && !stats_->verdict.empty() ? tr("Co-localization: %1").arg(QString::fromStdString(stats_->verdict))
                                              : tr("Sensitivity vs RoPE influence"));
  if (stats_) {
    QStringList first, second;
    first << tr("Spearman r\u209B = %1").arg(fmt(stats_->spearmanR)) << tr("p = %1").arg(fmt(stats_->spearmanP));
    if (!std::isnan(stats_->spearmanPPerm)) first << tr("permutation p = %1").arg(fmt(stats_->spearmanPPerm));
    if (!std::isnan(stats_->spearmanCiLow))
      second << tr("95% CI [%1, %2]").arg(fmt(stats_->spearmanCiLow), fmt(stats_->spearmanCiHigh));
    if (!std::isnan(stats_->kendallTau)) second << tr("Kendall \u03C4-b = %1").arg(fmt(stats_->kendallTau));
    second << tr("n = %1 layers").arg(n);
    QCPLayoutGrid* layout = p->plotLayout();
    int row = 1;  // under the title
    for (const QStringList& parts : {first, second}) {
      if (parts.isEmpty()) continue;
      layout->insertRow(row);
      auto* t = new QCPTextElement(p, parts.join(QStringLiteral(", ")), st.font(-1));
      t->setTextColor(Qt::black);
      t->setMargins(QMargins(0, 0, 0, 0));
      t->setObjectName(QStringLiteral("note"));  // applyStyle: small, not bold
      layout->addElement(row++, 0, t);
    }
  }
}

QVector<int> ScatterView::layersForDrag(double x0, double y0, double x1, double y1) const {
  QVector<int> out;
  if (x0 == x1 && y0 == y1) {  // click: the nearest point within a few pixels
    const QString tip = tooltipAt(x0, y0);
    if (!tip.isEmpty()) out.push_back(tip.section(QLatin1Char(' '), 1, 1).toInt());
    return out;
  }
  for (size_t l = 0; l < x_.size(); ++l)
    if (x_[l] >= std::min(x0, x1) && x_[l] <= std::max(x0, x1) && y_[l] >= std::min(y0, y1) && y_[l] <= std::max(y0, y1))
      out.push_back(int(l));
  return out;
}

void ScatterView::drawSelection() {
  if (!selGraph_) return;
  QVector<double> xs, ys;
  if (selection_ && selectionShown())
    for (int l : selection_->layers())
      if (l >= 0 && l < int(x_.size())) { xs << x_[size_t(l)]; ys << y_[size_t(l)]; }
  selGraph_->setData(xs, ys);
}

QString ScatterView::tooltipAt(double key, double value) const {
  QCustomPlot* p = plot();
  const double px = p->xAxis->coordToPixel(key), py = p->yAxis->coordToPixel(value);
  int best = -1;
  double bestD = 8 * 8;
  for (size_t l = 0; l < x_.size(); ++l) {
    const double dx = p->xAxis->coordToPixel(x_[l]) - px, dy = p->yAxis->coordToPixel(y_[l]) - py;
    if (dx * dx + dy * dy < bestD) { bestD = dx * dx + dy * dy; best = int(l); }
  }
  if (best < 0) return {};
  return tr("layer %1\n%2 = %3\n%4 = %5").arg(best).arg(sensKey_, exact(rawX_[size_t(best)]), ropeKey_, exact(rawY_[size_t(best)]));
}

QString ScatterView::csv() const {
  if (!hasData()) return {};
  QString out = QStringLiteral("layer,%1,%2,rank_%1,rank_%2\n").arg(sensKey_, ropeKey_);
  const auto rx = results::averageRanks(rawX_), ry = results::averageRanks(rawY_);
  for (size_t l = 0; l < x_.size(); ++l)
    out += QStringLiteral("%1,%2,%3,%4,%5\n").arg(l).arg(exact(rawX_[l]), exact(rawY_[l]), exact(rx[l]), exact(ry[l]));
  return out;
}

}  // namespace layerscope::views
