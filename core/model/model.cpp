// The instrumented Llama-family forward pass (see model.h for the shape legend).
// Numerics follow Hugging Face transformers' eager LlamaAttention: RMSNorm in float32 then cast, cos/sin in
// float32 then cast, q.k^T in the compute dtype times 1/sqrt(Dh), softmax in float32, keys rotated before they
// are shared by the n_rep query heads of their group.
#include "core/model/model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include <torch/csrc/autograd/custom_function.h>

#include "core/model/cpu_gemm.h"
#include "core/model/dropout.h"
#include "core/base/error.h"
#include "core/model/rope.h"
#include "core/model/torch_compat.h"

namespace layerscope::core {

bool usesFusedAttention(const c10::Device& device) {
  static const bool forcedEager = [] {
    const char* v = std::getenv("LAYERSCOPE_ATTENTION");
    const std::string s = v ? v : "";
    if (!s.empty() && s != "eager" && s != "auto")
      throw InvalidArgument("LAYERSCOPE_ATTENTION must be 'auto' or 'eager', found '" + s + "'");
    return s == "eager";
  }();
  return compat::kHasFusedAttention && device.is_cuda() && !forcedEager;
}

// ---- TensorCapture -------------------------------------------------------------------------------------

TensorCapture& TensorCapture::request(int layer, Site site) {
  wanted_.insert({layer, site});
  return *this;
}

TensorCapture& TensorCapture::requestAllLayers(Site site, int numLayers) {
  for (int l = 0; l < numLayers; ++l) wanted_.insert({l, site});
  return *this;
}

TensorCapture& TensorCapture::keepPositions(torch::Tensor positions) {
  if (positions.dim() != 1 && positions.dim() != 2)
    throw InvalidArgument("TensorCapture::keepPositions expects [B] or [B,P] positions");
  positions_ = positions.to(torch::kInt64);
  return *this;
}

void TensorCapture::record(const SiteKey& key, const torch::Tensor& value) {
  if (!wants(key)) return;
  torch::Tensor v = value;
  if (positions_.defined()) {
    // Token axis: 1 for [B,T,D]; 2 for [B,H,T,Dh] and for the query axis of [B,H,T,T].
    const bool headed = key.site == Site::Q || key.site == Site::K || key.site == Site::AttnPattern;
    const int64_t axis = headed ? 2 : 1;
    torch::Tensor pos = (positions_.dim() == 1 ? positions_.unsqueeze(1) : positions_).to(v.device());  // [B,P]
    if (pos.size(0) != v.size(0)) throw InvalidArgument("TensorCapture: kept positions have a different batch size");
    std::vector<int64_t> shape(size_t(v.dim()), 1);
    shape[0] = pos.size(0);
    shape[size_t(axis)] = pos.size(1);
    auto expanded = v.sizes().vec();
    expanded[size_t(axis)] = pos.size(1);
    v = v.gather(axis, pos.view(shape).expand(expanded));
    if (positions_.dim() == 1) v = v.squeeze(axis);
  }
  // Only the kept sites and positions leave the model's device; a graph-keeping capture stays on it.
  v = keepGraph_ ? v.to(dtype_) : v.detach().to(device_, dtype_);
  values_[key] = (v.data_ptr() == value.data_ptr()) ? v.clone() : v;
}

const torch::Tensor& TensorCapture::get(int layer, Site site) const {
  auto it = values_.find({layer, site});
  if (it == values_.end())
    throw InvalidArgument("no capture for layer " + std::to_string(layer) + " site " + siteName(site) +
                          (wants({layer, site}) ? " (requested but not reached)" : " (not requested)"));
  return it->second;
}

// ---- Interventions ---------------------------------------------------------------------------------------

void Interventions::validate(const ModelConfig& c, int64_t batch, int64_t tokens) const {
  const int L = c.numLayers;
  auto checkSize = [&](size_t n, const char* what) {
    if (n != 0 && n != size_t(L))
      throw InvalidArgument(std::string(what) + " has " + std::to_string(n) + " entries; the model has " +
                            std::to_string(L) + " layers");
  };
  checkSize(ropeAlpha.size(), "ropeAlpha");
  checkSize(skipAttention.size(), "skipAttention");
  checkSize(skipMlp.size(), "skipMlp");
  checkSize(lora.size(), "lora");
  for (size_t l = 0; l < ropeAlpha.size(); ++l) {
    const auto& a = ropeAlpha[l];
    if (!a.defined()) continue;
    const bool shared = a.dim() == 1 && a.size(0) == c.numKvHeads;
    const bool perRow = a.dim() == 2 && a.size(0) == batch && a.size(1) == c.numKvHeads;
    if (!shared && !perRow)
      throw InvalidArgument("ropeAlpha[" + std::to_string(l) + "] must have shape [" + std::to_string(c.numKvHeads) +
                            "] (one multiplier per KV head) or [B, G] = [" + std::to_string(batch) + ", " +
                            std::to_string(c.numKvHeads) + "] (per row)");
  }
  for (const auto& r : replacements) {
    if (r.layer < 0 || r.layer >= L)
      throw InvalidArgument("state replacement at layer " + std::to_string(r.layer) + " is out of range 0.." +
                            std::to_string(L - 1));
    if (!r.mask.defined() || r.mask.dim() != 2 || r.mask.size(0) != batch || r.mask.size(1) != tokens)
      throw InvalidArgument("state replacement mask must be [B,T] = [" + std::to_string(batch) + "," +
                            std::to_string(tokens) + "]");
    if (!r.values.defined() || r.values.dim() != 3 || r.values.size(0) != batch || r.values.size(1) != tokens ||
        r.values.size(2) != c.hiddenSize)
      throw InvalidArgument("state replacement values must be [B,T,D] with D = " + std::to_string(c.hiddenSize));
  }
}

// ---- Loading ---------------------------------------------------------------------------------------------

torch::ScalarType parseComputeDtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "f32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  throw InvalidArgument("unsupported compute dtype '" + name + "' (expected float32 or bfloat16)");
}

