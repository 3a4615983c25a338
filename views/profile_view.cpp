#include "views/profile_view.h"

#include <algorithm>
#include <cmath>

#include "results/transforms.h"
#include "views/score_names.h"

namespace layerscope::views {
namespace {

QVector<double> qv(const std::vector<double>& v) { return QVector<double>(v.begin(), v.end()); }

QVector<double> layerKeys(int n) {
  QVector<double> k(n);
  for (int i = 0; i < n; ++i) k[i] = i;
  return k;
}

}  // namespace

void ProfileView::setData(const results::Scores& scores, const std::optional<results::Stats>& stats) {
  scores_ = scores;
  stats_ = stats;
  rebuild();
}

void ProfileView::setProfileKeys(const QString& sensitivityKey, const QString& ropeKey) {
  sensOverride_ = sensitivityKey;
  ropeOverride_ = ropeKey;
  rebuild();
}

void ProfileView::resolveKeys() {
  sens_ = rope_ = nullptr;
  if (!scores_) return;
  // The override, else the pair stats.json names, else the first key of the side's built-in group; the first
  // side falls back to any profile key, so a results set with only extra profiles (logit lens, ...) still draws.
  const std::vector<std::string> keys = profileKeys(*scores_);
  auto pick = [&](const QString& override, const std::string& fromStats, const QString& group, bool anyKey) -> QString {
    if (!override.isEmpty() && scores_->has(override.toStdString())) return override;
    if (!fromStats.empty() && scores_->has(fromStats)) return QString::fromStdString(fromStats);
    for (const std::string& key : keys)
      if (keyGroup(QString::fromStdString(key)) == group) return QString::fromStdString(key);
    return anyKey && !keys.empty() ? QString::fromStdString(keys.front()) : QString();
  };
  sensKey_ = pick(sensOverride_, stats_ ? stats_->sensitivityKey : "sensitivity.rel_l2", QStringLiteral("sensitivity"), true);
  ropeKey_ = pick(ropeOverride_, stats_ ? stats_->ropeKey : "rope_influence.gradient", QStringLiteral("rope_influence"), false);
  if (ropeKey_ == sensKey_) ropeKey_.clear();
  if (!sensKey_.isEmpty()) sens_ = scores_->find(sensKey_.toStdString());
  if (!ropeKey_.isEmpty()) rope_ = scores_->find(ropeKey_.toStdString());
}

void ProfileView::build() {
  comLabels_.clear();  // rebuild() has deleted the items
  resolveKeys();
  QCustomPlot* p = plot();
  const FigureStyle& st = figureStyle();
  if (!hasData()) {
    setTitle(tr("No layer profiles: open a results directory with scores.json"));
    return;
  }
  const int n = scores_->numLayers;
  const QVector<double> keys = layerKeys(n);
  const bool twin = !st.normalise && sens_ && rope_;
  QCPAxis* x = p->xAxis;
  QCPAxis* ySens = p->yAxis;
  QCPAxis* yRope = twin ? p->yAxis2 : p->yAxis;
  if (twin) p->yAxis2->setVisible(true);

  double lo = 0, hi = 0;
  struct Series {
    const std::vector<double>* values;
    QString key;
    QColor colour;
    QCPAxis* axis;
    QString label;
  };
  std::vector<Series> series;
  if (sens_) series.push_back({sens_, sensKey_, seriesColor(0), ySens, seriesLabel(sensKey_)});
  if (rope_) series.push_back({rope_, ropeKey_, seriesColor(1), yRope, seriesLabel(ropeKey_)});

  // Top-k sets first so they sit under the lines, in grey so they never read as a confidence band (bands are
  // the series colour): S_sens filled, S_rope hatched, named after the pair stats.json compared (which the
  // drawn keys may override). A layer in both shows both.
  if (stats_) {
    auto shade = [&](const std::vector<int>& layers, const QBrush& brush, const QString& name) {
      if (layers.empty()) return;
      for (int l : layers) {
        auto* r = new QCPItemRect(p);
        r->setLayer(QStringLiteral("grid"));
        r->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
        r->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
        r->topLeft->setCoords(l - 0.5, 0);
        r->bottomRight->setCoords(l + 0.5, 1);
        r->setPen(Qt::NoPen);
        r->setBrush(brush);
      }
      auto* legendPatch = new QCPBars(x, ySens);  // no data: a legend entry for the shaded set
      legendPatch->setName(name);
      legendPatch->setPen(QPen(QColor(0, 0, 0, 90), st.pen(0.4)));
      legendPatch->setBrush(brush);
    };
    shade(stats_->topSens, QBrush(QColor(0, 0, 0, 28), Qt::SolidPattern),
          tr("top-%1 %2").arg(stats_->kSens ? stats_->kSens : int(stats_->topSens.size()))
              .arg(sideName(QString::fromStdString(stats_->sensitivityKey))));
    shade(stats_->topRope, QBrush(QColor(0, 0, 0, 110), Qt::BDiagPattern),
          tr("top-%1 %2").arg(stats_->kRope ? stats_->kRope : int(stats_->topRope.size()))
              .arg(sideName(QString::fromStdString(stats_->ropeKey))));
  }

  bool ciInLegend = false;
  for (const Series& s : series) {
    const double scale = st.normalise ? results::maxAbs(*s.values) : 1.0;
    const std::string base = s.key.toStdString();
    const auto* ciLow = scores_->find(base + ".ci_low");
    const auto* ciHigh = scores_->find(base + ".ci_high");
    if (ciLow && ciHigh) {
      auto* low = p->addGraph(x, s.axis);
      low->setData(keys, qv(results::scaled(*ciLow, scale)), true);
      low->setPen(Qt::NoPen);
      low->removeFromLegend();
      auto* high = p->addGraph(x, s.axis);
      high->setData(keys, qv(results::scaled(*ciHigh, scale)), true);
      high->setPen(Qt::NoPen);
      QColor band = s.colour;
      band.setAlpha(60);
      high->setBrush(band);
      high->setChannelFillGraph(low);
      // One legend entry for the bands (each is drawn in its line's colour).
      high->setName(tr("95% CI"));
      if (ciInLegend) high->removeFromLegend();
      ciInLegend = true;
      for (double v : *ciLow) if (!std::isnan(v)) lo = std::min(lo, v / (scale ? scale : 1));
      for (double v : *ciHigh) if (!std::isnan(v)) hi = std::max(hi, v / (scale ? scale : 1));
    }
    auto* g = p->addGraph(x, s.axis);
    g->setData(keys, qv(results::scaled(*s.values, scale)), true);
    g->setPen(QPen(s.colour, st.pen(st.lineWidthPt)));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, s.colour, s.colour, st.pen(3.5)));
    g->setName(s.label);
    if (twin) {
      s.axis->setLabel(s.label);
      s.axis->setLabelColor(s.colour);
      s.axis->setTickLabelColor(s.colour);
      s.axis->rescale();
      const QCPRange r = s.axis->range();
      s.axis->setRange(std::min(0.0, r.lower), r.upper + 0.08 * r.size());
    } else {
      for (double v : *s.values) if (!std::isnan(v)) { lo = std::min(lo, v / (scale ? scale : 1)); hi = std::max(hi, v / (scale ? scale : 1)); }
    }
  }
  if (!twin) {
    ySens->setLabel(st.normalise ? tr("score / max |score|") : series.front().label);
    ySens->setRange(lo, hi + 0.1 * std::max(1e-12, hi - lo));
  }

  // Centres of mass (layer units) as dashed verticals with a label beside each: the lower one's to the left of
  // its line, the higher one's to the right, so the two extend away from each other; placeAfterLayout() then
  // moves each along its line to a place where it covers no data point, the legend or the other label.
  if (stats_) {
    const double a = stats_->centreOfMassSens, b = stats_->centreOfMassRope;
    const bool sensLeft = !(a > b);
    auto com = [&](double at, const QColor& c, const QString& text, bool left) {
      if (std::isnan(at)) return;
      auto* line = new QCPItemStraightLine(p);
      line->point1->setCoords(at, 0);
      line->point2->setCoords(at, 1);
      line->setPen(QPen(c, st.pen(1.0), Qt::DashLine));
      auto* label = new QCPItemText(p);
      label->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
      label->position->setCoords(at, 0.98);
      label->setPositionAlignment((left ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignBottom);
      label->setText(text);
      label->setFont(st.font(-1));
      label->setColor(c);
      label->setBrush(QColor(255, 255, 255, 200));
      const int pad = int(std::lround(st.pen(1.5)));
      label->setPadding(QMargins(pad, 0, pad, 0));
      comLabels_.push_back({label, left});
    };
    com(a, seriesColor(0), tr("CoM %1").arg(a, 0, 'f', 1), sensLeft);
    com(b, seriesColor(1), tr("CoM %1").arg(b, 0, 'f', 1), !sensLeft || std::isnan(a));
  }

  x->setLabel(tr("layer"));
  x->setRange(-0.5, n - 0.5);
  tickEveryLayer(x, n);
  placeLegendClearOfData();

  QString title = tr("Layer profiles");
  if (stats_ && !stats_->verdict.empty()) {
    title = QString::fromStdString(stats_->verdict) + QStringLiteral(": r\u209B = %1, p = %2").arg(fmt(stats_->spearmanR), fmt(stats_->spearmanP));
  }
  setTitle(title);
}

