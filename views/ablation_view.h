// The 4-way cross-layer ablation (docs/methods.md section 8): accuracy per arm per task as grouped bars, the base
// model first, each bar labelled with its delta versus the base in percentage points.
#pragma once

#include <optional>

#include "views/plot_view.h"

namespace layerscope::views {

class AblationView : public PlotView {
  Q_OBJECT
 public:
  explicit AblationView(QWidget* parent = nullptr) : PlotView(parent) {}
  QString kind() const override { return QStringLiteral("ablation"); }
  QString csv() const override;
  bool hasData() const override { return report_.has_value() && !report_->arms.empty(); }
  void setData(const results::AblationReport& report);

 protected:
  void build() override;
  QString tooltipAt(double key, double value) const override;

 private:
  std::optional<results::AblationReport> report_;
};

}  // namespace layerscope::views
