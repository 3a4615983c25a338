// Manipulation curves (Attend First, Consolidate Later): task accuracy against the layer k from which
// previous-token hidden states are manipulated, one curve per manipulation, the unmanipulated base dashed.
#pragma once

#include <optional>

#include "views/plot_view.h"

namespace layerscope::views {

class ManipulationView : public PlotView {
  Q_OBJECT
 public:
  explicit ManipulationView(QWidget* parent = nullptr) : PlotView(parent) {}
  QString kind() const override { return QStringLiteral("manipulation"); }
  QString csv() const override;
  bool hasData() const override { return curves_.has_value() && !curves_->accuracy.empty(); }
  void setData(const results::ManipulationCurves& curves);

 protected:
  void build() override;
  QString tooltipAt(double key, double value) const override;
  int layerCount() const override { return curves_ ? int(curves_->k.size()) : 0; }

 private:
  std::optional<results::ManipulationCurves> curves_;
};

}  // namespace layerscope::views
