// The model summary of the inputs panel: config.json and the safetensors headers only (no weights), formatted
// as an HTML table. Called on a QtConcurrent thread.
#pragma once

#include <QString>

namespace layerscope::app {

struct ModelSummary {
  QString dir;
  QString html;   ///< the panel text
  QString error;  ///< non-empty when the folder is not a loadable model
};

/// "2,330,496 (2.33 M)", "7,241,732,096 (7.24 B)": the exact count and a rounded one in k / M / B / T.
QString parameterCountText(double n);

/// Layers, heads / KV heads (n_rep), head_dim, hidden / MLP sizes, vocabulary, parameters, stored dtype, RoPE,
/// file size and a float32 / bfloat16 memory estimate; never throws (errors go to `error`).
ModelSummary summariseModel(const QString& dir);

}  // namespace layerscope::app
