// Correlation scatter: the co-localization pair (by default sensitivity S_l against RoPE influence R_l; any two
// layer_scores keys, labelled from the key) or their average ranks, one point per layer labelled with its index;
// Spearman r_s, t-test p, permutation p and the bootstrap CI in the legend.
#pragma once

#include <optional>

#include "views/plot_view.h"

namespace layerscope::views {

class ScatterView : public PlotView {
  Q_OBJECT
 public:
  explicit ScatterView(QWidget* parent = nullptr) : PlotView(parent) {}
  QString kind() const override { return QStringLiteral("scatter"); }
  QString csv() const override;
  bool hasData() const override { return !x_.empty(); }

  void setData(const results::Scores& scores, const std::optional<results::Stats>& stats);
  /// Which layer_scores keys to pair ("" = from stats.json).
  void setProfileKeys(const QString& sensitivityKey, const QString& ropeKey);

 protected:
  void build() override;
  QString tooltipAt(double key, double value) const override;
  int layerCount() const override { return int(x_.size()); }
  QVector<int> layersForDrag(double x0, double y0, double x1, double y1) const override;
  void drawSelection() override;

 private:
  void resolve();
  std::optional<results::Scores> scores_;
  std::optional<results::Stats> stats_;
  QString sensOverride_, ropeOverride_, sensKey_, ropeKey_;
  std::vector<double> x_, y_, rawX_, rawY_;
  QCPGraph* selGraph_ = nullptr;
};

}  // namespace layerscope::views
