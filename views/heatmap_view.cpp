#include "views/heatmap_view.h"

#include <cmath>

#include "views/score_names.h"

namespace layerscope::views {

HeatmapData headHeatmap(const results::Scores& scores, const std::string& key) {
  HeatmapData d;
  auto it = scores.layerHeadScores.find(key);
  if (it == scores.layerHeadScores.end()) return d;
  d.values = it->second.values;
  d.raw = d.values;
  for (int g = 0; g < it->second.heads(); ++g) d.rowNames << QString::number(g);
  d.rowAxisLabel = QObject::tr("KV head");
  const QString k = QString::fromStdString(key);
  d.title = k.startsWith(QLatin1String("rope_influence")) ? QObject::tr("RoPE influence per KV head") : k;
  d.colourLabel = k.contains(QLatin1String("gradient")) ? QObject::tr("mean |dLoss/dβ| (nats)")
                  : k.startsWith(QLatin1String("rope_influence")) ? QObject::tr("mean KL (nats)")
                                                                 : k;
  return d;
}

HeatmapData metricHeatmap(const results::Scores& scores) {
  HeatmapData d;
  std::vector<std::pair<std::string, const std::vector<double>*>> rows;
  for (const std::string& key : profileKeys(scores)) rows.push_back({key, scores.find(key)});
  if (rows.empty()) return d;
  const size_t L = size_t(scores.numLayers);
  d.values.assign(L, std::vector<double>(rows.size(), results::kNaN));
  d.raw = d.values;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& v = *rows[r].second;
    const bool redundancy = rows[r].first.rfind("redundancy.", 0) == 0;
    double lo = INFINITY, hi = -INFINITY;
    for (double x : v) if (!std::isnan(x)) { const double y = redundancy ? 1 - x : x; lo = std::min(lo, y); hi = std::max(hi, y); }
    for (size_t l = 0; l < L; ++l) {
      const double y = redundancy ? 1 - v[l] : v[l];  // redundancy as importance = 1 - similarity
      d.raw[l][r] = y;
      d.values[l][r] = hi > lo ? (y - lo) / (hi - lo) : 0.5;
    }
    const QString key = QString::fromStdString(rows[r].first), group = keyGroup(key), rest = key.section(QLatin1Char('.'), 1);
    if (redundancy) d.rowNames << QObject::tr("%1: 1 \u2212 similarity").arg(rest);
    else if (group == QLatin1String("sensitivity")) d.rowNames << group + QLatin1Char(' ') + rest;
    else if (group == QLatin1String("rope_influence")) d.rowNames << QStringLiteral("RoPE ") + rest;
    else d.rowNames << readableKey(key);  // registered extra profiles: "logit lens: accuracy"
  }
  d.rowAxisLabel.clear();
  d.title = QObject::tr("All layer scores (min-max per row)");
  d.colourLabel = QObject::tr("score, scaled per row to [0, 1]");
  return d;
}

void HeatmapView::setData(const HeatmapData& data) {
  data_ = data;
  if (data_.raw.empty()) data_.raw = data_.values;
  rebuild();
}

void HeatmapView::setColourRange(std::optional<QCPRange> range) {
  range_ = range;
  rebuild();
}

