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

#include "core/model/cpu_kernels.h"
#include "core/model/dropout.h"
#include "core/model/products.h"
#include "core/base/env_choice.h"
#include "core/base/error.h"
#include "core/model/rope.h"
#include "core/model/runtime.h"
#include "core/model/torch_compat.h"

namespace layerscope::core {

bool usesFusedAttention(const c10::Device& device) {
  static const bool forcedEager = envChoice("LAYERSCOPE_ATTENTION", {"auto", "eager"}) == "eager";
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
                                                   torch::ScalarType dtype, c10::Device device, bool mayFuse) {
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
  // Small models hold q/k/v and gate/up as one matrix each (kFuseProjectionBytes): each part is copied straight
  // into its rows, so loading holds no second copy.
  const int64_t D = c.hiddenSize, qOut = int64_t(c.numHeads) * c.headDim, kvOut = int64_t(c.numKvHeads) * c.headDim;
  const int64_t projectionBytes = int64_t(c.numLayers) * D * (2 * qOut + 2 * kvOut + 3 * c.intermediateSize) *
                                  int64_t(torch::elementSize(dtype));
  const bool fuse = mayFuse && projectionBytes <= kFuseProjectionBytes;
  auto outRows = [&](Proj p) -> int64_t {
    if (p == Proj::Q) return qOut;
    if (p == Proj::K || p == Proj::V) return kvOut;
    if (p == Proj::Gate || p == Proj::Up) return c.intermediateSize;
    return D;  // o, down
  };
  for (int l = 0; l < c.numLayers; ++l) {
    Layer& L = m->layers_[size_t(l)];
    L.inputNorm = get(hfInputNorm(l));
    L.postNorm = get(hfPostAttentionNorm(l));
    auto biasName = [&](Proj p) { return hfProjPrefix(l, p) + ".bias"; };
    // One group into one matrix, when every part has a bias or none does.
    auto fuseGroup = [&](std::initializer_list<Proj> parts, Fused& f) {
      size_t biases = 0;
      int64_t rows = 0;
      for (Proj p : parts) {
        biases += has(biasName(p)) ? 1 : 0;
        rows += outRows(p);
      }
      if (!fuse || (biases != 0 && biases != parts.size())) return;
      f.w = torch::empty({rows, D}, m->options(dtype));
      if (biases) f.b = torch::empty({rows}, m->options(dtype));
      int64_t at = 0;
      auto into = [&](torch::Tensor rowsOf, const std::string& name) {
        const torch::Tensor t = get(name);  // shapes were checked when the checkpoint was opened; copy_ would broadcast
        if (t.sizes() != rowsOf.sizes()) throw CheckpointError("tensor '" + name + "' does not have the shape config.json implies");
        return rowsOf.copy_(t);
      };
      for (Proj p : parts) {
        const int64_t n = outRows(p);
        L.w[int(p)] = into(f.w.narrow(0, at, n), hfProjPrefix(l, p) + ".weight");
        if (biases) L.b[int(p)] = into(f.b.narrow(0, at, n), biasName(p));
        at += n;
      }
    };
    fuseGroup({Proj::Q, Proj::K, Proj::V}, L.qkv);
    fuseGroup({Proj::Gate, Proj::Up}, L.gateUp);
    for (Proj p : kAllProj) {
      if (L.w[int(p)].defined()) continue;  // fused above
      L.w[int(p)] = get(hfProjPrefix(l, p) + ".weight");
      if (has(biasName(p))) L.b[int(p)] = get(biasName(p));
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
               [&](const std::string& n) { return ck.contains(n); }, dtype, device, /*mayFuse=*/true);
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
  // Never fused: the caller's tensors are shared (a pretraining run updates them in place).
  return build(c, [&](const std::string& n) { return tensors.at(n); },
               [&](const std::string& n) { return tensors.count(n) != 0; }, dtype, device, /*mayFuse=*/false);
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
  const torch::Tensor kT = k.transpose(-1, -2).unsqueeze(2);  // [B,G,1,Dh,T]
  const torch::Tensor v5 = v.unsqueeze(2);                    // [B,G,1,T,Dh]
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

// A projection's output y plus its LoRA slot's update, scale * B (A dropout(x)), when the slot is active.
torch::Tensor addLora(const torch::Tensor& y, const ProjInput& in, const LoraSlot* slot, bool training) {
  if (!slot || !slot->active()) return y;
  torch::Tensor xf = in.asFloat32();
  if (training && slot->dropout > 0) xf = applyDropout(xf, slot->dropout);
  // The scale goes on the rank-r intermediate, not on the [.., out] product: same value, r/out the work.
  // Adapters live on the model's device (to() is then a no-op; across devices it stays differentiable).
  torch::Tensor down = linearAcc(xf, slot->A.to(xf.device())) * slot->scale;
  return y + linearAcc(down, slot->B.to(xf.device())).to(y.scalar_type());
}

torch::Tensor project(const ProjInput& in, const torch::Tensor& w, const torch::Tensor& b, const LoraSlot* slot,
                      bool training) {
  return addLora(linearAcc(in.x, w, b), in, slot, training);
}

}  // namespace

double LlamaModel::runProducts(int64_t rows, bool inputGradients) const {
  if (rows < 1) throw InvalidArgument("runProducts: rows must be positive");
  std::map<int64_t, torch::Tensor> inputs, outputGrads;  // one input per width and one output gradient per width
  auto filled = [&](std::map<int64_t, torch::Tensor>& cache, int64_t width) -> const torch::Tensor& {
    auto& t = cache[width];
    if (!t.defined()) t = (torch::randn({rows, width}, options(torch::kFloat32)) * 0.02).to(dtype_);
    return t;
  };
  double flops = 0;
  auto product = [&](const torch::Tensor& w, const torch::Tensor& b) {
    flops += (inputGradients ? 4.0 : 2.0) * double(rows) * double(w.numel());  // the input gradient: as many again
    if (!inputGradients) {
      c10::InferenceMode guard;
      linearAcc(filled(inputs, w.size(1)), w, b);
      return;
    }
    torch::AutoGradMode grad(true);
    const torch::Tensor x = filled(inputs, w.size(1)).detach().requires_grad_(true);
    const torch::Tensor y = linearAcc(x, w, b);
    torch::autograd::grad({y}, {x}, {filled(outputGrads, w.size(0))});
  };
  for (const Layer& W : layers_) {
    if (W.qkv.w.defined()) product(W.qkv.w, W.qkv.b);
    else
      for (int p = 0; p < 3; ++p) product(W.w[size_t(p)], W.b[size_t(p)]);
    product(W.w[3], W.b[3]);
    if (W.gateUp.w.defined()) product(W.gateUp.w, W.gateUp.b);
    else
      for (int p = 4; p < 6; ++p) product(W.w[size_t(p)], W.b[size_t(p)]);
    product(W.w[6], W.b[6]);
  }
  product(lmHead_, {});
  synchronize(device_);
  return flops;
}

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
    // HF's rotary embedding is x cos + rotate_half(x) sin with rotate_half(x) = [-x2, x1]; rope() (cpu_kernels.h)
    // computes [x2, x1] s + x cos with s = [-sin1, sin2]: -x2 sin1 and x2 (-sin1) are the same number and the sum is
    // commutative, so the result is identical, in fewer operations, and contiguous in x's logical order (the
    // attention's batched products then read q and k without a copy).
    torch::Tensor sinSigned = torch::cat({-sin.narrow(-1, 0, Dh / 2), sin.narrow(-1, Dh / 2, Dh / 2)}, -1);
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
      torch::Tensor q, k, v;  // [B,T,H*Dh], [B,T,G*Dh], [B,T,G*Dh]
      if (W.qkv.w.defined()) {  // one product, the three outputs side by side (the same numbers with adapters or not)
        const torch::Tensor qkv = linearAcc(xn, W.qkv.w, W.qkv.b);
        q = addLora(qkv.narrow(-1, 0, H * Dh), x, slot(Proj::Q), training);
        k = addLora(qkv.narrow(-1, H * Dh, G * Dh), x, slot(Proj::K), training);
        v = addLora(qkv.narrow(-1, (H + G) * Dh, G * Dh), x, slot(Proj::V), training);
      } else {
        q = project(x, W.w[0], W.b[0], slot(Proj::Q), training);
        k = project(x, W.w[1], W.b[1], slot(Proj::K), training);
        v = project(x, W.w[2], W.b[2], slot(Proj::V), training);
      }
      q = q.view({B, T, H, Dh}).transpose(1, 2);
      k = k.view({B, T, G, Dh}).transpose(1, 2);
      v = v.view({B, T, G, Dh}).transpose(1, 2);
      // q [B,H,T,Dh], k/v [B,G,T,Dh]
      // Effective multipliers: the model's fixed ones (a baked GARFA adapter) times the intervention's.
      torch::Tensor alpha = (iv && !iv->ropeAlpha.empty()) ? iv->ropeAlpha[size_t(l)] : torch::Tensor();
      if (alpha.defined()) alpha = alpha.to(device_);  // differentiable: gradients reach a host beta
      if (!fixedAlpha_.empty() && fixedAlpha_[size_t(l)].defined()) {
        const torch::Tensor fixed = fixedAlpha_[size_t(l)].to(acc);  // [G]
        alpha = alpha.defined() ? alpha.to(acc) * fixed : fixed;        // [G] or [B,G]
      }
      auto [cosT, sinT] = alpha.defined() ? ropeCosSin(alpha) : basePair;  // [B,G|1,T,Dh]; sinT signed (rope)
      torch::Tensor qg = q.reshape({B, G, R, T, Dh});  // query head h = g * n_rep + r reads KV head g
      qg = rope(qg, cosT.unsqueeze(2), sinT.unsqueeze(2));
      k = rope(k, cosT, sinT);
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
      torch::Tensor gate, up;  // [B,T,F] each
      if (W.gateUp.w.defined()) {
        const torch::Tensor both = linearAcc(xn, W.gateUp.w, W.gateUp.b);
        gate = addLora(both.narrow(-1, 0, c.intermediateSize), x, slot(Proj::Gate), training);
        up = addLora(both.narrow(-1, c.intermediateSize, c.intermediateSize), x, slot(Proj::Up), training);
      } else {
        gate = project(x, W.w[4], W.b[4], slot(Proj::Gate), training);
        up = project(x, W.w[5], W.b[5], slot(Proj::Up), training);
      }
      torch::Tensor mlpOut = project({siluMul(gate, up), {}}, W.w[6], W.b[6], slot(Proj::Down), training);  // [B,T,D]
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
