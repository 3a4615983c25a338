#include "core/model/cpu_kernels.h"

#include <cmath>
#include <vector>

#include "core/base/env_choice.h"

namespace layerscope::core {

namespace {

bool fusedOn() {
  static const bool on = envChoice("LAYERSCOPE_CPU_KERNELS", {"fused", "ops"}) != "ops";
  return on;
}

// Rows of a tensor [..., n] whose last dimension is contiguous and whose leading dimensions collapse to one row
// stride (a contiguous tensor, or a narrowed column range of one, as the fused projections' outputs): that stride,
// else -1.
int64_t rowStride(const torch::Tensor& t) {
  if (t.dim() < 1 || t.stride(-1) != 1) return -1;
  if (t.dim() == 1) return t.size(0);
  const int64_t s = t.stride(-2);
  int64_t expect = s;
  for (int64_t d = t.dim() - 2; d >= 0; --d) {
    if (t.size(d) != 1 && t.stride(d) != expect) return -1;
    expect *= t.size(d);
  }
  return s;
}

// Above this many elements LibTorch's vectorised kernels (AVX2; this file is compiled for the baseline x86-64) win
// over one scalar pass: the fixed cost per operation that the loop saves is then small (docs/performance.md,
// "Fused RMSNorm").
constexpr int64_t kFusedMaxElements = int64_t(1) << 16;

// What every loop needs: the loops on, the first operand at most kFusedMaxElements, every operand a defined,
// non-empty float32 or bfloat16 CPU tensor of the first one's dtype with a contiguous last dimension, none needing a
// gradient. Each loop adds its own layout condition.
bool fusable(std::initializer_list<const torch::Tensor*> ts) {
  if (!fusedOn()) return false;
  if (!(*ts.begin())->defined() || (*ts.begin())->numel() > kFusedMaxElements) return false;
  const auto type = (*ts.begin())->scalar_type();
  if (type != torch::kFloat32 && type != torch::kBFloat16) return false;
  for (const torch::Tensor* t : ts) {
    if (!t->defined() || !t->device().is_cpu() || t->scalar_type() != type || t->numel() == 0) return false;
    if (t->dim() < 1 || t->stride(-1) != 1) return false;
    if (torch::GradMode::is_enabled() && t->requires_grad()) return false;
  }
  return true;
}

float load(float v) { return v; }
float load(c10::BFloat16 v) { return float(v); }
template <typename T>
T store(float v) {
  return T(v);  // c10::BFloat16(float) rounds to nearest even, as LibTorch's casts
}

template <typename T>
torch::Tensor rmsNormLoop(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  const int64_t D = x.size(-1), rows = x.numel() / D, xs = rowStride(x);
  torch::Tensor y = torch::empty(x.sizes(), x.options());  // contiguous
  const T* xp = x.data_ptr<T>();
  const T* wp = w.data_ptr<T>();
  T* yp = y.data_ptr<T>();
  for (int64_t r = 0; r < rows; ++r) {  // one thread: at most kFusedMaxElements
    const T* a = xp + r * xs;
    T* o = yp + r * D;
    double part[4] = {0, 0, 0, 0};  // four running sums: no chain of dependent additions
    int64_t i = 0;
    for (; i + 4 <= D; i += 4)
      for (int j = 0; j < 4; ++j) {
        const double v = load(a[i + j]);
        part[j] += v * v;
      }
    for (; i < D; ++i) {
      const double v = load(a[i]);
      part[0] += v * v;
    }
    const double ss = (part[0] + part[1]) + (part[2] + part[3]);
    // HF: mean in float32, + eps, rsqrt in float32; x * inv rounded to float32, cast to T, then w * that in T.
    const float inv = 1.0f / std::sqrt(float(ss / double(D)) + float(eps));
    for (i = 0; i < D; ++i) {
      const T normed = store<T>(load(a[i]) * inv);
      o[i] = store<T>(load(wp[i]) * load(normed));
    }
  }
  return y;
}

// One pass over x's rows; cos and sin are read through their broadcast strides (zero along broadcast dimensions),
// so the per-forward [B|1, G|1, 1, T, Dh] angles are never expanded in memory.
template <typename T>
torch::Tensor ropeLoop(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sinSigned) {
  const auto sizes = x.sizes();
  const torch::Tensor c = cos.expand(sizes), s = sinSigned.expand(sizes);
  const int64_t lead = x.dim() - 1, Dh = sizes.back(), half = Dh / 2, rows = x.numel() / Dh;
  torch::Tensor y = torch::empty(sizes, x.options());  // contiguous
  const T* xp = x.data_ptr<T>();
  const T* cp = c.data_ptr<T>();
  const T* sp = s.data_ptr<T>();
  T* yp = y.data_ptr<T>();
  std::vector<int64_t> at(size_t(lead), 0);
  int64_t xo = 0, co = 0, so = 0;  // offsets of the current row
  for (int64_t r = 0; r < rows; ++r) {  // one thread: at most kFusedMaxElements
    const T* a = xp + xo;
    const T* cr = cp + co;
    const T* sr = sp + so;
    T* o = yp + r * Dh;
    for (int64_t i = 0; i < Dh; ++i) {
      const T rotated = a[i < half ? i + half : i - half];
      // As the operations: [x2, x1] * sinSigned rounded to T, x * cos rounded to T, their sum rounded to T. (This
      // file is compiled for the baseline x86-64, without FMA, so the float32 product and sum stay two roundings.)
      const T first = store<T>(load(rotated) * load(sr[i]));
      const T second = store<T>(load(a[i]) * load(cr[i]));
      o[i] = store<T>(load(first) + load(second));
    }
    for (int64_t d = lead - 1; d >= 0; --d) {  // next row: odometer over the leading dimensions
      if (++at[size_t(d)] < sizes[d]) {
        xo += x.stride(d), co += c.stride(d), so += s.stride(d);
        break;
      }
      at[size_t(d)] = 0;
      xo -= x.stride(d) * (sizes[d] - 1), co -= c.stride(d) * (sizes[d] - 1), so -= s.stride(d) * (sizes[d] - 1);
    }
  }
  return y;
}

// x's rows may have any strides (the forward's queries are a view of the projection); the angles broadcast to x.
bool ropeFusable(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sinSigned) {
  if (!fusable({&x, &cos, &sinSigned}) || x.size(-1) % 2 != 0) return false;
  for (const torch::Tensor* t : {&cos, &sinSigned})
    if (t->dim() > x.dim() || !at::is_expandable_to(t->sizes(), x.sizes()) || t->size(-1) != x.size(-1)) return false;
  return true;
}

}  // namespace

std::string cpuKernelMode() { return fusedOn() ? "fused" : "ops"; }

torch::Tensor rmsNormOps(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  auto xf = x.to(x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32);
  // The [.., 1] statistics are updated in place (the same values, fewer allocations).
  auto inv = xf.pow(2).mean(-1, /*keepdim=*/true).add_(eps).rsqrt_();
  return w * (xf * inv).to(x.scalar_type());
}

torch::Tensor ropeOps(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sinSigned) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor out = torch::cat({x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1) * sinSigned;
  // Not addcmul_: LibTorch's float32 kernel fuses its multiply and add (one rounding), and HF rounds the product.
  return out.add_(x * cos);
}

torch::Tensor rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sinSigned) {
  if (!ropeFusable(x, cos, sinSigned)) return ropeOps(x, cos, sinSigned);
  return x.scalar_type() == torch::kFloat32 ? ropeLoop<float>(x, cos, sinSigned)
                                            : ropeLoop<c10::BFloat16>(x, cos, sinSigned);
}

torch::Tensor rmsNorm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  if (!fusable({&x, &w}) || rowStride(x) < 0 || w.dim() != 1 || w.size(0) != x.size(-1)) return rmsNormOps(x, w, eps);
  return x.scalar_type() == torch::kFloat32 ? rmsNormLoop<float>(x, w, eps) : rmsNormLoop<c10::BFloat16>(x, w, eps);
}

}  // namespace layerscope::core