std::string computeDtypeName(torch::ScalarType t) { return t == torch::kBFloat16 ? "bfloat16" : "float32"; }

std::shared_ptr<const LlamaModel> LlamaModel::build(const ModelConfig& c, const Getter& getRaw,
                                                   const std::function<bool(const std::string&)>& has,
                                                   torch::ScalarType dtype, c10::Device device) {
  // float64 is accepted for tests (finite differences); the CLI and GUI offer float32 and bfloat16.
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16 && dtype != torch::kFloat64)
    throw InvalidArgument("compute dtype must be float32 or bfloat16");
  auto m = std::make_shared<LlamaModel>();
  m->config_ = c;
  m->dtype_ = dtype;
  m->device_ = device;
  // One tensor at a time; no copy when the tensor already has this device and dtype.
  auto get = [&](const std::string& name) { return getRaw(name).to(device, dtype); };
  m->embed_ = get(kHfEmbed);
  m->finalNorm_ = get(kHfFinalNorm);
  m->lmHead_ = c.tieWordEmbeddings ? m->embed_ : get(kHfLmHead);
  m->layers_.resize(size_t(c.numLayers));
  for (int l = 0; l < c.numLayers; ++l) {
    Layer& L = m->layers_[size_t(l)];
    L.inputNorm = get(hfInputNorm(l));
    L.postNorm = get(hfPostAttentionNorm(l));
    for (Proj p : kAllProj) {
      L.w[int(p)] = get(hfProjPrefix(l, p) + ".weight");
      const std::string b = hfProjPrefix(l, p) + ".bias";
      if (has(b)) L.b[int(p)] = get(b);
    }
  }
  // HF computes inv_freq in float32; we compute in double and round once.
  auto inv = ropeInverseFrequencies(c);
  m->invFreq64_ = torch::tensor(inv, torch::TensorOptions().dtype(torch::kFloat64).device(hostDevice())).to(device);
  m->invFreq_ = m->invFreq64_.to(torch::kFloat32);
  return m;
}

std::shared_ptr<const LlamaModel> LlamaModel::fromCheckpoint(const Checkpoint& ck, torch::ScalarType dtype,
                                                             c10::Device device) {
  // float64 (tests only) widens after the transfer like float32; Checkpoint::load handles both directions.
  return build(ck.config(), [&](const std::string& n) { return ck.load(n, dtype, device); },
               [&](const std::string& n) { return ck.contains(n); }, dtype, device);
}

std::shared_ptr<const LlamaModel> LlamaModel::fromTensors(const ModelConfig& c,
                                                          const std::map<std::string, torch::Tensor>& tensors,
                                                          torch::ScalarType dtype) {
  for (const auto& [name, shape] : Checkpoint::expectedTensors(c)) {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw InvalidArgument("fromTensors: missing tensor '" + name + "'");
    if (it->second.sizes().vec() != shape) throw InvalidArgument("fromTensors: tensor '" + name + "' has the wrong shape");
  }
  const c10::Device device = tensors.at(kHfEmbed).device();  // the tensors' own device: shared, not moved
  return build(c, [&](const std::string& n) { return tensors.at(n); },
               [&](const std::string& n) { return tensors.count(n) != 0; }, dtype, device);
}

