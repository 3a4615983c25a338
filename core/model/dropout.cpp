#include "core/model/dropout.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>

#include "core/base/error.h"
#include "core/base/splitmix64.h"

namespace layerscope::core {
namespace {

// Unsigned 64-bit constants as the int64 values with the same bits (tensor arithmetic wraps modulo 2^64).
constexpr int64_t bitsOf(uint64_t v) { return static_cast<int64_t>(v); }

// Logical right shift of int64 lanes (ATen's shift is arithmetic on signed types).
torch::Tensor shiftRight(const torch::Tensor& z, int k) {
  return torch::bitwise_and(torch::bitwise_right_shift(z, k), bitsOf((uint64_t(1) << (64 - k)) - 1));
}

// splitmix64 (core/base/splitmix64.h) on int64 lanes: bit-identical to the scalar version.
torch::Tensor splitmix64Lanes(const torch::Tensor& x) {
  torch::Tensor z = x + bitsOf(0x9E3779B97F4A7C15ULL);
  z = torch::bitwise_xor(z, shiftRight(z, 30)) * bitsOf(0xBF58476D1CE4E5B9ULL);
  z = torch::bitwise_xor(z, shiftRight(z, 27)) * bitsOf(0x94D049BB133111EBULL);
  return torch::bitwise_xor(z, shiftRight(z, 31));
}

}  // namespace

torch::Tensor dropoutKeepScaleSeeded(at::IntArrayRef shape, double p, uint64_t seed, c10::Device device, MaskPath path) {
  if (!(p >= 0.0 && p < 1.0)) throw InvalidArgument("dropout probability must be in [0, 1), got " + std::to_string(p));
  if (path == MaskPath::Auto) path = device.is_cpu() ? MaskPath::HostLoop : MaskPath::TensorOps;
  const uint32_t threshold = uint32_t(std::lround(p * 65536.0));  // drop when the 16-bit draw is below it
  const float keep = float(1.0 / (1.0 - p));
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  // Blocks of 4 elements share one 64-bit draw, element j of a block takes bits 16j..16j+15.
  const int64_t blocks = (n + 3) / 4;
  if (path == MaskPath::TensorOps) {
    const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(device);
    torch::Tensor bits = splitmix64Lanes(torch::bitwise_xor(splitmix64Lanes(torch::arange(blocks, i64)), bitsOf(seed)));
    torch::Tensor draws = torch::stack({torch::bitwise_and(bits, 0xffff), torch::bitwise_and(shiftRight(bits, 16), 0xffff),
                                        torch::bitwise_and(shiftRight(bits, 32), 0xffff), shiftRight(bits, 48)},
                                       1)
                              .reshape({-1})
                              .narrow(0, 0, n);  // [n]
    torch::Tensor out = torch::where(draws < int64_t(threshold), torch::zeros({}, i64.dtype(torch::kFloat32)),
                                     torch::full({}, keep, i64.dtype(torch::kFloat32)));
    return out.reshape(shape);
  }
  if (!device.is_cpu()) throw InvalidArgument("dropout masks: the host loop computes on the CPU only");
  torch::Tensor out = torch::empty(shape, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  float* data = out.data_ptr<float>();
  // Grains are whole blocks, so the bits never depend on threads.
  at::parallel_for(0, blocks, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      uint64_t bits = splitmix64(seed ^ splitmix64(uint64_t(blk)));
      const int64_t base = blk * 4, lim = std::min<int64_t>(4, n - base);
      for (int64_t j = 0; j < lim; ++j, bits >>= 16) data[base + j] = uint32_t(bits & 0xffff) < threshold ? 0.0f : keep;
    }
  });
  return out;
}

torch::Tensor dropoutKeepScale(at::IntArrayRef shape, double p, c10::Device device) {
  if (!(p >= 0.0 && p < 1.0)) throw InvalidArgument("dropout probability must be in [0, 1), got " + std::to_string(p));
  // One draw from torch's host generator per mask: manual_seed makes the masks reproducible on every device.
  const auto hostI64 = torch::TensorOptions().dtype(torch::kInt64).device(hostDevice());
  const uint64_t seed = uint64_t(torch::randint(0, int64_t(1) << 62, {1}, hostI64).item<int64_t>());
  return dropoutKeepScaleSeeded(shape, p, seed, device);
}

}  // namespace layerscope::core
