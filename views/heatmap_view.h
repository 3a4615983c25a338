// Heatmaps on integer cells: layer (x) against KV head or metric (y), QCPColorMap without interpolation,
// every layer ticked, viridis / cividis for magnitudes, a zero-centred diverging map for signed values, and
// the colour scale labelled with its quantity.
#pragma once

#include <optional>

#include "views/plot_view.h"

namespace layerscope::views {

/// What a heatmap shows. values[layer][row]; rows are KV heads or metrics.
struct HeatmapData {
  QString title;
  QString rowAxisLabel;                    ///< "KV head" or "score"
  QStringList rowNames;                    ///< tick labels of the rows
  std::vector<std::vector<double>> values; ///< values[layer][row], as drawn
  std::vector<std::vector<double>> raw;    ///< values before per-row normalisation (tooltips, CSV); may equal values
  QString colourLabel;                     ///< quantity and unit of the colour scale
};

/// Layer x KV head matrix of `key` (e.g. "rope_influence.gradient.per_head").
HeatmapData headHeatmap(const results::Scores& scores, const std::string& key);
/// Layer x score: every layer_scores key except interval bounds (sensitivity, RoPE influence, redundancy as
/// importance, then registered extra profiles such as the logit lens), each min-max scaled per row.
HeatmapData metricHeatmap(const results::Scores& scores);

class HeatmapView : public PlotView {
  Q_OBJECT
 public:
  explicit HeatmapView(QWidget* parent = nullptr) : PlotView(parent) {}
  QString kind() const override { return QStringLiteral("heatmap"); }
  QString csv() const override;
  bool hasData() const override { return !data_.values.empty(); }

  void setData(const HeatmapData& data);
  /// Fixes the colour range (nullopt: data range; signed data is made symmetric about 0).
  void setColourRange(std::optional<QCPRange> range);
  QCPColorMap* colorMap() const { return map_; }
  const HeatmapData& data() const { return data_; }

 protected:
  void build() override;
  QString tooltipAt(double key, double value) const override;
  int layerCount() const override { return int(data_.values.size()); }
  /// The colour map is opaque: the selection is outlined on a layer above it.
  void drawSelection() override { drawSelectionBands(plot()->axisRect(), 0.5, true); }

 private:
  HeatmapData data_;
  std::optional<QCPRange> range_;
  QCPColorMap* map_ = nullptr;
};

}  // namespace layerscope::views
