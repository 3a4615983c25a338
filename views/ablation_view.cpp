#include "views/ablation_view.h"

#include <cmath>
#include <numeric>

namespace layerscope::views {
namespace {

/// What an arm is (docs/methods.md section 8, experiments/ablation.h), for the legend: "C1: LoRA + GARFA on S_sens".
QString armLegend(const results::AblationReport::Arm& a) {
  const QString name = QString::fromStdString(a.name);
  const QString sens = QStringLiteral("S_sens"), rope = QStringLiteral("S_rope");
  auto placed = [](const QString& lora, const QString& garfa) {
    return lora == garfa ? QObject::tr("LoRA + GARFA on %1").arg(lora) : QObject::tr("LoRA on %1, GARFA on %2").arg(lora, garfa);
  };
  if (name == QLatin1String("C1")) return name + QStringLiteral(": ") + placed(sens, sens);
  if (name == QLatin1String("C2")) return name + QStringLiteral(": ") + placed(sens, rope);
  if (name == QLatin1String("C3")) return name + QStringLiteral(": ") + placed(rope, sens);
  if (name == QLatin1String("C4")) return name + QStringLiteral(": ") + placed(rope, rope);
  if (name == QLatin1String("C5")) {
    size_t seeds = 0;
    for (const auto& [task, runs] : a.runAccuracy) seeds = std::max(seeds, runs.size());
    return seeds > 1 ? QObject::tr("C5: random layers, mean \u00b1 SD of %1 seeds").arg(seeds)
                     : QObject::tr("C5: random layers");
  }
  return name;
}

/// Sample standard deviation (n - 1), NaN below two values.
double sampleSd(const std::vector<double>& v) {
  if (v.size() < 2) return results::kNaN;
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / double(v.size() - 1));
}

}  // namespace

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
  std::vector<const results::AblationReport::Arm*> source;  // the report's arm behind each bar series (base: none)
  if (!report_->baseAccuracy.empty()) {
    arms.push_back({tr("base model"), report_->baseAccuracy});
    source.push_back(nullptr);
  }
  for (const auto& a : report_->arms) {
    arms.push_back({armLegend(a), a.accuracy});
    source.push_back(&a);
  }
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
    // An arm of several seeds (C5): its spread as error bars (sample SD over the seeds' accuracies).
    if (source[a] && !source[a]->runAccuracy.empty()) {
      QVector<double> sd;
      for (const std::string& task : tasks) {
        auto it = source[a]->runAccuracy.find(task);
        sd << (it == source[a]->runAccuracy.end() ? results::kNaN : sampleSd(it->second));
      }
      auto* err = new QCPErrorBars(p->xAxis, p->yAxis);
      err->setDataPlottable(bars);
      err->setData(sd);
      err->setPen(QPen(QColor(30, 30, 30), st.pen(0.8)));
      err->setWhiskerWidth(st.pen(3));
      err->removeFromLegend();
    }
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
  // The arm definitions are long: below the plot, as many per row as fit the figure's width.
  int columns = int(arms.size());
  for (; columns > 1; --columns) {
    p->legend->setWrap(columns);
    p->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
    if (p->legend->minimumOuterSizeHint().width() <= st.widthUnits()) break;
  }
  placeLegendBelow(columns);
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
    QString line = QStringLiteral("%1: %2").arg(armLegend(a), exact(it->second));
    if (base != report_->baseAccuracy.end()) line += tr(" (%1 pts)").arg((it->second - base->second) * 100, 0, 'f', 2);
    if (auto r = a.runAccuracy.find(task); r != a.runAccuracy.end()) line += tr(", SD %1 over %2 seeds").arg(exact(sampleSd(r->second))).arg(r->second.size());
    lines << line;
  }
  return lines.join(QLatin1Char('\n'));
}

QString AblationView::csv() const {
  if (!hasData()) return {};
  QString out = QStringLiteral("arm,task,accuracy,delta_vs_base_pts,trainable_parameters,seeds,sd_over_seeds\n");
  for (const auto& a : report_->arms)
    for (const auto& [task, acc] : a.accuracy) {
      auto b = report_->baseAccuracy.find(task);
      auto r = a.runAccuracy.find(task);
      const bool seeded = r != a.runAccuracy.end();
      out += QStringLiteral("%1,%2,%3,%4,%5,%6,%7\n").arg(QString::fromStdString(a.name), QString::fromStdString(task), exact(acc),
                                                          b == report_->baseAccuracy.end() ? QString() : exact((acc - b->second) * 100))
                 .arg(a.trainableParameters)
                 .arg(seeded ? QString::number(r->second.size()) : QStringLiteral("1"),
                      seeded ? exact(sampleSd(r->second)) : QString());
    }
  return out;
}

}  // namespace layerscope::views
