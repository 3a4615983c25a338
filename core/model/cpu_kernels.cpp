#include "core/model/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include <ATen/Parallel.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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
// over one scalar pass on one thread: the fixed cost per operation that the loop saves is then small
// (docs/performance.md, "Fused RMSNorm"). The RoPE loop's limit; the RMSNorm loop is parallel and vectorised.
constexpr int64_t kFusedMaxElements = int64_t(1) << 16;
// The limit of the loops that run in parallel and vectorised (RMSNorm, silu(gate) * up): none.
constexpr int64_t kAnySize = std::numeric_limits<int64_t>::max();

// Rows per parallel task for rows of `width` elements: about 2^15 elements a task. Each row is computed the same way
// on any thread.
int64_t rowsPerTask(int64_t width) { return std::max<int64_t>(1, (int64_t(1) << 15) / width); }

// What every loop needs: the loops on, the first operand at most maxElements, every operand a defined,
// non-empty float32 or bfloat16 CPU tensor of the first one's dtype with a contiguous last dimension, none needing a
// gradient. Each loop adds its own layout condition.
bool fusable(std::initializer_list<const torch::Tensor*> ts, int64_t maxElements = kFusedMaxElements) {
  if (!fusedOn()) return false;
  if (!(*ts.begin())->defined() || (*ts.begin())->numel() > maxElements) return false;
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

// RMSNorm's pieces shared by the scalar and AVX2 rows. HF: mean in float32, + eps, rsqrt in float32, from the mean
// square summed in float64 in four running sums.
float rmsInverse(const double part[4], int64_t D, double eps) {
  const double ss = (part[0] + part[1]) + (part[2] + part[3]);
  return 1.0f / std::sqrt(float(ss / double(D)) + float(eps));
}
// The squares of a[from..D) into the first running sum (the elements after the last whole group of four).
template <typename T>
void sumSquaresTail(const T* a, int64_t from, int64_t D, double part[4]) {
  for (int64_t i = from; i < D; ++i) {
    const double v = load(a[i]);
    part[0] += v * v;
  }
}
// o[from..D): x * inv rounded to float32, cast to T, then w * that in T.
template <typename T>
void scaleRow(const T* a, const T* w, T* o, int64_t from, int64_t D, float inv) {
  for (int64_t i = from; i < D; ++i) o[i] = store<T>(load(w[i]) * load(store<T>(load(a[i]) * inv)));
}

// AVX2 versions of the row loops below, chosen at run time where the CPU has AVX2 (this file is compiled for the
// baseline x86-64). Each computes the scalar loop's numbers to the bit: the same operations in the same order, one
// rounding each (no FMA is enabled, so no product and sum fuse), and float32 -> bfloat16 by c10's rounding to
// nearest even (NaN becomes the quiet NaN 0x7FC0).
#if defined(__x86_64__) && defined(__GNUC__)
#define LAYERSCOPE_CPU_AVX2 1
bool cpuHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

__attribute__((target("avx2"))) inline __m256 loadFloat8(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2"))) inline __m256 loadFloat8(const c10::BFloat16* p) {
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}
// float32 -> bfloat16 bits in the low 16 bits of each 32-bit lane.
__attribute__((target("avx2"))) inline __m256i bf16Bits8(__m256 v) {
  const __m256i b = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7FFF)), lsb), 16);
  return _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7FC0), _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
}
__attribute__((target("avx2"))) inline void store8(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
__attribute__((target("avx2"))) inline void store8(c10::BFloat16* p, __m256 v) {
  const __m256i r = bf16Bits8(v);
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);  // 8 x 16 bits in the low half
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
}
// v rounded to T and back to float32 (the identity for float32).
__attribute__((target("avx2"))) inline __m256 rounded(__m256 v, float*) { return v; }
__attribute__((target("avx2"))) inline __m256 rounded(__m256 v, c10::BFloat16*) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(bf16Bits8(v), 16));
}

// The sum of squares in float64 with lanes j = i mod 4 (the scalar loop's four running sums), then the scaled row.
template <typename T>
__attribute__((target("avx2"))) void rmsNormRowAvx2(const T* a, const T* w, T* o, int64_t D, double eps) {
  __m256d part = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 4 <= D; i += 4) {
    __m256d v;
    if constexpr (std::is_same_v<T, float>) {
      v = _mm256_cvtps_pd(_mm_loadu_ps(a + i));
    } else {
      const __m128i bits = _mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a + i)));
      v = _mm256_cvtps_pd(_mm_castsi128_ps(_mm_slli_epi32(bits, 16)));
    }
    part = _mm256_add_pd(part, _mm256_mul_pd(v, v));
  }
  alignas(32) double p[4];
  _mm256_store_pd(p, part);
  sumSquaresTail(a, i, D, p);
  const float inv = rmsInverse(p, D, eps);
  const __m256 inv8 = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= D; i += 8) {
    const __m256 normed = rounded(_mm256_mul_ps(loadFloat8(a + i), inv8), static_cast<T*>(nullptr));
    store8(o + i, _mm256_mul_ps(loadFloat8(w + i), normed));
  }
  scaleRow(a, w, o, i, D, inv);
}
#endif

