// Layer profiles: the two layer_scores keys of the co-localization pair (by default sensitivity S_l and RoPE
// influence R_l; any key, e.g. logit_lens.accuracy, labelled from the key) against layer, normalised on one axis or
// on twin axes, bootstrap bands, the top-k sets shaded, centres of mass marked and the verdict in the title.
#pragma once

#include <QList>
#include <optional>

#include "views/plot_view.h"

namespace layerscope::views {

class ProfileView : public PlotView {
  Q_OBJECT
 public:
  explicit ProfileView(QWidget* parent = nullptr) : PlotView(parent) {}
  QString kind() const override { return QStringLiteral("profile"); }
  QString csv() const override;
  bool hasData() const override { return scores_.has_value() && (sens_ || rope_); }

  /// Shows the pair named by `stats` (else the first sensitivity key, or any profile key, and the first
  /// rope_influence key of `scores`).
  void setData(const results::Scores& scores, const std::optional<results::Stats>& stats);
  /// Overrides which layer_scores keys are drawn ("" = default from stats.json); any non-interval key.
  void setProfileKeys(const QString& sensitivityKey, const QString& ropeKey);
  QString sensitivityKey() const { return sensKey_; }
  QString ropeKey() const { return ropeKey_; }

 protected:
  void build() override;
  /// Centre-of-mass labels where they cover no data point, the legend or each other (candidate positions
  /// along each line, bottom first, checked against PlotView::dataRects at the figure size).
  void placeAfterLayout() override;
  QString tooltipAt(double key, double value) const override;
  int layerCount() const override { return scores_ ? scores_->numLayers : 0; }

 private:
  void resolveKeys();
  std::optional<results::Scores> scores_;
  std::optional<results::Stats> stats_;
  QString sensOverride_, ropeOverride_, sensKey_, ropeKey_;
  const std::vector<double>* sens_ = nullptr;
  const std::vector<double>* rope_ = nullptr;
  struct ComLabel {
    QCPItemText* item;
    bool preferLeft;  ///< the lower centre's label extends left, the higher one's right
  };
  QList<ComLabel> comLabels_;  // rebuilt with the items
};

}  // namespace layerscope::views