std::shared_ptr<const LlamaModel> LlamaModel::withRopeMultipliers(std::vector<torch::Tensor> alpha) const {
  if (!alpha.empty() && alpha.size() != size_t(config_.numLayers))
    throw InvalidArgument("withRopeMultipliers: expected " + std::to_string(config_.numLayers) + " entries, got " +
                          std::to_string(alpha.size()));
  for (size_t l = 0; l < alpha.size(); ++l)
    if (alpha[l].defined()) {
      if (alpha[l].dim() != 1 || alpha[l].size(0) != config_.numKvHeads)
        throw InvalidArgument("withRopeMultipliers: layer " + std::to_string(l) + " needs [" +
                              std::to_string(config_.numKvHeads) + "] multipliers");
      alpha[l] = alpha[l].detach().to(device_, torch::kFloat64);
    }
  auto m = std::make_shared<LlamaModel>(*this);  // tensors are shared, not copied
  m->fixedAlpha_ = std::move(alpha);
  return m;
}

std::shared_ptr<const LlamaModel> LlamaModel::load(const std::filesystem::path& dir, torch::ScalarType dtype,
                                                   c10::Device device) {
  return fromCheckpoint(Checkpoint::open(dir), dtype, device);
}

std::vector<std::pair<std::string, torch::Tensor>> LlamaModel::namedWeights() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  out.emplace_back(kHfEmbed, embed_);
  for (int l = 0; l < config_.numLayers; ++l) {
    const Layer& L = layers_[size_t(l)];
    out.emplace_back(hfInputNorm(l), L.inputNorm);
    out.emplace_back(hfPostAttentionNorm(l), L.postNorm);
    for (Proj p : kAllProj) {
      out.emplace_back(hfProjPrefix(l, p) + ".weight", L.w[int(p)]);
      if (L.b[int(p)].defined()) out.emplace_back(hfProjPrefix(l, p) + ".bias", L.b[int(p)]);
    }
  }
  out.emplace_back(kHfFinalNorm, finalNorm_);
  if (!config_.tieWordEmbeddings) out.emplace_back(kHfLmHead, lmHead_);
  return out;
}

// ---- Forward ---------------------------------------------------------------------------------------------

namespace {

// HF LlamaRMSNorm: normalise in float32, cast back, then scale by the weight in the compute dtype.
// The [.., 1] statistics are updated in place (the same values, no extra allocations in a forward of many small ops).
torch::Tensor rmsNorm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  auto xf = x.to(x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32);
  auto inv = xf.pow(2).mean(-1, /*keepdim=*/true).add_(eps).rsqrt_();
  return w * (xf * inv).to(x.scalar_type());
}

// HF's rotary embedding, x cos + rotate_half(x) sin with rotate_half(x) = [-x2, x1], computed as [x2, x1] s + x cos
// where s = [-sin1, sin2] (`sinSigned`, made once per forward): -x2 sin1 and x2 (-sin1) are the same number and the
// sum is commutative, so the result is identical, in fewer operations, and contiguous in x's logical order (the
// attention's batched products then read q and k without a copy). float32 adds x cos in place (rounded product, then
// the sum, as HF); other dtypes round the product to the compute dtype first, as HF does.
torch::Tensor applyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sinSigned) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor out = torch::cat({x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1) * sinSigned;
  if (x.scalar_type() == torch::kFloat32) return out.addcmul_(x, cos);
  return out.add_(x * cos);
}

// GEMMs in the compute dtype. LibTorch 1.13 has no vectorised bfloat16 GEMM on CPUs without AVX-512 (it runs a
// scalar loop at ~0.5 GFLOP/s), so bfloat16 products are computed from the exactly widened float32 operands with
// float32 accumulation (what a bfloat16 GEMM with a float32 accumulator computes) and rounded once to bfloat16.
bool widenGemm(const torch::Tensor& x) { return x.scalar_type() == torch::kBFloat16 && x.device().is_cpu(); }

