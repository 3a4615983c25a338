#include "core/model/dropout.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
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

// One draw from torch's host generator per mask: manual_seed makes the masks reproducible on every device.
uint64_t drawSeed() {
  const auto hostI64 = torch::TensorOptions().dtype(torch::kInt64).device(hostDevice());
  return uint64_t(torch::randint(0, int64_t(1) << 62, {1}, hostI64).item<int64_t>());
}

void checkProbability(double p) {
  if (!(p >= 0.0 && p < 1.0)) throw InvalidArgument("dropout probability must be in [0, 1), got " + std::to_string(p));
}

// An element is dropped when its 16-bit draw is below `threshold`, else scaled by `keep`. Blocks of 4 elements share
// one 64-bit draw; element j of a block takes bits 16j..16j+15.
struct MaskRule {
  uint32_t threshold;
  float keep;
  int64_t blocks;
};
MaskRule maskRule(double p, int64_t n) {
  return {uint32_t(std::lround(p * 65536.0)), float(1.0 / (1.0 - p)), (n + 3) / 4};
}

// Calls f(element index, mask value) for every element of an n-element mask of dropoutKeepScaleSeeded, in parallel
// over whole blocks (so the bits never depend on threads).
template <typename F>
void forEachMaskValue(int64_t n, double p, uint64_t seed, const F& f) {
  const MaskRule rule = maskRule(p, n);
  at::parallel_for(0, rule.blocks, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      uint64_t bits = splitmix64(seed ^ splitmix64(uint64_t(blk)));
      const int64_t base = blk * 4, lim = std::min<int64_t>(4, n - base);
      for (int64_t j = 0; j < lim; ++j, bits >>= 16) f(base + j, uint32_t(bits & 0xffff) < rule.threshold ? 0.0f : rule.keep);
    }
  });
}

// x * mask(seed) for a float32 CPU tensor, in one pass: the product LibTorch's x * mask computes, element by element.
torch::Tensor scaledByMask(const torch::Tensor& x, double p, uint64_t seed) {
  const torch::Tensor in = x.contiguous();  // the mask pairs with elements in row-major order
  torch::Tensor out = torch::empty(in.sizes(), in.options());
  const float* a = in.data_ptr<float>();
  float* o = out.data_ptr<float>();
  forEachMaskValue(in.numel(), p, seed, [&](int64_t i, float m) { o[i] = a[i] * m; });
  return out;
}

// x * mask without the mask in memory: the backward multiplies the gradient by the mask regenerated from its seed.
struct SeededDropout : torch::autograd::Function<SeededDropout> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double p) {
    const uint64_t seed = drawSeed();
    ctx->saved_data["p"] = p;
    ctx->saved_data["seed"] = int64_t(seed);
    return scaledByMask(x, p, seed);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const double p = ctx->saved_data["p"].toDouble();
    const auto seed = uint64_t(ctx->saved_data["seed"].toInt());
    const torch::Tensor& g = grad[0];
    // A differentiable backward (create_graph) multiplies by the mask tensor itself.
    const bool differentiable = torch::GradMode::is_enabled() && g.requires_grad();
    const bool loop = !differentiable && g.device().is_cpu() && g.scalar_type() == torch::kFloat32;
    return {loop ? scaledByMask(g, p, seed) : g * dropoutKeepScaleSeeded(g.sizes(), p, seed, g.device()),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor dropoutKeepScaleSeeded(at::IntArrayRef shape, double p, uint64_t seed, c10::Device device, MaskPath path) {
  checkProbability(p);
  if (path == MaskPath::Auto) path = device.is_cpu() ? MaskPath::HostLoop : MaskPath::TensorOps;
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  if (path == MaskPath::TensorOps) {
    const MaskRule rule = maskRule(p, n);
    const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(device);
    torch::Tensor bits =
        splitmix64Lanes(torch::bitwise_xor(splitmix64Lanes(torch::arange(rule.blocks, i64)), bitsOf(seed)));
    torch::Tensor draws = torch::stack({torch::bitwise_and(bits, 0xffff), torch::bitwise_and(shiftRight(bits, 16), 0xffff),
                                        torch::bitwise_and(shiftRight(bits, 32), 0xffff), shiftRight(bits, 48)},
                                       1)
                              .reshape({-1})
                              .narrow(0, 0, n);  // [n]
    torch::Tensor out = torch::where(draws < int64_t(rule.threshold), torch::zeros({}, i64.dtype(torch::kFloat32)),
                                     torch::full({}, rule.keep, i64.dtype(torch::kFloat32)));
    return out.reshape(shape);
  }
  if (!device.is_cpu()) throw InvalidArgument("dropout masks: the host loop computes on the CPU only");
  torch::Tensor out = torch::empty(shape, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  float* data = out.data_ptr<float>();
  forEachMaskValue(n, p, seed, [&](int64_t i, float m) { data[i] = m; });
  return out;
}

torch::Tensor dropoutKeepScale(at::IntArrayRef shape, double p, c10::Device device) {
  checkProbability(p);
  return dropoutKeepScaleSeeded(shape, p, drawSeed(), device);
}

torch::Tensor applyDropout(const torch::Tensor& x, double p) {
  checkProbability(p);
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat32) return x * dropoutKeepScale(x.sizes(), p, x.device());
  if (torch::GradMode::is_enabled() && x.requires_grad()) return SeededDropout::apply(x, p);
  return scaledByMask(x, p, drawSeed());
}

}  // namespace layerscope::core
