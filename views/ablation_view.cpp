#include "views/ablation_view.h"

#include <cmath>

namespace layerscope::views {

void AblationView::setData(const results::AblationReport& report) {
  report_ = report;
  rebuild();
}

void AblationView::build() {
  QCustomPlot* p = plot();
  const FigureStyle& st = figureStyle();
  if (!hasData()) {
    setTitle(tr("No ablation report: run the 4-way ablation or open a report.json"));
    return;
  }
  const auto& tasks = report_->tasks;
  std::vector<std::pair<QString, std::map<std::string, double>>> arms;
  if (!report_->baseAccuracy.empty()) arms.push_back({tr("base"), report_->baseAccuracy});
  for (const auto& a : report_->arms) arms.push_back({QString::fromStdString(a.name), a.accuracy});
  auto* group = new QCPBarsGroup(p);
  group->setSpacingType(QCPBarsGroup::stAbsolute);
  group->setSpacing(st.pen(0.5));
  const double width = 0.8 / double(arms.size());
  for (size_t a = 0; a < arms.size(); ++a) {
    QVector<double> keys, vals;
    for (size_t t = 0; t < tasks.size(); ++t) {
      auto it = arms[a].second.find(tasks[t]);
      keys << double(t);
      vals << (it == arms[a].second.end() ? results::kNaN : it->second);
    }
    auto* bars = new QCPBars(p->xAxis, p->yAxis);
    bars->setData(keys, vals, true);
    bars->setWidth(width);
    bars->setBarsGroup(group);
    const QColor c = a == 0 && !report_->baseAccuracy.empty() ? QColor(150, 150, 150) : seriesColor(int(a) - 1);
    bars->setBrush(c);
    bars->setPen(Qt::NoPen);
    bars->setName(arms[a].first);
    if (a > 0 && !report_->baseAccuracy.empty()) {
      for (size_t t = 0; t < tasks.size(); ++t) {
        auto b = report_->baseAccuracy.find(tasks[t]);
        if (b == report_->baseAccuracy.end() || std::isnan(vals[int(t)])) continue;
        auto* label = new QCPItemText(p);
        // The group's pixel offsets exist only after layout; place by the same arithmetic in keys.
        const double offset = (double(a) - (double(arms.size()) - 1) / 2.0) * width;
        label->position->setCoords(double(t) + offset, vals[int(t)]);
        label->setRotation(-90);
        label->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
        label->setText(QStringLiteral("%1%2").arg(vals[int(t)] >= b->second ? QStringLiteral("+") : QString())
                           .arg((vals[int(t)] - b->second) * 100, 0, 'f', 1));
        label->setFont(st.font(-2));
        label->setPadding(QMargins(2, 0, 0, 0));
      }
    }
  }
  QSharedPointer<QCPAxisTickerText> ticks(new QCPAxisTickerText);
  for (size_t t = 0; t < tasks.size(); ++t) ticks->addTick(double(t), QString::fromStdString(tasks[t]));
  p->xAxis->setTicker(ticks);
  p->xAxis->setSubTicks(false);
  p->xAxis->grid()->setVisible(false);
  p->xAxis->setRange(-0.5, double(tasks.size()) - 0.5);
  p->yAxis->setLabel(tr("accuracy"));
  p->yAxis->setRange(0, 1.1);
  placeLegendBelow(int(arms.size()));
  setTitle(tr("Cross-layer ablation (labels: delta vs base, pts)"));
}

QString AblationView::tooltipAt(double key, double) const {
  const int t = int(std::lround(key));
  if (!report_ || t < 0 || t >= int(report_->tasks.size())) return {};
  const std::string& task = report_->tasks[size_t(t)];
  QStringList lines{tr("task %1").arg(QString::fromStdString(task))};
  auto base = report_->baseAccuracy.find(task);
  if (base != report_->baseAccuracy.end()) lines << tr("base: %1").arg(exact(base->second));
  for (const auto& a : report_->arms) {
    auto it = a.accuracy.find(task);
    if (it == a.accuracy.end()) continue;
    QString line = QStringLiteral("%1: %2").arg(QString::fromStdString(a.name), exact(it->second));
    if (base != report_->baseAccuracy.end()) line += tr(" (%1 pts)").arg((it->second - base->second) * 100, 0, 'f', 2);
    lines << line;
  }
  return lines.join(QLatin1Char('\n'));
}

QString AblationView::csv() const {
  if (!hasData()) return {};
  QString out = QStringLiteral("arm,task,accuracy,delta_vs_base_pts,trainable_parameters\n");
  for (const auto& a : report_->arms)
    for (const auto& [task, acc] : a.accuracy) {
      auto b = report_->baseAccuracy.find(task);
      out += QStringLiteral("%1,%2,%3,%4,%5\n").arg(QString::fromStdString(a.name), QString::fromStdString(task), exact(acc),
                                                    b == report_->baseAccuracy.end() ? QString() : exact((acc - b->second) * 100))
                 .arg(a.trainableParameters);
    }
  return out;
}

}  // namespace layerscope::views
