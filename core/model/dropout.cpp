#include "core/model/dropout.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>

#include "core/base/error.h"
#include "core/base/splitmix64.h"

namespace layerscope::core {

torch::Tensor dropoutKeepScale(at::IntArrayRef shape, double p) {
  if (!(p >= 0.0 && p < 1.0)) throw InvalidArgument("dropout probability must be in [0, 1), got " + std::to_string(p));
  torch::Tensor out = torch::empty(shape, torch::kFloat32);
  const int64_t n = out.numel();
  // One draw from torch's generator per mask: manual_seed makes the masks reproducible.
  const uint64_t seed = uint64_t(torch::randint(0, int64_t(1) << 62, {1}, torch::kInt64).item<int64_t>());
  const uint32_t threshold = uint32_t(std::lround(p * 65536.0));  // drop when the 16-bit draw is below it
  const float keep = float(1.0 / (1.0 - p));
  float* data = out.data_ptr<float>();
  // Blocks of 4 elements share one 64-bit draw; grains are whole blocks, so the bits never depend on threads.
  const int64_t blocks = (n + 3) / 4;
  at::parallel_for(0, blocks, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      uint64_t bits = splitmix64(seed ^ splitmix64(uint64_t(blk)));
      const int64_t base = blk * 4, lim = std::min<int64_t>(4, n - base);
      for (int64_t j = 0; j < lim; ++j, bits >>= 16) data[base + j] = uint32_t(bits & 0xffff) < threshold ? 0.0f : keep;
    }
  });
  return out;
}

}  // namespace layerscope::core