template <typename T>
void rmsNormRow(const T* a, const T* wp, T* o, int64_t D, double eps) {
#ifdef LAYERSCOPE_CPU_AVX2
  if (cpuHasAvx2()) return rmsNormRowAvx2(a, wp, o, D, eps);
#endif
  double part[4] = {0, 0, 0, 0};  // four running sums: no chain of dependent additions
  int64_t i = 0;
  for (; i + 4 <= D; i += 4)
    for (int j = 0; j < 4; ++j) {
      const double v = load(a[i + j]);
      part[j] += v * v;
    }
  sumSquaresTail(a, i, D, part);
  scaleRow(a, wp, o, 0, D, rmsInverse(part, D, eps));
}

template <typename T>
torch::Tensor rmsNormLoop(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  const int64_t D = x.size(-1), rows = x.numel() / D, xs = rowStride(x);
  torch::Tensor y = torch::empty(x.sizes(), x.options());  // contiguous
  const T* xp = x.data_ptr<T>();
  const T* wp = w.data_ptr<T>();
  T* yp = y.data_ptr<T>();
  at::parallel_for(0, rows, rowsPerTask(D), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) rmsNormRow(xp + r * xs, wp, yp + r * D, D, eps);
  });
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

// LibTorch's bfloat16 silu of every bfloat16 value, indexed by bit pattern, as float32 (exact): LibTorch 1.13 rounds
// each step of x / (1 + exp(-x)) to bfloat16 (exp, the sum, the quotient), so the table is built from LibTorch's own
// kernel on a contiguous tensor of all 65,536 values (its vectorised path; its scalar path gives the same finite
// numbers).
const std::vector<float>& bf16SiluTable() {
  static const std::vector<float> table = [] {
    c10::InferenceMode guard;
    const torch::Tensor all = torch::arange(0, 65536, torch::kInt32).to(torch::kInt16).view(torch::kBFloat16);
    const torch::Tensor silu = torch::silu(all).to(torch::kFloat32).contiguous();
    return std::vector<float>(silu.data_ptr<float>(), silu.data_ptr<float>() + 65536);
  }();
  return table;
}

// One element of siluMul: silu(g) from the table, then LibTorch's bfloat16 product (the float32 product, exact for
// two bfloat16 factors, rounded to nearest even).
c10::BFloat16 siluTimes(const float* table, uint16_t g, c10::BFloat16 u) { return c10::BFloat16(table[g] * float(u)); }

// One row of siluMul, 8 elements at a time with AVX2: silu(g) gathered from the table, the float32 product, and the
// rounding to bfloat16 of store8().
#ifdef LAYERSCOPE_CPU_AVX2
__attribute__((target("avx2"))) void siluMulRowAvx2(const uint16_t* g, const c10::BFloat16* u, c10::BFloat16* o,
                                                    int64_t n, const float* table) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i gi = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + i)));
    store8(o + i, _mm256_mul_ps(_mm256_i32gather_ps(table, gi, 4), loadFloat8(u + i)));
  }
  for (; i < n; ++i) o[i] = siluTimes(table, g[i], u[i]);
}
#endif

// fusable()'s conditions at any size, for two bfloat16 operands of one shape whose rows collapse to one stride.
bool siluMulFusable(const torch::Tensor& gate, const torch::Tensor& up) {
  return fusable({&gate, &up}, kAnySize) && gate.scalar_type() == torch::kBFloat16 && gate.sizes() == up.sizes() &&
         rowStride(gate) >= 0 && rowStride(up) >= 0;
}

}  // namespace

torch::Tensor siluMulOps(const torch::Tensor& gate, const torch::Tensor& up) { return torch::silu(gate) * up; }

torch::Tensor siluMul(const torch::Tensor& gate, const torch::Tensor& up) {
  if (!siluMulFusable(gate, up)) return siluMulOps(gate, up);
  const float* table = bf16SiluTable().data();
  const int64_t F = gate.size(-1), rows = gate.numel() / F, gs = rowStride(gate), us = rowStride(up);
  torch::Tensor y = torch::empty(gate.sizes(), gate.options());  // contiguous
  const auto* gp = reinterpret_cast<const uint16_t*>(gate.data_ptr<c10::BFloat16>());
  const c10::BFloat16* upp = up.data_ptr<c10::BFloat16>();
  c10::BFloat16* yp = y.data_ptr<c10::BFloat16>();
  at::parallel_for(0, rows, rowsPerTask(F), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint16_t* g = gp + r * gs;
      const c10::BFloat16* u = upp + r * us;
      c10::BFloat16* o = yp + r * F;
#ifdef LAYERSCOPE_CPU_AVX2
      if (cpuHasAvx2()) {
        siluMulRowAvx2(g, u, o, F, table);
        continue;
      }
#endif
      for (int64_t i = 0; i < F; ++i) o[i] = siluTimes(table, g[i], u[i]);
    }
  });
  return y;
}

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
  // Any size: the rows split over threads and each row runs vectorised where the CPU has AVX2.
  if (!fusable({&x, &w}, kAnySize) || rowStride(x) < 0 || w.dim() != 1 || w.size(0) != x.size(-1))
    return rmsNormOps(x, w, eps);
  return x.scalar_type() == torch::kFloat32 ? rmsNormLoop<float>(x, w, eps) : rmsNormLoop<c10::BFloat16>(x, w, eps);
}

}  // namespace layerscope::core
