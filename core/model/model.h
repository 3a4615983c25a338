// The instrumented Llama-family forward pass (docs/methods.md section 1): immutable weights (LlamaModel) apart from
// per-run state (captures, interventions, adapters), following llama2.c's Config / Weights / RunState split.
//
// Shape legend: B batch, T tokens, D hidden, H query heads, G KV heads, n_rep = H/G, Dh head dim,
// F intermediate, V vocab, L layers, R LoRA rank, P kept positions.
#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include <torch/torch.h>

#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "core/base/job_control.h"
#include "core/model/names.h"
#include "core/model/runtime.h"

namespace layerscope::core {

/// (layer, site) address of a captured tensor.
struct SiteKey {
  int layer = 0;
  Site site = Site::ResidPre;
  auto operator<=>(const SiteKey&) const = default;
};

/// Receives named activations during the forward. The forward asks `wants` first, so nothing unrequested
/// is copied. Shapes: resid_* / attn_out / mlp_out [B,T,D]; q [B,H,T,Dh]; k [B,G,T,Dh]; attn_pattern [B,H,T,T].
class CaptureSink {
 public:
  virtual ~CaptureSink() = default;
  virtual bool wants(const SiteKey& key) const = 0;
  virtual void record(const SiteKey& key, const torch::Tensor& value) = 0;
};

/// Sends each site to every sink that wants it; null sinks are skipped (one forward, two consumers).
class CaptureTee : public CaptureSink {
 public:
  CaptureTee(CaptureSink* a, CaptureSink* b) : a_(a), b_(b) {}
  bool wants(const SiteKey& k) const override { return (a_ && a_->wants(k)) || (b_ && b_->wants(k)); }
  void record(const SiteKey& k, const torch::Tensor& v) override {
    if (a_ && a_->wants(k)) a_->record(k, v);
    if (b_ && b_->wants(k)) b_->record(k, v);
  }
  bool empty() const { return !a_ && !b_; }

 private:
  CaptureSink *a_, *b_;
};

/// A CaptureSink that stores requested sites, optionally only at chosen token positions (so memory stays
/// linear in layers: e.g. the last prompt token). Stored tensors are detached copies in `dtype` on the host
/// (only the requested sites and positions leave the model's device), or on `storeOn`'s device; with
/// keepGraph they stay on the model's device so that gradients flow.
class TensorCapture : public CaptureSink {
 public:
  TensorCapture& request(int layer, Site site);
  TensorCapture& requestAllLayers(Site site, int numLayers);
  /// Keep only these positions along the token axis: [B] (one per row) or [B,P] int64.
  TensorCapture& keepPositions(torch::Tensor positions);
  /// Keep the autograd graph instead of detaching (for analyses that differentiate through a capture).
  TensorCapture& keepGraph(bool keep) { keepGraph_ = keep; return *this; }
  TensorCapture& storeAs(torch::ScalarType dtype) { dtype_ = dtype; return *this; }
  TensorCapture& storeOn(c10::Device device) { device_ = device; return *this; }

  bool wants(const SiteKey& key) const override { return wanted_.count(key) != 0; }
  void record(const SiteKey& key, const torch::Tensor& value) override;
  /// The captured tensor; throws InvalidArgument if it was not requested or not reached.
  const torch::Tensor& get(int layer, Site site) const;
  bool has(int layer, Site site) const { return values_.count({layer, site}) != 0; }
  void clear() { values_.clear(); }

 private:
  std::set<SiteKey> wanted_;
  std::map<SiteKey, torch::Tensor> values_;
  torch::Tensor positions_;
  bool keepGraph_ = false;
  torch::ScalarType dtype_ = torch::kFloat32;
  c10::Device device_ = hostDevice();
};

/// One LoRA slot: y += scale * B (A dropout(x)). A [R, in], B [out, R], float32 (adapters are fp32).
struct LoraSlot {
  torch::Tensor A;       ///< [R, in]
  torch::Tensor B;       ///< [out, R]; B = 0 is the identity
  double scale = 1.0;    ///< lora_alpha / r
  double dropout = 0.0;  ///< applied to the slot's input only in training mode
  bool active() const { return A.defined() && B.defined(); }
};

/// Replace the input hidden states of chosen positions at the input of `layer` (before resid_pre is recorded).
struct StateReplacement {
  int layer = 0;
  torch::Tensor mask;    ///< [B,T] bool: which positions to replace
  torch::Tensor values;  ///< [B,T,D] (only masked entries are read)
};

/// Per-run intervention points. Empty vectors mean "none". Validated against the config by the forward.
struct Interventions {
  /// [L] entries, each undefined or alpha [G] (>= 0) multiplying that layer's inverse frequencies for KV head g
  /// and its n_rep query heads; [B,G] gives each row its own multipliers. Use alpha = exp(beta) with beta
  /// requiring grad for gradients w.r.t. beta (rows are independent, so a [B,G] beta yields per-row gradients).
  std::vector<torch::Tensor> ropeAlpha;
  std::vector<bool> skipAttention;  ///< [L]: drop input norm, attention and residual add of these layers
  std::vector<bool> skipMlp;        ///< [L]: drop post-attention norm, MLP and residual add
  std::vector<StateReplacement> replacements;
  std::vector<std::array<LoraSlot, kNumProj>> lora;  ///< [L] or empty
  bool training = false;                              ///< enables LoRA dropout

