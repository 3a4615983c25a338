#include "core/model/cpu_gemm.h"

#include <algorithm>
#include <bit>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <ATen/Parallel.h>

#include "core/base/env_choice.h"
#include "core/base/error.h"

#if LAYERSCOPE_HAVE_ONEDNN
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace layerscope::core {

namespace {

#if LAYERSCOPE_HAVE_ONEDNN
constexpr bool kBuiltWithOneDnn = true;
#else
constexpr bool kBuiltWithOneDnn = false;
#endif

bool useOneDnn() {
  static const bool on = [] {
    const std::string s = envChoice("LAYERSCOPE_CPU_GEMM", {"auto", "onednn", "libtorch"});
    if (s == "onednn" && !kBuiltWithOneDnn)
      throw InvalidArgument("LAYERSCOPE_CPU_GEMM=onednn, but this build has no oneDNN (install libdnnl-dev and rebuild)");
    return kBuiltWithOneDnn && s != "libtorch";
  }();
  return on;
}

bool needsGradient(const torch::Tensor& t) { return t.defined() && t.requires_grad(); }

// oneDNN's products apply to float32 CPU operands outside autograd.
bool applies(const torch::Tensor& a, const torch::Tensor& w, const torch::Tensor& b) {
  if (!useOneDnn()) return false;
  auto plain = [](const torch::Tensor& t) { return t.scalar_type() == torch::kFloat32 && t.device().is_cpu(); };
  if (!plain(a) || !plain(w) || (b.defined() && !plain(b)) || w.dim() != 2 || a.dim() < 1) return false;
  if (torch::GradMode::is_enabled() && (needsGradient(a) || needsGradient(w) || needsGradient(b))) return false;
  return a.numel() > 0 && w.numel() > 0;
}

// A [rows, cols] operand with unit column stride and a leading dimension of at least cols (a view when possible).
torch::Tensor rowMajor(const torch::Tensor& t) {
  return t.stride(1) == 1 && t.stride(0) >= t.size(1) ? t : t.contiguous();
}

#if LAYERSCOPE_HAVE_ONEDNN
// Below this many multiply-adds a product runs on one thread: waking a second thread costs more than it saves.
// Measured inside the demo's forward on the 2-core development VM (docs/performance.md, "oneDNN for float32
// products"): with 2^24, 1 x 64 tokens ran at 4,400-4,800 tok/s and 8 x 32 at 7,400-8,200; with 2^17-2^19 at
// 5,800-8,000 and 9,800-12,600 (within noise of each other); with two threads always, 1 x 32 was slowest. (A
// microbenchmark that multiplies the same cached matrices again and again favours one thread up to 2^24: in a
// forward each weight comes from memory once, and two cores fetch it faster.) OpenBLAS uses the same limit.
constexpr double kOneThreadMacs = double(int64_t(1) << 18);

// While it lives, this thread's OpenMP regions run on one thread if an M x N x K product is below kOneThreadMacs
// (the calling thread's setting only; restored on every path). threads() is the count the product runs on.
class ThreadsForProduct {
 public:
  ThreadsForProduct(int64_t M, int64_t N, int64_t K)
      : outer_(omp_get_max_threads()), one_(outer_ > 1 && double(M) * double(N) * double(K) < kOneThreadMacs) {
    if (one_) omp_set_num_threads(1);
  }
  ~ThreadsForProduct() {
    if (one_) omp_set_num_threads(outer_);
  }
  ThreadsForProduct(const ThreadsForProduct&) = delete;
  ThreadsForProduct& operator=(const ThreadsForProduct&) = delete;
  int threads() const { return one_ ? 1 : outer_; }

 private:
  int outer_;
  bool one_;
};

// C [M, N] = op(A) op(B) (+ beta C), row-major; transA 'N' reads A [M, K], 'T' reads A [K, M]; transB 'T' reads
// B [N, K], 'N' reads B [K, N].
void sgemm(char transA, char transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  dnnl_status_t status;
  {
    const ThreadsForProduct scope(M, N, K);
    status = dnnl_sgemm(transA, transB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  }
  if (status != dnnl_success)
    throw Error("oneDNN sgemm failed (status " + std::to_string(int(status)) + ") for a " + std::to_string(M) + " x " +
                std::to_string(N) + " x " + std::to_string(K) + " product");
}

// a [..., inner] times b^T (transB 'T', b [outer, inner]) or b ('N', b [inner, outer]), plus `bias` [outer] when
// defined: [..., outer].
torch::Tensor product(const torch::Tensor& a, const torch::Tensor& b, char transB, const torch::Tensor& bias) {
  const int64_t inner = a.size(-1), outer = transB == 'T' ? b.size(0) : b.size(1);
  const torch::Tensor a2 = rowMajor(a.reshape({-1, inner}));
  const torch::Tensor bm = rowMajor(b);
  const int64_t M = a2.size(0);
  torch::Tensor y = torch::empty({M, outer}, a.options());
  if (bias.defined()) y.copy_(bias.view({1, outer}).expand({M, outer}));
  sgemm('N', transB, M, outer, inner, a2.data_ptr<float>(), a2.stride(0), bm.data_ptr<float>(), bm.stride(0),
        bias.defined() ? 1.0f : 0.0f, y.data_ptr<float>(), outer);
  auto shape = a.sizes().vec();
  shape.back() = outer;
  return y.view(shape);
}

// Panels of the bfloat16 weight for cpuLinearBf16Panels: about 2^18 widened elements (1 MB), and at least four
// panels a thread so that the split stays even. Measured on the 2-core VM (1.1B shapes, 128 x 2048 x 11264 and
// 128 x 5632 x 2048): 2^17 to 2^19 elements within noise of each other, 85-120 GFLOP/s, against 58-85 GFLOP/s for
// the same slices widened one after another and multiplied on both threads, and 89-116 GFLOP/s for one product of
// the whole weight already in float32.
constexpr int64_t kPanelElements = int64_t(1) << 18;

// bfloat16 -> float32 is exact: the 16 bits become the top half of the float32. A plain loop (vectorised by the
// compiler) instead of a LibTorch conversion: no allocation, no dispatch, and the buffer is reused.
// Typed float stores (bit_cast, not memcpy, whose byte-wise stores may alias n) in blocks of eight, a trip count
// the compiler's cheap vectoriser at -O2 takes.
void widenRow(const c10::BFloat16* __restrict src, float* __restrict dst, const int64_t n) {
  const auto* s = reinterpret_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) dst[i + j] = std::bit_cast<float>(uint32_t(s[i + j]) << 16);
  for (; i < n; ++i) dst[i] = std::bit_cast<float>(uint32_t(s[i]) << 16);
}

// Native bfloat16 products (cpuNativeBf16): oneDNN's matmul primitive on bfloat16 operands, float32 accumulation,
// bfloat16 output. A primitive is built once per shape, leading dimensions, bias and thread count (oneDNN plans
// the split over threads when it builds one) and kept; building one takes far longer than a small product.
bool cpuHasBf16Arithmetic() {
  const auto isa = unsigned(dnnl_get_effective_cpu_isa());
  const auto bf16 = unsigned(dnnl_cpu_isa_avx512_core_bf16);  // AMX's mask includes it
  return (isa & bf16) == bf16;
}

const dnnl::engine& cpuEngine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

struct Bf16Matmul {
  dnnl::memory::desc a, b, bias, c, scratch;
  dnnl::matmul prim;
};

// C [M, N] = A [M, K] op(B) (+ bias [N]), row-major; transB 'T' reads B [N, K], 'N' reads B [K, N]. Null where oneDNN
// has only its reference implementation (slower than widening).
std::shared_ptr<const Bf16Matmul> bf16Matmul(char transB, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                                             bool bias, int threads) {
  using Key = std::tuple<char, int64_t, int64_t, int64_t, int64_t, int64_t, bool, int>;
  static std::mutex mutex;
  static std::map<Key, std::shared_ptr<const Bf16Matmul>> built;
  const Key key{transB, M, N, K, lda, ldb, bias, threads};
  std::lock_guard lock(mutex);
  if (auto it = built.find(key); it != built.end()) return it->second;
  using dt = dnnl::memory::data_type;
  auto m = std::make_shared<Bf16Matmul>();
  m->a = dnnl::memory::desc({M, K}, dt::bf16, {lda, 1});
  m->b = transB == 'T' ? dnnl::memory::desc({K, N}, dt::bf16, {1, ldb}) : dnnl::memory::desc({K, N}, dt::bf16, {ldb, 1});
  if (bias) m->bias = dnnl::memory::desc({1, N}, dt::bf16, {N, 1});
  m->c = dnnl::memory::desc({M, N}, dt::bf16, {N, 1});
  std::shared_ptr<const Bf16Matmul> result;
  try {
    // A scratchpad per call (user mode): two threads may run the same primitive at once.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(m->a, m->b, m->bias, m->c), attr, cpuEngine());
    if (!std::string_view(pd.impl_info_str()).starts_with("ref")) {
      m->scratch = pd.scratchpad_desc();
      m->prim = dnnl::matmul(pd);
      result = m;
    }
  } catch (const dnnl::error&) {  // no implementation for these descriptors: the caller widens
  }
  if (built.size() >= 1024) built.clear();  // shapes come from batch x tokens; bound the memory they hold
  built.emplace(key, result);
  return result;
}

bool plainBf16(const torch::Tensor& t) { return t.scalar_type() == torch::kBFloat16 && t.device().is_cpu(); }

// a [..., inner] op(b) (+ bias [outer]) in bfloat16 (transB as product() above); undefined where it does not apply.
torch::Tensor nativeBf16Product(const torch::Tensor& a, const torch::Tensor& b, char transB, const torch::Tensor& bias) {
  if (!cpuNativeBf16() || !a.defined() || !b.defined() || !plainBf16(a) || !plainBf16(b) || b.dim() != 2 || a.dim() < 1)
    return {};
  const int64_t inner = a.size(-1), outer = transB == 'T' ? b.size(0) : b.size(1);
  if ((transB == 'T' ? b.size(1) : b.size(0)) != inner || a.numel() == 0 || b.numel() == 0) return {};
  if (bias.defined() && (!plainBf16(bias) || bias.dim() != 1 || bias.size(0) != outer)) return {};
  if (torch::GradMode::is_enabled() && (needsGradient(a) || needsGradient(b) || needsGradient(bias))) return {};
  const torch::Tensor a2 = rowMajor(a.reshape({-1, inner}));
  const torch::Tensor bm = rowMajor(b);
  const torch::Tensor bb = bias.defined() ? bias.contiguous() : bias;
  const int64_t M = a2.size(0);
  // From before the primitive is built (oneDNN plans its split over threads then) until after it ran.
  const ThreadsForProduct scope(M, outer, inner);
  const auto mm = bf16Matmul(transB, M, outer, inner, a2.stride(0), bm.stride(0), bias.defined(), scope.threads());
  if (!mm) return {};
  torch::Tensor y = torch::empty({M, outer}, a.options());
  const dnnl::engine& engine = cpuEngine();
  thread_local dnnl::stream stream(engine);
  const auto scratchBytes = int64_t(mm->scratch.get_size());
  const torch::Tensor scratch = torch::empty({std::max<int64_t>(1, scratchBytes)}, a.options().dtype(torch::kUInt8));
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, dnnl::memory(mm->a, engine, a2.data_ptr())},
                                             {DNNL_ARG_WEIGHTS, dnnl::memory(mm->b, engine, bm.data_ptr())},
                                             {DNNL_ARG_DST, dnnl::memory(mm->c, engine, y.data_ptr())},
                                             {DNNL_ARG_SCRATCHPAD, dnnl::memory(mm->scratch, engine, scratch.data_ptr())}};
  if (bias.defined()) args.emplace(DNNL_ARG_BIAS, dnnl::memory(mm->bias, engine, bb.data_ptr()));
  try {
    mm->prim.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN bfloat16 matmul failed (") + e.what() + ") for a " + std::to_string(M) + " x " +
                std::to_string(outer) + " x " + std::to_string(inner) + " product");
  }
  auto shape = a.sizes().vec();
  shape.back() = outer;
  return y.view(shape);
}
#endif

}  // namespace

