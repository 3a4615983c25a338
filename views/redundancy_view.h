// Layer redundancy bars: importance = 1 - cosine similarity for attention, MLP and block (docs/methods.md section 5),
// grouped per layer; modules removed by a drop plan are hatched and outlined.
#pragma once

#include <optional>

#include "views/plot_view.h"

namespace layerscope::views {

class RedundancyView : public PlotView {
  Q_OBJECT
 public:
  explicit RedundancyView(QWidget* parent = nullptr) : PlotView(parent) {}
  QString kind() const override { return QStringLiteral("redundancy"); }
  QString csv() const override;
  bool hasData() const override { return !similarity_.empty(); }

  /// Similarities per module ("attn", "mlp", "block") from scores.json and / or drop.json; plan optional.
  void setData(const std::optional<results::Scores>& scores, const std::optional<results::DropPlan>& plan);

 protected:
  void build() override;
  QString tooltipAt(double key, double value) const override;
  int layerCount() const override { return similarity_.empty() ? 0 : int(similarity_.begin()->second.size()); }

 private:
  std::map<std::string, std::vector<double>> similarity_;
  std::optional<results::DropPlan> plan_;
};

}  // namespace layerscope::views