void ProfileView::placeAfterLayout() {
  if (comLabels_.isEmpty()) return;
  const FigureStyle& st = figureStyle();
  layoutAt(st.widthUnits(), st.heightUnits());
  QCustomPlot* p = plot();
  QCPAxisRect* rect = p->axisRect();
  const QRectF area = rect->rect();
  QList<QRectF> data = dataRects(rect);
  if (p->legend && p->legend->visible() && qobject_cast<QCPLayoutInset*>(p->legend->layout()))
    data << QRectF(p->legend->outerRect());
  const double margin = st.pen(1.5);
  QList<QRectF> placed;
  for (const ComLabel& c : comLabels_) {
    QCPItemText* t = c.item;
    const double at = t->position->coords().x(), X = t->position->pixelPosition().x();
    const QRectF now = QRectF(t->topLeft->pixelPosition(), t->bottomRight->pixelPosition()).normalized();
    const double w = now.width(), h = now.height();
    // Tops along the line: the bottom of the plot first (where the labels sat before), then the top, then every
    // half label height upwards from the bottom; at each, the preferred side of the line first.
    const double lowest = area.bottom() - margin - h, highest = area.top() + margin;
    QList<double> tops{lowest, highest};
    for (double y = lowest - h / 2; y > highest; y -= h / 2) tops << y;
    auto hits = [](const QRectF& r, const QList<QRectF>& others) {
      int n = 0;
      for (const QRectF& o : others) n += r.adjusted(-1, -1, 1, 1).intersects(o) ? 1 : 0;
      return n;
    };
    QRectF best;
    bool bestLeft = c.preferLeft;
    long bestCost = -1;
    for (double y : tops) {
      for (bool left : {c.preferLeft, !c.preferLeft}) {
        const QRectF r(left ? X - w : X, y, w, h);
        if (!area.contains(r)) continue;
        // Another label counts far more than a data point: when nothing is free, cover the fewest points.
        const long cost = 1000L * hits(r, placed) + hits(r, data);
        if (bestCost < 0 || cost < bestCost) bestCost = cost, best = r, bestLeft = left;
        if (cost == 0) break;
      }
      if (bestCost == 0) break;
    }
    if (bestCost < 0) continue;  // the label does not fit beside its line inside the plot: leave it where it is
    t->setPositionAlignment((bestLeft ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignTop);
    t->position->setCoords(at, (best.top() - area.top()) / std::max(1.0, area.height()));
    placed << QRectF(t->topLeft->pixelPosition(), t->bottomRight->pixelPosition()).normalized();
  }
}

QString ProfileView::tooltipAt(double key, double) const {
  if (!scores_) return {};
  const int l = int(std::lround(key));
  if (l < 0 || l >= scores_->numLayers) return {};
  QStringList lines{tr("layer %1").arg(l)};
  auto add = [&](const QString& name, const std::vector<double>* v) {
    if (!v) return;
    QString line = QStringLiteral("%1 = %2").arg(name, exact((*v)[size_t(l)]));
    const auto* lo = scores_->find(name.toStdString() + ".ci_low");
    const auto* hi = scores_->find(name.toStdString() + ".ci_high");
    if (lo && hi) line += QStringLiteral("  [95% CI %1, %2]").arg(fmt((*lo)[size_t(l)], 4), fmt((*hi)[size_t(l)], 4));
    lines << line;
  };
  add(sensKey_, sens_);
  add(ropeKey_, rope_);
  if (stats_) {
    if (std::count(stats_->topSens.begin(), stats_->topSens.end(), l))
      lines << tr("in S_sens (top-k %1)").arg(sideName(QString::fromStdString(stats_->sensitivityKey)));
    if (std::count(stats_->topRope.begin(), stats_->topRope.end(), l))
      lines << tr("in S_rope (top-k %1)").arg(sideName(QString::fromStdString(stats_->ropeKey)));
  }
  return lines.join(QLatin1Char('\n'));
}

QString ProfileView::csv() const {
  if (!hasData()) return {};
  QString out = QStringLiteral("layer");
  std::vector<std::pair<QString, const std::vector<double>*>> cols;
  for (const QString& key : {sensKey_, ropeKey_}) {
    if (key.isEmpty()) continue;
    for (const char* suffix : {"", ".ci_low", ".ci_high"}) {
      const QString k = key + QLatin1String(suffix);
      if (const auto* v = scores_->find(k.toStdString())) cols.push_back({k, v});
    }
  }
  for (const auto& c : cols) out += QLatin1Char(',') + c.first;
  out += QStringLiteral(",in_S_sens,in_S_rope\n");
  for (int l = 0; l < scores_->numLayers; ++l) {
    out += QString::number(l);
    for (const auto& c : cols) out += QLatin1Char(',') + exact((*c.second)[size_t(l)]);
    const bool s = stats_ && std::count(stats_->topSens.begin(), stats_->topSens.end(), l);
    const bool r = stats_ && std::count(stats_->topRope.begin(), stats_->topRope.end(), l);
    out += QStringLiteral(",%1,%2\n").arg(int(s)).arg(int(r));
  }
  return out;
}

}  // namespace layerscope::views