  /// Throws InvalidArgument naming the offending entry (layer out of range, wrong shape).
  void validate(const ModelConfig& c, int64_t batch, int64_t tokens) const;
};

/// A batch of token ids. Missing mask means all ones; missing positions are derived from the mask
/// (cumsum - 1), so left or right padding gives the same per-row positions as the unpadded row.
struct ForwardInput {
  torch::Tensor inputIds;       ///< [B,T] int64
  torch::Tensor attentionMask;  ///< [B,T] (1 real, 0 padding), optional
  torch::Tensor positionIds;    ///< [B,T] int64, optional
};

struct ForwardOptions {
  bool computeLogits = true;
  /// If defined, logits only at these positions: [B] -> logits [B,V]; [B,P] -> [B,P,V]. Otherwise [B,T,V].
  torch::Tensor logitPositions;
  /// [B,T,T] bool, optional: query t may read key s only where keyMask[b][t][s] is true, on top of causality and
  /// the attention mask. Packs several sequences into one row: scoring shares a prompt between its continuations,
  /// each continuation seeing the prompt and itself, at its own position ids (ForwardInput::positionIds). Such a
  /// forward takes the eager attention path.
  torch::Tensor keyMask;
};

struct ForwardOutput {
  torch::Tensor logits;       ///< float32 (float64 under float64 compute); shape see ForwardOptions
  torch::Tensor finalHidden;  ///< [B,T,D] after the final norm, compute dtype
};

/// True when the forward on `device` runs unpadded causal attention through LibTorch's fused kernels
/// (scaled_dot_product_attention): a CUDA device and a LibTorch of 2.1 or later, unless the environment sets
/// LAYERSCOPE_ATTENTION=eager. Layers whose attention pattern is captured, padded batches, sliding-window layers and
/// float64 always take the eager path, which computes HF's eager numerics (docs/gpu.md).
bool usesFusedAttention(const c10::Device& device);

/// Immutable model weights, loaded once and shared across threads and runs. Every weight lives on one device
/// (device()); forward() moves its inputs and intervention tensors there, and creates its tensors there.
class LlamaModel {
 public:
  /// Loads `ck` for `computeDtype` (float32 or bfloat16) onto `device`, one tensor at a time from the file
  /// mapping (Checkpoint::load: host memory stays near the largest tensor). On the host, weights stored in the
  /// compute dtype alias the file mapping, except in a model whose projections take at most kFuseProjectionBytes:
  /// there q/k/v and gate/up are copied into one matrix each (weight() returns views into it), so that the forward
  /// multiplies each group at once.
  static std::shared_ptr<const LlamaModel> fromCheckpoint(const Checkpoint& ck, torch::ScalarType computeDtype,
                                                          c10::Device device = hostDevice());
  /// Builds a model from tensors under their Hugging Face names (biases used when present), on the device of
  /// the embedding tensor (all tensors must share it). Tensors already in `computeDtype` are shared, not
  /// copied, so a trainer can update them in place (pretraining).
  static std::shared_ptr<const LlamaModel> fromTensors(const ModelConfig& config,
                                                       const std::map<std::string, torch::Tensor>& tensors,
                                                       torch::ScalarType computeDtype);
  /// A view of this model whose RoPE inverse frequencies carry fixed per-layer, per-KV-head multipliers
  /// (`alpha` [L] entries, each undefined or [G]): how a trained GARFA adapter is applied to an immutable model.
  /// Weights are shared; intervention multipliers passed to forward() multiply on top of these.
  std::shared_ptr<const LlamaModel> withRopeMultipliers(std::vector<torch::Tensor> alpha) const;
  /// The fixed multipliers of withRopeMultipliers ([L] or empty).
  const std::vector<torch::Tensor>& fixedRopeMultipliers() const { return fixedAlpha_; }
  /// Convenience: open the directory and load.
  static std::shared_ptr<const LlamaModel> load(const std::filesystem::path& dir, torch::ScalarType computeDtype,
                                                c10::Device device = hostDevice());