// Widened weights are converted in slices, each multiplied right after its conversion: the output projection of a
// 128k vocabulary would otherwise need a 2 GB float32 copy on every forward, and a slice small enough to stay in
// cache is read back from there instead of from memory. With few input rows the conversion is most of the work and
// small slices win; with many rows the product is, and large slices (larger GEMMs) win. Measured on the 1.1B preset
// (bfloat16, 2 cores, docs/performance.md): 128 rows reach 85% of the GEMM rate with 2^18-element slices and 45%
// with 2^24; 256 rows 86% with 2^20 and 79% with 2^24; 512 rows 98.6% with 2^24 and 66% with 2^18. Hence about
// 2^18 (rows / 128)^3 elements, between 2^18 and 2^24 (1 to 64 MB in float32). Each output column is the same dot
// product either way.
int64_t widenSliceElements(int64_t rows) {
  const double r = double(rows) / 128.0;
  return int64_t(std::clamp(double(int64_t(1) << 18) * r * r * r, double(int64_t(1) << 18), double(int64_t(1) << 24)));
}

torch::Tensor widenedLinear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  const torch::Tensor xf = x.to(torch::kFloat32);
  const torch::Tensor bf = b.defined() ? b.to(torch::kFloat32) : b;
  const int64_t slice = widenSliceElements(x.numel() / std::max<int64_t>(1, x.size(-1)));
  if (w.numel() <= slice) return cpuLinear(xf, w.to(torch::kFloat32), bf).to(x.scalar_type());
  const int64_t out = w.size(0), rows = std::max<int64_t>(1, slice / w.size(1));
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < out; r += rows) {
    const int64_t n = std::min(rows, out - r);
    parts.push_back(cpuLinear(xf, w.narrow(0, r, n).to(torch::kFloat32), bf.defined() ? bf.narrow(0, r, n) : bf)
                        .to(x.scalar_type()));
  }
  return torch::cat(parts, -1);
}

// d(x W^T)/dx = grad W, with W widened slice by slice as above.
torch::Tensor widenedInputGradient(const torch::Tensor& grad, const torch::Tensor& w) {
  const torch::Tensor gf = grad.to(torch::kFloat32);
  const int64_t slice = widenSliceElements(grad.numel() / std::max<int64_t>(1, grad.size(-1)));
  if (w.numel() <= slice) return cpuLinearInputGradient(gf, w.to(torch::kFloat32)).to(grad.scalar_type());
  const int64_t out = w.size(0), rows = std::max<int64_t>(1, slice / w.size(1));
  torch::Tensor sum;
  for (int64_t r = 0; r < out; r += rows) {
    const int64_t n = std::min(rows, out - r);
    torch::Tensor part = cpuLinearInputGradient(gf.narrow(-1, r, n), w.narrow(0, r, n).to(torch::kFloat32));
    sum = sum.defined() ? sum.add_(part) : part;
  }
  return sum.to(grad.scalar_type());
}

// A CPU product with a frozen weight: widened for bfloat16, oneDNN's sgemm for float32 (cpu_gemm.h).
torch::Tensor denseLinear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return widenGemm(x) ? widenedLinear(x, w, b) : cpuLinear(x, w, b);
}

// The CPU product when the input needs a gradient but the weight does not (every projection behind the gradient
// RoPE influence and adapter training: the base weights are frozen). For bfloat16, plain autograd would save the
// float32 copy of the weight for the input's gradient, i.e. a float32 copy of every projection the backward goes
// through, twice the bfloat16 model (about 32 GB on an 8B model). This function saves the weight itself (the
// tensor already held, no copy) and widens it again in the backward; values and gradients are the same. For float32
// it lets both directions use oneDNN's sgemm. The weight and bias travel wrapped, so autograd sees one
// differentiable input, x.
struct FrozenParameters {
  torch::Tensor w, b;
};
struct FrozenWeightLinear : torch::autograd::Function<FrozenWeightLinear> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, FrozenParameters p) {
    ctx->saved_data["w"] = p.w;
    return denseLinear(x, p.w, p.b);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const torch::Tensor w = ctx->saved_data["w"].toTensor();
    const torch::Tensor& g = grad[0];
    // x, and nothing for the wrapped parameters
    return {widenGemm(g) ? widenedInputGradient(g, w) : cpuLinearInputGradient(g, w), torch::Tensor()};
  }
};

torch::Tensor linearAcc(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b = {}) {
  const bool cpuFloat32 = x.device().is_cpu() && x.scalar_type() == torch::kFloat32;
  if (!widenGemm(x) && !cpuFloat32) return torch::linear(x, w, b);  // GPUs, float64 (tests)
  const bool frozen = !w.requires_grad() && !(b.defined() && b.requires_grad());
  if (frozen && x.requires_grad() && torch::GradMode::is_enabled()) return FrozenWeightLinear::apply(x, FrozenParameters{w, b});
  return denseLinear(x, w, b);  // LibTorch's autograd where the weight needs a gradient (cpuLinear falls back)
}

