// Live training loss: loss against optimizer step for an adapter fine-tune (docs/methods.md section 7). Passive: the
// app appends the points a training worker reports; the view only draws them (line + markers, log-free axes).
#pragma once

#include <QVector>

#include "views/plot_view.h"

namespace layerscope::views {

class LossCurveView : public PlotView {
  Q_OBJECT
 public:
  explicit LossCurveView(QWidget* parent = nullptr);
  QString kind() const override { return QStringLiteral("loss"); }
  QString csv() const override;
  bool hasData() const override { return !steps_.isEmpty(); }

  /// Replaces every point (steps 1-based) and the planned number of steps (x range; 0 = fit the data).
  void setData(const QVector<double>& steps, const QVector<double>& losses, int totalSteps = 0);
  /// Appends points reported since the last call (steps increasing).
  void appendPoints(const QVector<double>& steps, const QVector<double>& losses);
  void setTotalSteps(int totalSteps);
  void clear();
  int pointCount() const { return int(steps_.size()); }
  const QVector<double>& losses() const { return losses_; }

 protected:
  void build() override;
  QString tooltipAt(double key, double value) const override;

 private:
  QVector<double> steps_, losses_;
  int totalSteps_ = 0;
};

}  // namespace layerscope::views
