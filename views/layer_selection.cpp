#include "views/layer_selection.h"

#include <algorithm>

namespace layerscope::views {

QVector<QPair<int, int>> LayerSelection::runs() const {
  QVector<QPair<int, int>> out;
  for (int l : layers_) {
    if (!out.isEmpty() && out.back().second + 1 == l) out.back().second = l;
    else out.push_back({l, l});
  }
  return out;
}

void LayerSelection::setLayers(QVector<int> layers) {
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  if (layers == layers_) return;
  layers_ = std::move(layers);
  Q_EMIT changed(layers_);
}

}  // namespace layerscope::views
