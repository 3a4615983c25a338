// Live training loss: loss against optimizer step for an adapter fine-tune (docs/methods.md section 7), and the
// held-out loss on the eval file where the run computes one. Passive: the
// app appends the points a training worker reports; the view draws them, optionally smoothed (TensorBoard's
// debiased EMA, the raw points faint behind), on a log axis, with the learning rate on a right-hand axis, and
// with earlier runs overlaid (faint, labelled) for comparison.
#pragma once

#include <QJsonObject>
#include <QVector>

#include "views/plot_view.h"

namespace layerscope::views {

class LossCurveView : public PlotView {
  Q_OBJECT
 public:
  explicit LossCurveView(QWidget* parent = nullptr);
  QString kind() const override { return QStringLiteral("loss"); }
  QString csv() const override;
  bool hasData() const override { return !steps_.isEmpty() || !references_.isEmpty() || !evalSteps_.isEmpty(); }

  /// Replaces every point (steps 1-based) and the planned number of steps (x range; 0 = fit the data); clears the
  /// held-out points.
  void setData(const QVector<double>& steps, const QVector<double>& losses, int totalSteps = 0);
  /// Held-out (eval) loss points of this run, drawn with markers and unsmoothed: replaced / appended (steps increasing).
  void setEvalPoints(const QVector<double>& steps, const QVector<double>& losses);
  void appendEvalPoints(const QVector<double>& steps, const QVector<double>& losses);
  const QVector<double>& evalSteps() const { return evalSteps_; }
  const QVector<double>& evalLosses() const { return evalLosses_; }
  /// Appends points reported since the last call (steps increasing); `lrs` (optional) the learning rate of each.
  void appendPoints(const QVector<double>& steps, const QVector<double>& losses, const QVector<double>& lrs = {});
  /// Learning rate per point (same length as the steps; empty: no lr curve).
  void setLearningRates(const QVector<double>& lrs);
  /// Smoothing weight in [0, 0.999) (0: none).
  void setSmoothing(double weight);
  double smoothing() const { return smoothing_; }
  void setLogScale(bool on);
  bool logScale() const { return log_; }
  /// Keeps an earlier run on the axes (replaces a run with the same label).
  void addReferenceRun(const QString& label, const QVector<double>& steps, const QVector<double>& losses);
  void clearReferenceRuns();
  QStringList referenceRuns() const;
  /// The smoothed losses as drawn (equal to losses() when smoothing is 0).
  QVector<double> smoothedLosses() const;
  void setTotalSteps(int totalSteps);
  void clear();
  int pointCount() const { return int(steps_.size()); }
  const QVector<double>& losses() const { return losses_; }
  const QVector<double>& steps() const { return steps_; }
  const QVector<double>& learningRates() const { return lrs_; }
  /// Every curve drawn (points, learning rates, planned steps, earlier runs) for a session file; smoothing and
  /// log scale are the panel's inputs.
  QJsonObject curvesJson() const;
  /// Restores curvesJson(); a malformed object changes nothing and returns the problem ("" when applied).
  QString applyCurvesJson(const QJsonObject& o);

 protected:
  void build() override;
  QString tooltipAt(double key, double value) const override;

 private:
  struct Reference {
    QString label;
    QVector<double> steps, losses;
  };
  QVector<double> steps_, losses_, lrs_;
  QVector<double> evalSteps_, evalLosses_;
  QList<Reference> references_;
  int totalSteps_ = 0;
  double smoothing_ = 0;
  bool log_ = false;
};

}  // namespace layerscope::views