torch::Tensor cpuLinearBf16Panels(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
#if LAYERSCOPE_HAVE_ONEDNN
  if (!useOneDnn() || !x.defined() || !w.defined()) return {};
  const auto cpu = [](const torch::Tensor& t) { return t.device().is_cpu(); };
  if (x.scalar_type() != torch::kFloat32 || w.scalar_type() != torch::kBFloat16 || !cpu(x) || !cpu(w)) return {};
  if (w.dim() != 2 || x.dim() < 1 || x.size(-1) != w.size(1) || x.numel() == 0 || w.numel() == 0) return {};
  if (b.defined() && (b.scalar_type() != torch::kFloat32 || !cpu(b) || b.dim() != 1 || b.size(0) != w.size(0))) return {};
  if (torch::GradMode::is_enabled() && (needsGradient(x) || needsGradient(w) || needsGradient(b))) return {};
  const int64_t K = w.size(1), N = w.size(0);
  const torch::Tensor a2 = rowMajor(x.reshape({-1, K}));
  const int64_t M = a2.size(0);
  if (M >= kPanelMaxRows) return {};
  const torch::Tensor wm = rowMajor(w);
  const int threads = std::max(1, at::get_num_threads());
  const bool oneThread = threads == 1 || double(M) * double(N) * double(K) < kOneThreadMacs;  // as sgemm() above
  int64_t rows = std::max<int64_t>(1, kPanelElements / K);
  if (!oneThread) rows = std::max<int64_t>(1, std::min(rows, (N + 4 * threads - 1) / (4 * threads)));
  const int64_t panels = (N + rows - 1) / rows;
  torch::Tensor y = torch::empty({M, N}, x.options());
  if (b.defined()) y.copy_(b.view({1, N}).expand({M, N}));
  const float* A = a2.data_ptr<float>();
  const int64_t lda = a2.stride(0), ldw = wm.stride(0);
  const c10::BFloat16* W = wm.data_ptr<c10::BFloat16>();
  float* Y = y.data_ptr<float>();
  const float beta = b.defined() ? 1.0f : 0.0f;
  std::vector<dnnl_status_t> status(size_t(panels), dnnl_success);
  at::parallel_for(0, panels, oneThread ? panels : 1, [&](int64_t first, int64_t last) {
    thread_local std::vector<float> buffer;
    const int outer = omp_get_max_threads();
    omp_set_num_threads(1);  // this thread's products run on it alone
    for (int64_t p = first; p < last; ++p) {
      const int64_t r = p * rows, n = std::min(rows, N - r);
      buffer.resize(size_t(n * K));
      for (int64_t i = 0; i < n; ++i) widenRow(W + (r + i) * ldw, buffer.data() + i * K, K);
      status[size_t(p)] = dnnl_sgemm('N', 'T', M, n, K, 1.0f, A, lda, buffer.data(), K, beta, Y + r, N);
    }
    omp_set_num_threads(outer);
  });
  for (const auto st : status)
    if (st != dnnl_success)
      throw Error("oneDNN sgemm failed (status " + std::to_string(int(st)) + ") in a " + std::to_string(M) + " x " +
                  std::to_string(N) + " x " + std::to_string(K) + " bfloat16-weight product");
  auto shape = x.sizes().vec();
  shape.back() = N;
  return y.view(shape);
#else
  (void)x, (void)w, (void)b;
  return {};
#endif
}