  const ModelConfig& config() const { return config_; }
  torch::ScalarType computeDtype() const { return dtype_; }
  /// Where the weights live and the forward computes.
  c10::Device device() const { return device_; }
  /// Tensor options for new tensors of this model: its device with `dtype`.
  torch::TensorOptions options(torch::ScalarType dtype) const { return torch::TensorOptions().dtype(dtype).device(device_); }
  /// inv_freq after scaling, float32 [Dh/2].
  const torch::Tensor& inverseFrequencies() const { return invFreq_; }
  /// The weight of a projection ([out, in], compute dtype) and its bias (undefined if none).
  const torch::Tensor& weight(int layer, Proj p) const { return layers_.at(size_t(layer)).w[int(p)]; }
  const torch::Tensor& bias(int layer, Proj p) const { return layers_.at(size_t(layer)).b[int(p)]; }
  /// All weights under their Hugging Face names (for writing merged checkpoints).
  std::vector<std::pair<std::string, torch::Tensor>> namedWeights() const;

  /// The forward pass. Checks `job` between layers. Gradients flow to interventions (rope alpha, LoRA,
  /// replacement values) unless the caller runs under InferenceMode / NoGradGuard.
  ForwardOutput forward(const ForwardInput& in, const Interventions* iv = nullptr, CaptureSink* sink = nullptr,
                        const ForwardOptions& opt = {}, const JobControl* job = nullptr) const;

  /// Runs the weight products of one forward over `rows` input rows and nothing else: each layer's projections
  /// (fused where the forward fuses them) and the LM head, in the forward's order, through the forward's product
  /// function, on these weights, with inputs of the compute dtype. With `inputGradients` each product also computes
  /// its input's gradient as a frozen-base adapter step's backward does (autograd through the same function).
  /// Benchmarks time it as the forward's own limit (docs/performance.md): the forward can at best match it. Returns
  /// the multiply-adds done, times two (FLOPs): 2 x rows x weights, twice that with input gradients.
  double runProducts(int64_t rows, bool inputGradients = false) const;

 private:
  using Getter = std::function<torch::Tensor(const std::string&)>;
  static std::shared_ptr<const LlamaModel> build(const ModelConfig& c, const Getter& get,
                                                 const std::function<bool(const std::string&)>& has,
                                                 torch::ScalarType dtype, c10::Device device, bool mayFuse);
  /// Projections in one matrix per group ([q;k;v] rows, [gate;up] rows), whose w/b entries are views into it.
  struct Fused {
    torch::Tensor w, b;  // [sum of out, in], [sum of out] or undefined
  };
  struct Layer {
    torch::Tensor inputNorm, postNorm;     // [D]
    std::array<torch::Tensor, kNumProj> w;  // [out, in]
    std::array<torch::Tensor, kNumProj> b;  // [out] or undefined
    Fused qkv, gateUp;                      // undefined w unless the model is fused
  };
  ModelConfig config_;
  torch::ScalarType dtype_ = torch::kFloat32;
  c10::Device device_ = hostDevice();
  torch::Tensor embed_, finalNorm_, lmHead_;  // [V,D], [D], [V,D] (lmHead_ aliases embed_ when tied)
  std::vector<Layer> layers_;
  torch::Tensor invFreq_;    // [Dh/2] float32
  torch::Tensor invFreq64_;  // [Dh/2] float64 (float64 compute, tests)
  std::vector<torch::Tensor> fixedAlpha_;  // [L] or empty: baked-in RoPE multipliers (GARFA), each [G]
};

/// Models whose projection weights take at most this many bytes in the compute dtype hold q/k/v and gate/up as one
/// matrix each (fromCheckpoint). Their products are so small that each call's fixed cost counts (the demo model:
/// 9 MB); above it the weights keep aliasing the file mapping and a copy would cost memory, not time.
inline constexpr int64_t kFuseProjectionBytes = int64_t(16) << 20;

/// Parses "float32" / "bfloat16" (also "fp32", "bf16").
torch::ScalarType parseComputeDtype(const std::string& name);
std::string computeDtypeName(torch::ScalarType t);

}  // namespace layerscope::core