void HeatmapView::build() {
  map_ = nullptr;
  QCustomPlot* p = plot();
  const FigureStyle& st = figureStyle();
  if (!hasData()) {
    setTitle(tr("No heatmap data"));
    return;
  }
  const int nx = int(data_.values.size());
  const int ny = int(data_.values.front().size());
  map_ = new QCPColorMap(p->xAxis, p->yAxis);
  map_->setInterpolate(false);
  map_->setTightBoundary(false);
  // Cell centres on integer indices. QCustomPlot draws a 1-cell dimension with zero width, so a single
  // row/column is stored as two half cells spanning the same [-0.5, 0.5] band.
  const int sx = nx == 1 ? 2 : nx, sy = ny == 1 ? 2 : ny;
  const QCPRange kr = nx == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, nx - 1);
  const QCPRange vr = ny == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, ny - 1);
  map_->data()->setSize(sx, sy);
  map_->data()->setRange(kr, vr);
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < sx; ++i)
    for (int j = 0; j < sy; ++j) {
      const double v = data_.values[size_t(nx == 1 ? 0 : i)][size_t(ny == 1 ? 0 : j)];
      map_->data()->setCell(i, j, v);
      if (!std::isnan(v)) { lo = std::min(lo, v); hi = std::max(hi, v); }
    }
  const bool signedData = lo < 0 && hi > 0;
  QCPRange range = range_ ? *range_ : QCPRange(lo, hi);
  if (!range_ && signedData) {
    const double m = std::max(-lo, hi);
    range = QCPRange(-m, m);  // diverging map centred at zero
  }
  if (!(range.size() > 0)) range = QCPRange(range.lower - 0.5, range.upper + 0.5);
  auto* scale = new QCPColorScale(p);
  p->plotLayout()->addElement(0, 1, scale);
  scale->setType(QCPAxis::atRight);
  scale->setBarWidth(int(std::lround(st.pen(8))));
  map_->setColorScale(scale);  // first: attaching copies the scale's gradient and range onto the map
  map_->setGradient(gradientByName(signedData ? QStringLiteral("diverging") : st.colormap));
  map_->setDataRange(range);
  map_->setName(data_.title);
  scale->setLabel(data_.colourLabel);
  scale->axis()->setLabelFont(st.font());
  scale->axis()->setTickLabelFont(st.font(-0.5));
  scale->axis()->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  scale->axis()->ticker()->setTickCount(4);
  auto* group = new QCPMarginGroup(p);
  p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);

  p->xAxis->setLabel(tr("layer"));
  p->xAxis->setRange(-0.5, nx - 0.5);
  tickEveryLayer(p->xAxis, nx);
  QSharedPointer<QCPAxisTickerText> rowTicks(new QCPAxisTickerText);
  for (int j = 0; j < ny; ++j) rowTicks->addTick(j, data_.rowNames.value(j));
  p->yAxis->setTicker(rowTicks);
  p->yAxis->setSubTicks(false);
  p->yAxis->setRange(-0.5, ny - 0.5);
  p->yAxis->setRangeReversed(false);
  p->yAxis->setLabel(data_.rowAxisLabel);
  p->xAxis->grid()->setVisible(false);
  p->yAxis->grid()->setVisible(false);
  setTitle(data_.title);
}

QString HeatmapView::tooltipAt(double key, double value) const {
  const int l = int(std::lround(key)), r = int(std::lround(value));
  if (l < 0 || r < 0 || l >= int(data_.values.size()) || r >= int(data_.values.front().size())) return {};
  QString tip = tr("layer %1, %2 %3\nvalue = %4").arg(l).arg(data_.rowAxisLabel.isEmpty() ? QString() : data_.rowAxisLabel)
                    .arg(data_.rowNames.value(r)).arg(exact(data_.raw[size_t(l)][size_t(r)]));
  if (data_.raw != data_.values) tip += tr("\nscaled = %1").arg(fmt(data_.values[size_t(l)][size_t(r)], 4));
  return tip;
}

QString HeatmapView::csv() const {
  if (!hasData()) return {};
  QString out = QStringLiteral("layer");
  for (const QString& n : data_.rowNames) out += QLatin1Char(',') + QString(n).replace(QLatin1Char(','), QLatin1Char(';'));
  out += QLatin1Char('\n');
  for (size_t l = 0; l < data_.raw.size(); ++l) {
    out += QString::number(l);
    for (double v : data_.raw[l]) out += QLatin1Char(',') + exact(v);
    out += QLatin1Char('\n');
  }
  return out;
}

}  // namespace layerscope::views