std::string cpuGemmLibrary() { return useOneDnn() ? "onednn" : "libtorch"; }

bool cpuNativeBf16() {
  static const bool on = [] {
    const std::string s = envChoice("LAYERSCOPE_CPU_BF16", {"auto", "native", "widened"});
    if (s == "widened" || !useOneDnn()) {
      if (s == "native")
        throw InvalidArgument("LAYERSCOPE_CPU_BF16=native needs oneDNN's products (a build with libdnnl-dev and "
                              "LAYERSCOPE_CPU_GEMM other than libtorch)");
      return false;
    }
#if LAYERSCOPE_HAVE_ONEDNN
    const bool has = cpuHasBf16Arithmetic();
    if (s == "native" && !has)
      throw InvalidArgument("LAYERSCOPE_CPU_BF16=native, but this CPU has no bfloat16 arithmetic (AVX-512 BF16 or AMX)");
    return has;
#else
    return false;
#endif
  }();
  return on;
}

torch::Tensor cpuLinearBf16Native(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
#if LAYERSCOPE_HAVE_ONEDNN
  return nativeBf16Product(x, w, 'T', b);
#else
  (void)x, (void)w, (void)b;
  return {};
#endif
}

torch::Tensor cpuLinearInputGradientBf16Native(const torch::Tensor& g, const torch::Tensor& w) {
#if LAYERSCOPE_HAVE_ONEDNN
  return nativeBf16Product(g, w, 'N', {});
#else
  (void)g, (void)w;
  return {};
#endif
}

