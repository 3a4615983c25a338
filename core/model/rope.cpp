// RoPE inverse frequencies (see rope.h). llama3: wavelen = 2 pi / inv_freq; wavelen < orig/high: keep;
// wavelen > orig/low: divide by factor; else blend s = (orig/wavelen - low)/(high - low),
// inv = (1 - s) inv / factor + s inv. linear: inv / factor.
#include "core/model/rope.h"

#include <cmath>

namespace layerscope::core {

std::vector<double> ropeInverseFrequencies(const ModelConfig& c, std::vector<RopeBand>* bands) {
  const int half = c.headDim / 2;
  std::vector<double> inv(static_cast<size_t>(half));
  if (bands) bands->assign(size_t(half), RopeBand::Kept);
  const auto& rs = c.ropeScaling;
  for (int i = 0; i < half; ++i) {
    double f = std::pow(c.ropeTheta, -2.0 * i / c.headDim);
    if (rs.kind == RopeScaling::Kind::Linear) {
      f /= rs.factor;
      if (bands) (*bands)[size_t(i)] = RopeBand::Divided;
    } else if (rs.kind == RopeScaling::Kind::Llama3) {
      const double lowWavelen = rs.originalMaxPositions / rs.lowFreqFactor;
      const double highWavelen = rs.originalMaxPositions / rs.highFreqFactor;
      const double wavelen = 2.0 * M_PI / f;
      if (wavelen < highWavelen) {
        // kept
      } else if (wavelen > lowWavelen) {
        f /= rs.factor;
        if (bands) (*bands)[size_t(i)] = RopeBand::Divided;
      } else {
        const double s = (rs.originalMaxPositions / wavelen - rs.lowFreqFactor) / (rs.highFreqFactor - rs.lowFreqFactor);
        f = (1.0 - s) * f / rs.factor + s * f;
        if (bands) (*bands)[size_t(i)] = RopeBand::Blended;
      }
    }
    inv[size_t(i)] = f;
  }
  return inv;
}

}  // namespace layerscope::core
