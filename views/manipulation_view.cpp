#include "views/manipulation_view.h"

#include <cmath>

namespace layerscope::views {

void ManipulationView::setData(const results::ManipulationCurves& curves) {
  curves_ = curves;
  rebuild();
}

void ManipulationView::build() {
  QCustomPlot* p = plot();
  const FigureStyle& st = figureStyle();
  if (!hasData()) {
    setTitle(tr("No manipulation curves: run `layerscope-cli manipulate` or open a manipulation.json"));
    return;
  }
  const QVector<double> keys(curves_->k.begin(), curves_->k.end());
  const QCPScatterStyle::ScatterShape shapes[] = {QCPScatterStyle::ssDisc, QCPScatterStyle::ssSquare,
                                                  QCPScatterStyle::ssTriangle, QCPScatterStyle::ssDiamond,
                                                  QCPScatterStyle::ssCross};
  int i = 0;
  for (const auto& [mode, acc] : curves_->accuracy) {
    auto* g = p->addGraph();
    g->setData(keys, QVector<double>(acc.begin(), acc.end()), true);
    const QColor c = seriesColor(i);
    g->setPen(QPen(c, st.pen(st.lineWidthPt)));
    g->setScatterStyle(QCPScatterStyle(shapes[i % 5], c, c, st.pen(4)));
    g->setName(QString::fromStdString(mode));
    ++i;
  }
  if (!std::isnan(curves_->baseAccuracy)) {
    auto* base = p->addGraph();
    base->setData({keys.front() - 0.5, keys.back() + 0.5}, {curves_->baseAccuracy, curves_->baseAccuracy});
    base->setPen(QPen(Qt::black, st.pen(1), Qt::DashLine));
    base->setName(tr("no manipulation (%1)").arg(fmt(curves_->baseAccuracy)));
  }
  p->xAxis->setLabel(tr("first manipulated layer k"));
  p->xAxis->setRange(keys.front() - 0.5, keys.back() + 0.5);
  tickEveryLayer(p->xAxis, int(keys.back()) + 1);
  p->yAxis->setLabel(tr("accuracy"));
  p->yAxis->setRange(0, 1.02);
  placeLegendClearOfData();
  setTitle(tr("Manipulating previous-token states from layer k"));
}

QString ManipulationView::tooltipAt(double key, double) const {
  const int idx = int(std::lround(key - (curves_->k.empty() ? 0 : curves_->k.front())));
  if (idx < 0 || idx >= int(curves_->k.size())) return {};
  QStringList lines{tr("k = %1").arg(curves_->k[size_t(idx)])};
  for (const auto& [mode, acc] : curves_->accuracy)
    lines << QStringLiteral("%1: accuracy %2").arg(QString::fromStdString(mode), exact(acc[size_t(idx)]));
  if (!std::isnan(curves_->baseAccuracy)) lines << tr("base: %1").arg(exact(curves_->baseAccuracy));
  return lines.join(QLatin1Char('\n'));
}

QString ManipulationView::csv() const {
  if (!hasData()) return {};
  QString out = QStringLiteral("k");
  for (const auto& [mode, acc] : curves_->accuracy) out += QLatin1Char(',') + QString::fromStdString(mode);
  out += QStringLiteral(",base_accuracy\n");
  for (size_t i = 0; i < curves_->k.size(); ++i) {
    out += QString::number(curves_->k[i]);
    for (const auto& [mode, acc] : curves_->accuracy) out += QLatin1Char(',') + exact(acc[i]);
    out += QLatin1Char(',') + exact(curves_->baseAccuracy) + QLatin1Char('\n');
  }
  return out;
}

}  // namespace layerscope::views