torch::Tensor cpuLinear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  if (!applies(x, w, b) || x.size(-1) != w.size(1) || (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0))))
    return torch::linear(x, w, b);  // LibTorch's path, and its error messages for mismatched shapes
#if LAYERSCOPE_HAVE_ONEDNN
  return product(x, w, 'T', b);
#else
  return torch::linear(x, w, b);
#endif
}

torch::Tensor cpuLinearWeightGradient(const torch::Tensor& g, const torch::Tensor& x) {
  const torch::Tensor g2 = g.reshape({-1, g.size(-1)}), x2 = x.reshape({-1, x.size(-1)});
#if LAYERSCOPE_HAVE_ONEDNN
  if (applies(g2, x2, {}) && g.dim() == x.dim() && g.sizes().slice(0, g.dim() - 1) == x.sizes().slice(0, x.dim() - 1)) {
    // [N, K] = g^T [N, M] x [M, K]: g's rows read as columns (transA), no transposed copy.
    const torch::Tensor gm = rowMajor(g2), xm = rowMajor(x2);
    const int64_t M = gm.size(0), N = gm.size(1), K = xm.size(1);
    torch::Tensor y = torch::empty({N, K}, g.options());
    sgemm('T', 'N', N, K, M, gm.data_ptr<float>(), gm.stride(0), xm.data_ptr<float>(), xm.stride(0), 0.0f,
          y.data_ptr<float>(), K);
    return y;
  }
#endif
  return torch::matmul(g2.t(), x2);  // LibTorch's product, and its error for rows that do not pair up
}

torch::Tensor cpuLinearInputGradient(const torch::Tensor& g, const torch::Tensor& w) {
  if (!applies(g, w, {}) || g.size(-1) != w.size(0)) return torch::matmul(g, w);
#if LAYERSCOPE_HAVE_ONEDNN
  return product(g, w, 'N', {});
#else
  return torch::matmul(g, w);
#endif
}

}  // namespace layerscope::core