torch::Tensor matmulAcc(const torch::Tensor& a, const torch::Tensor& b) {
  if (!widenGemm(a)) return torch::matmul(a, b);
  return torch::matmul(a.to(torch::kFloat32), b.to(torch::kFloat32)).to(a.scalar_type());
}

// Causal attention for one layer, HF eager numerics: scores = (q k^T in the compute dtype) * 1/sqrt(Dh), plus the
// additive float32 bias, softmax in float32, probs (compute dtype) times v. Queries are grouped by the KV head they
// read, [B,G,R,T,Dh], so keys are never repeated. Query blocks of kBlock rows only multiply the keys they can
// see (0 .. end of the block): the skipped keys are masked by causality, their probabilities are exactly 0, so
// the result equals the full T x T computation up to summation order, at about half the work, with the
// [.., block, keys] scores staying in cache and each GEMM below OpenBLAS's multi-threading threshold
// (docs/performance.md). A block holding a fully masked query row (left padding) keeps every key, because HF
// spreads such a row uniformly over all T keys. `probsOut` [B,G,R,T,T], when given, receives the probabilities.
constexpr int64_t kBlock = 64;

torch::Tensor attention(const torch::Tensor& qg, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& bias, const std::vector<bool>& blockSeesAll, double scaling,
                        torch::ScalarType acc, torch::Tensor* probsOut, bool fused) {
  const int64_t T = qg.size(3);
  if (fused) {  // plain causal attention, no pattern requested (see usesFusedAttention)
    const int64_t B = qg.size(0), G = qg.size(1), R = qg.size(2), Dh = qg.size(4);
    auto repeated = [&](const torch::Tensor& t) {  // [B,G,T,Dh] -> [B,G*R,T,Dh], head g*R + r reads KV head g
      return t.unsqueeze(2).expand({B, G, R, T, Dh}).reshape({B, G * R, T, Dh});
    };
    return compat::fusedCausalAttention(qg.reshape({B, G * R, T, Dh}), repeated(k), repeated(v), scaling)
        .reshape({B, G, R, T, Dh});
  }
  const torch::Tensor kT = k.transpose(-1, -2).unsqueeze(2);  // [B,G,1,Dh,T]
  const torch::Tensor v5 = v.unsqueeze(2);                    // [B,G,1,T,Dh]
  auto probabilities = [&](torch::Tensor scores, int64_t q0, int64_t q1, int64_t keys) {  // [B,G,R,tb,keys]
    scores = scores.mul_(scaling).to(acc) + bias.narrow(-2, q0, q1 - q0).narrow(-1, 0, keys);
    return torch::softmax(scores, -1).to(qg.scalar_type());
  };
  // Query blocks pay off on CPUs (cache, OpenBLAS thresholds); a GPU runs the whole T x T product faster, and a
  // requested attention pattern needs every probability. One block is two batched products per KV head,
  // [B*G, R*T, Dh] x [B*G, Dh, T] and [B*G, R*T, T] x [B*G, T, Dh]: the keys and values are read where they are.
  if (probsOut || T <= kBlock || !qg.device().is_cpu()) {
    const int64_t B = qg.size(0), G = qg.size(1), R = qg.size(2), Dh = qg.size(4);
    torch::Tensor scores = matmulAcc(qg.reshape({B * G, R * T, Dh}), k.reshape({B * G, T, Dh}).transpose(1, 2));
    torch::Tensor probs = probabilities(scores.view({B, G, R, T, T}), 0, T, T);  // [B,G,R,T,T]
    if (probsOut) *probsOut = probs;
    return matmulAcc(probs.view({B * G, R * T, T}), v.reshape({B * G, T, Dh})).view({B, G, R, T, Dh});
  }
  auto block = [&](int64_t q0, int64_t q1, int64_t keys) {
    return probabilities(matmulAcc(qg.narrow(3, q0, q1 - q0), kT.narrow(-1, 0, keys)), q0, q1, keys);
  };
  std::vector<torch::Tensor> parts;  // [B,G,R,tb,Dh] each
  for (int64_t q0 = 0, i = 0; q0 < T; q0 += kBlock, ++i) {
    const int64_t q1 = std::min(T, q0 + kBlock);
    const int64_t keys = blockSeesAll[size_t(i)] ? T : q1;
    parts.push_back(matmulAcc(block(q0, q1, keys), v5.narrow(3, 0, keys)));
  }
  return torch::cat(parts, 3);
}

// A projection's input, with its float32 copy made once and shared by every LoRA slot that reads it
// (q, k and v read one input; gate and up another).
struct ProjInput {
  const torch::Tensor& x;
  mutable torch::Tensor f32;
  const torch::Tensor& asFloat32() const {
    if (!f32.defined()) f32 = x.to(torch::kFloat32);
    return f32;
  }
};

torch::Tensor project(const ProjInput& in, const torch::Tensor& w, const torch::Tensor& b, const LoraSlot* slot,
                      bool training) {
  torch::Tensor y = linearAcc(in.x, w, b);
  if (slot && slot->active()) {
    torch::Tensor xf = in.asFloat32();
    if (training && slot->dropout > 0) xf = xf * dropoutKeepScale(xf.sizes(), slot->dropout, xf.device());
    // The scale goes on the rank-r intermediate, not on the [.., out] product: same value, r/out the work.
    // Adapters live on the model's device (to() is then a no-op; across devices it stays differentiable).
    torch::Tensor down = torch::linear(xf, slot->A.to(xf.device())) * slot->scale;
    y = y + torch::linear(down, slot->B.to(xf.device())).to(y.scalar_type());
  }
  return y;
}

}  // namespace

ForwardOutput LlamaModel::forward(const ForwardInput& in, const Interventions* iv, CaptureSink* sink,
                                  const ForwardOptions& opt, const JobControl* job) const {
  const ModelConfig& c = config_;
  if (!in.inputIds.defined() || in.inputIds.dim() != 2)
    throw InvalidArgument("forward: input ids must be a [B,T] tensor");
  const int64_t B = in.inputIds.size(0), T = in.inputIds.size(1);
  const int64_t D = c.hiddenSize, H = c.numHeads, G = c.numKvHeads, Dh = c.headDim, R = c.nRep();
  if (T == 0) throw InvalidArgument("forward: empty sequence");
  // Inputs may come from the host (batches are built there): everything below lives on the model's device.
  torch::Tensor ids = in.inputIds.to(device_, torch::kInt64);
  {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= c.vocabSize)
      throw InvalidArgument("forward: token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the vocabulary 0.." +
                            std::to_string(c.vocabSize - 1));
  }
  if (iv) iv->validate(c, B, T);

  torch::Tensor mask = in.attentionMask.defined() ? in.attentionMask.to(device_, torch::kBool)
                                                  : torch::ones({B, T}, options(torch::kBool));  // [B,T]
  if (mask.sizes() != ids.sizes()) throw InvalidArgument("forward: attention mask must have the shape of input ids");
  torch::Tensor pos;  // [B,T] int64
  if (in.positionIds.defined()) {
    if (in.positionIds.sizes() != ids.sizes()) throw InvalidArgument("forward: position ids must have the shape of input ids");
    pos = in.positionIds.to(device_, torch::kInt64);
  } else {
    pos = (mask.to(torch::kInt64).cumsum(1) - 1).clamp_min(0);
  }

  // Additive attention bias [B|1,1,1,T,T] in float32: causal and padding keys, one for full-attention layers and
  // one more for the layers that use a sliding window (ModelConfig::windowFor: key k visible from query q when
  // q - W < k <= q, HF's sliding_window_overlay). Masked scores get the lowest float (not -inf) so fully padded
  // query rows stay finite, as in HF.
  auto ar = torch::arange(T, ids.options());
  const torch::Tensor causal = ar.view({1, T}) <= ar.view({T, 1});  // [T(query), T(key)]
  torch::Tensor keyMask;  // [B,T,T] bool, packed sequences (ForwardOptions::keyMask)
  if (opt.keyMask.defined()) {
    if (opt.keyMask.dim() != 3 || opt.keyMask.size(0) != B || opt.keyMask.size(1) != T || opt.keyMask.size(2) != T)
      throw InvalidArgument("forward: key mask must be [B,T,T] for input ids [B,T]");
    keyMask = opt.keyMask.to(device_, torch::kBool);
  }
  const bool rowBias = in.attentionMask.defined() || keyMask.defined();
  const int64_t Bm = rowBias ? B : 1;  // without padding or packing one bias serves the batch
  // Norms, RoPE angles and softmax run in float32, or float64 when that is the compute dtype (tests).
  const torch::ScalarType acc = dtype_ == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const double lowest = acc == torch::kFloat64 ? std::numeric_limits<double>::lowest() : std::numeric_limits<float>::lowest();
  struct MaskBias {
    torch::Tensor bias;              // [Bm,1,1,T,T]
    std::vector<bool> blockSeesAll;  // per query block: holds a fully masked row (see attention())
  };
  auto makeBias = [&](torch::Tensor allowed) {
    if (keyMask.defined()) allowed = allowed.view({1, T, T}) & keyMask;  // [B,T,T]
    if (in.attentionMask.defined()) allowed = allowed.view({-1, T, T}) & mask.view({B, 1, T});  // [B,T,T]
    MaskBias m;
    m.bias = torch::zeros({Bm, 1, 1, T, T}, ids.options().dtype(acc))
                 .masked_fill(allowed.logical_not().view({Bm, 1, 1, T, T}), lowest);
    // Query blocks holding a fully masked row (left padding; right padding under a window) attend over all keys.
    m.blockSeesAll.assign(size_t((T + kBlock - 1) / kBlock), false);
    if (rowBias && T > kBlock) {
      torch::Tensor rowMasked = allowed.logical_not().all(-1).any(0).to(torch::kCPU);  // [T] host copy
      const auto* r = rowMasked.data_ptr<bool>();
      for (int64_t t = 0; t < T; ++t)
        if (r[t]) m.blockSeesAll[size_t(t / kBlock)] = true;
    }
    return m;
  };
  const MaskBias fullBias = makeBias(causal);
  const MaskBias windowBias =
      c.slidingWindow ? makeBias(causal & ((ar.view({T, 1}) - ar.view({1, T})) < *c.slidingWindow)) : MaskBias{};

  // RoPE angles in float32: pos * inv_freq (* alpha per KV head), duplicated over the two halves.
  torch::Tensor posF = pos.to(acc).view({B, 1, T, 1});  // [B,1,T,1]
  torch::Tensor invFreq = acc == torch::kFloat64 ? invFreq64_ : invFreq_;
  auto ropeCosSin = [&](const torch::Tensor& alpha) {
    torch::Tensor inv = invFreq.view({1, 1, 1, Dh / 2});  // [1,1,1,Dh/2]
    // alpha [G] shared by the batch, or [B,G] per row (per-item gradients from one backward).
    if (alpha.defined()) inv = inv * alpha.to(device_, acc).view({alpha.dim() == 2 ? B : 1, G, 1, 1});  // [B|1,G,1,Dh/2]
    torch::Tensor ang = posF * inv;                          // [B,G|1,T,Dh/2]
    torch::Tensor emb = torch::cat({ang, ang}, -1);          // [B,G|1,T,Dh]
    torch::Tensor sin = emb.sin().to(dtype_);
    torch::Tensor sinSigned = torch::cat({-sin.narrow(-1, 0, Dh / 2), sin.narrow(-1, Dh / 2, Dh / 2)}, -1);  // see applyRope
    return std::make_pair(emb.cos().to(dtype_), sinSigned);
  };
  auto basePair = ropeCosSin(torch::Tensor());

  const double scaling = 1.0 / std::sqrt(double(Dh));
  const bool training = iv && iv->training;
  // Unpadded causal attention on a GPU goes through LibTorch's fused kernels where this LibTorch has them (per layer:
  // not where a sliding window applies or the attention pattern is captured); docs/gpu.md.
  const bool plainCausal = !rowBias && acc == torch::kFloat32 && usesFusedAttention(device_);
  auto want = [&](int l, Site s) { return sink && sink->wants({l, s}); };

  torch::Tensor h = torch::embedding(embed_, ids);  // [B,T,D]
  for (int l = 0; l < c.numLayers; ++l) {
    const Layer& W = layers_[size_t(l)];
    const auto* slots = (iv && !iv->lora.empty()) ? &iv->lora[size_t(l)] : nullptr;
    auto slot = [&](Proj p) { return slots ? &(*slots)[int(p)] : nullptr; };
    if (iv) {
      for (const auto& r : iv->replacements)
        if (r.layer == l)
          h = torch::where(r.mask.to(device_, torch::kBool).unsqueeze(-1), r.values.to(device_, h.scalar_type()), h);
    }
    if (want(l, Site::ResidPre)) sink->record({l, Site::ResidPre}, h);

    const bool skipAttn = iv && !iv->skipAttention.empty() && iv->skipAttention[size_t(l)];
    if (!skipAttn) {
      torch::Tensor xn = rmsNorm(h, W.inputNorm, c.rmsNormEps);                                 // [B,T,D]
      const ProjInput x{xn, {}};
      torch::Tensor q = project(x, W.w[0], W.b[0], slot(Proj::Q), training).view({B, T, H, Dh}).transpose(1, 2);
      torch::Tensor k = project(x, W.w[1], W.b[1], slot(Proj::K), training).view({B, T, G, Dh}).transpose(1, 2);
      torch::Tensor v = project(x, W.w[2], W.b[2], slot(Proj::V), training).view({B, T, G, Dh}).transpose(1, 2);
      // q [B,H,T,Dh], k/v [B,G,T,Dh]
      // Effective multipliers: the model's fixed ones (a baked GARFA adapter) times the intervention's.
      torch::Tensor alpha = (iv && !iv->ropeAlpha.empty()) ? iv->ropeAlpha[size_t(l)] : torch::Tensor();
      if (alpha.defined()) alpha = alpha.to(device_);  // differentiable: gradients reach a host beta
      if (!fixedAlpha_.empty() && fixedAlpha_[size_t(l)].defined()) {
        const torch::Tensor fixed = fixedAlpha_[size_t(l)].to(acc);  // [G]
        alpha = alpha.defined() ? alpha.to(acc) * fixed : fixed;        // [G] or [B,G]
      }
      auto [cosT, sinT] = alpha.defined() ? ropeCosSin(alpha) : basePair;  // [B,G|1,T,Dh]; sinT signed (applyRope)
      torch::Tensor qg = q.reshape({B, G, R, T, Dh});  // query head h = g * n_rep + r reads KV head g
      qg = applyRope(qg, cosT.unsqueeze(2), sinT.unsqueeze(2));
      k = applyRope(k, cosT, sinT);
      if (want(l, Site::Q)) sink->record({l, Site::Q}, qg.reshape({B, H, T, Dh}));
      if (want(l, Site::K)) sink->record({l, Site::K}, k);
      // Scores per group without materialising repeated keys, in causal query blocks (see attention()).
      torch::Tensor probs;  // [B,G,R,T,T], only when the pattern is captured
      const MaskBias& mb = c.windowFor(l) ? windowBias : fullBias;
      const bool wantPattern = want(l, Site::AttnPattern);
      const bool fused = plainCausal && !wantPattern && !c.windowFor(l);
      torch::Tensor ctx = attention(qg, k, v, mb.bias, mb.blockSeesAll, scaling, acc,
                                    wantPattern ? &probs : nullptr, fused);  // [B,G,R,T,Dh]
      if (probs.defined()) sink->record({l, Site::AttnPattern}, probs.reshape({B, H, T, T}));
      ctx = ctx.reshape({B, H, T, Dh}).transpose(1, 2).reshape({B, T, H * Dh});
      torch::Tensor attnOut = project({ctx, {}}, W.w[3], W.b[3], slot(Proj::O), training);  // [B,T,D]
      if (want(l, Site::AttnOut)) sink->record({l, Site::AttnOut}, attnOut);
      h = h + attnOut;
    }
    if (want(l, Site::ResidMid)) sink->record({l, Site::ResidMid}, h);

    const bool skipMlp = iv && !iv->skipMlp.empty() && iv->skipMlp[size_t(l)];
    if (!skipMlp) {
      torch::Tensor xn = rmsNorm(h, W.postNorm, c.rmsNormEps);
      const ProjInput x{xn, {}};
      torch::Tensor gate = project(x, W.w[4], W.b[4], slot(Proj::Gate), training);  // [B,T,F]
      torch::Tensor up = project(x, W.w[5], W.b[5], slot(Proj::Up), training);      // [B,T,F]
      torch::Tensor mlpOut = project({torch::silu(gate) * up, {}}, W.w[6], W.b[6], slot(Proj::Down), training);  // [B,T,D]
      if (want(l, Site::MlpOut)) sink->record({l, Site::MlpOut}, mlpOut);
      h = h + mlpOut;
    }
    if (want(l, Site::ResidPost)) sink->record({l, Site::ResidPost}, h);
    reportProgress(job, {"forward", double(l + 1), double(c.numLayers)});
  }

  ForwardOutput out;
  out.finalHidden = rmsNorm(h, finalNorm_, c.rmsNormEps);  // [B,T,D]
  if (opt.computeLogits) {
    torch::Tensor sel = out.finalHidden;
    if (opt.logitPositions.defined()) {
      torch::Tensor p = opt.logitPositions.to(device_, torch::kInt64);
      torch::Tensor p2 = p.dim() == 1 ? p.unsqueeze(1) : p;  // [B,P]
      sel = sel.gather(1, p2.unsqueeze(-1).expand({B, p2.size(1), D}));  // [B,P,D]
      if (p.dim() == 1) sel = sel.squeeze(1);
    }
    out.logits = linearAcc(sel, lmHead_).to(acc);
  }
  return out;
}

}  // namespace layerscope::core
