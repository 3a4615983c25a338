// Layer redundancy (docs/methods.md section 5): per-token cosine similarities of the residual stream around each
// sub-block, computed in a capture sink in float32 and averaged over the calibration tokens; ShortGPT Block
// Influence; the block-to-block similarity matrix of consecutive block drop. The calibration set and the
// per-token rule follow the chosen semantics (paper_semantics.h); drop plans are in drop_plans.cpp.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "analysis/layer_analyses.h"
#include "core/base/error.h"

namespace layerscope::analysis {
namespace {

using Clock = std::chrono::steady_clock;
using core::Site;

// [B,T]: x.y / sqrt(|x|^2 |y|^2), 0 where a norm is 0 (docs/statistics.md: a zero vector has cosine 0).
// sqrt of the product (not |x| |y|) makes cos(x, x) exactly 1: sqrt(s*s) == s in IEEE arithmetic. This is also
// torch.nn.functional.cosine_similarity (LLM-Drop) up to its eps = 1e-8 floor on the norm product.
torch::Tensor cosine(const torch::Tensor& a, const torch::Tensor& b) {
  auto dot = (a * b).sum(-1);
  auto den = ((a * a).sum(-1) * (b * b).sum(-1)).sqrt();
  return torch::where(den > 0, dot / den.clamp_min(std::numeric_limits<float>::min()), torch::zeros_like(dot));
}

// Sums per layer over the tokens a mask selects, added into the owner's sums (RedundancySums):
// [0] attention similarity, [1] MLP similarity, [2] block similarity,
// [3] per-token Block Influence (shortgpt only). LayerScope / llm-drop with dropNorm: cos(pre, mid), cos(mid, post),
// cos(pre, post). llm-drop without dropNorm: cos(norm(pre), attn_out), cos(norm(mid), mlp_out). shortgpt: block
// similarity per token with NaN -> 0.5; the last layer's block is finished by the caller (final norm).
class CosineSink : public core::CaptureSink {
 public:
  CosineSink(int layers, const torch::Tensor& mask, const RedundancyParams& p, const std::vector<torch::Tensor>* inNorm,
             const std::vector<torch::Tensor>* postNorm, double eps, std::vector<std::array<double, 4>>& sums)
      : mask_(mask.to(torch::kFloat64)), sums_(sums), p_(p), inNorm_(inNorm), postNorm_(postNorm), eps_(eps),
        layers_(layers) {
    pre_.resize(size_t(layers)), mid_.resize(size_t(layers)), attnOut_.resize(size_t(layers)), mlpOut_.resize(size_t(layers));
  }
  bool wants(const core::SiteKey& k) const override {
    if (k.site == Site::AttnOut || k.site == Site::MlpOut) return !normFree();
    return k.site == Site::ResidPre || k.site == Site::ResidMid || k.site == Site::ResidPost;
  }
  void record(const core::SiteKey& k, const torch::Tensor& x) override {
    const auto l = size_t(k.layer);
    auto xf = x.to(torch::kFloat32);  // docs/methods.md section 5: cosine in float32
    switch (k.site) {
      case Site::ResidPre: pre_[l] = xf; break;
      case Site::AttnOut: attnOut_[l] = xf; break;
      case Site::MlpOut: mlpOut_[l] = xf; break;
      case Site::ResidMid:
        mid_[l] = xf;
        if (normFree()) sums_[l][0] += masked(cosine(pre_[l], xf));
        else if (attnOut_[l].defined()) sums_[l][0] += masked(cosine(rmsNormLike(pre_[l], (*inNorm_)[l], eps_), attnOut_[l]));
        break;
      default:  // ResidPost
        if (normFree()) sums_[l][1] += masked(cosine(mid_[l], xf));
        else if (mlpOut_[l].defined()) sums_[l][1] += masked(cosine(rmsNormLike(mid_[l], (*postNorm_)[l], eps_), mlpOut_[l]));
        if (p_.semantics != Semantics::ShortGpt) {
          sums_[l][2] += masked(cosine(pre_[l], xf));
        } else if (int(l) + 1 < layers_) {
          addShortGpt(l, pre_[l], xf);
        }
        if (int(l) + 1 < layers_) pre_[l] = torch::Tensor();  // shortgpt's last block needs it after the forward
        mid_[l] = attnOut_[l] = mlpOut_[l] = torch::Tensor();
    }
  }
  // ShortGPT: hidden_states[L] is the final norm's output, so the last block compares its input with that.
  void finishLastShortGpt(const torch::Tensor& finalHidden) {
    const auto l = size_t(layers_ - 1);
    addShortGpt(l, pre_[l], finalHidden.to(torch::kFloat32));
  }

 private:
  bool normFree() const { return p_.semantics != Semantics::LlmDrop || p_.dropNorm; }
  void addShortGpt(size_t l, const torch::Tensor& in, const torch::Tensor& out) {
    auto sim = shortgptTokenSimilarity(in, out);
    sums_[l][2] += masked(sim);
    sums_[l][3] += masked(shortgptTokenBi(sim, p_.angular));
  }
  double masked(const torch::Tensor& c) const { return (c.to(torch::kFloat64) * mask_.to(c.device())).sum().item<double>(); }
  torch::Tensor mask_;
  std::vector<torch::Tensor> pre_, mid_, attnOut_, mlpOut_;
  std::vector<std::array<double, 4>>& sums_;
  const RedundancyParams& p_;
  const std::vector<torch::Tensor>*inNorm_, *postNorm_;
  double eps_;
  int layers_;
};

std::vector<torch::Tensor> normWeights(const core::LlamaModel& m, bool post) {
  std::vector<torch::Tensor> out(size_t(m.config().numLayers));
  for (const auto& [name, t] : m.namedWeights())
    for (int l = 0; l < m.config().numLayers; ++l)
      if (name == (post ? core::hfPostAttentionNorm(l) : core::hfInputNorm(l))) out[size_t(l)] = t.to(torch::kFloat32);
  return out;
}

// Batches of the sequences this process owns (all of them without a data-parallel shard).
template <class F>
void forEachBatch(const std::vector<std::vector<int32_t>>& seqs, int batchSize, const core::JobControl* job,
                  const char* stage, const ItemShard* shard, F&& f) {
  const auto [first, last] = shard ? shard->range(seqs.size()) : std::pair<size_t, size_t>{0, seqs.size()};
  const size_t bs = size_t(std::max(1, batchSize));
  const size_t nb = (last - first + bs - 1) / bs;
  for (size_t b = 0; b < nb; ++b) {
    core::checkCancelled(job);
    std::vector<const std::vector<int32_t>*> ptrs;
    for (size_t i = first + b * bs; i < std::min(last, first + (b + 1) * bs); ++i) ptrs.push_back(&seqs[i]);
    f(core::padRight(ptrs));
    core::reportProgress(job, {stage, double(b + 1), double(nb)});
  }
}

}  // namespace

std::vector<std::vector<int32_t>> calibrationSequences(const ModelTaskInputs& in, const RedundancyParams& p) {
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& it : in.task->items) prompts.push_back(it.prompt);
  switch (p.semantics) {
    case Semantics::LlmDrop: {
      const auto& c = in.model->config();
      const int chunk = std::min(p.chunkTokens, c.maxPositionEmbeddings > 0 ? c.maxPositionEmbeddings : p.chunkTokens);
      std::optional<int32_t> bos = in.tokenizer ? in.tokenizer->bosId() : std::nullopt;
      std::optional<int32_t> eos = in.tokenizer ? in.tokenizer->eosId() : std::nullopt;
      return llmDropCalibrationChunks(prompts, bos, eos, chunk);
    }
    case Semantics::ShortGpt: return shortgptWindows(prompts, p.shortgptStride);
    case Semantics::LayerScope: return prompts;
    case Semantics::Afcl: break;
  }
  throw InvalidArgument("redundancy: semantics afcl defines no redundancy (use layerscope, llm-drop or shortgpt)");
}

bool RedundancySums::reusable(const RedundancyParams& p) {
  return p.semantics == Semantics::LayerScope && p.skips.skipAttention.empty() && p.skips.skipMlp.empty();
}

RedundancySums::RedundancySums(const core::LlamaModel& model, const RedundancyParams& p)
    : model_(model), p_(p), sums_(size_t(model.config().numLayers), {0, 0, 0, 0}) {
  if (p.semantics == Semantics::LlmDrop && !p.dropNorm) inNorm_ = normWeights(model, false), postNorm_ = normWeights(model, true);
}

std::shared_ptr<core::CaptureSink> RedundancySums::sink(const torch::Tensor& mask) {
  tokens_ += mask.to(torch::kFloat64).sum().item<double>();
  return std::make_shared<CosineSink>(model_.config().numLayers, mask, p_, &inNorm_, &postNorm_,
                                      model_.config().rmsNormEps, sums_);
}

void RedundancySums::finishShortGpt(core::CaptureSink& sink, const torch::Tensor& finalHidden) {
  if (p_.semantics == Semantics::ShortGpt) static_cast<CosineSink&>(sink).finishLastShortGpt(finalHidden);
}

RedundancyResult RedundancySums::finish(const ItemShard* shard, std::size_t sequences, std::size_t expectedTokens) {
  const int L = model_.config().numLayers;
  std::vector<double> flat;  // per-process token sums -> all tokens
  for (const auto& row : sums_) flat.insert(flat.end(), row.begin(), row.end());
  flat.push_back(tokens_);
  if (shard) shard->sumInPlace(flat.data(), flat.size());
  if (std::llround(flat.back()) != std::llround(double(expectedTokens)))
    throw Error("redundancy: the cosines cover " + std::to_string(std::llround(flat.back())) + " tokens, expected " +
                std::to_string(expectedTokens) + " (every calibration token exactly once)");
  RedundancyResult r;
  r.params = p_;
  r.tokens = expectedTokens;
  r.sequences = sequences;
  r.attn.resize(L), r.mlp.resize(L), r.block.resize(L), r.blockBi.resize(L);
  const double n = double(expectedTokens);
  for (int l = 0; l < L; ++l) {
    const double* s = &flat[size_t(4 * l)];
    r.attn[l] = s[0] / n;
    r.mlp[l] = s[1] / n;
    r.block[l] = s[2] / n;
    if (p_.semantics == Semantics::ShortGpt)
      r.blockBi[l] = s[3] / n;  // shortgpt.py sums per token; the mean ranks the same
    else
      r.blockBi[l] = p_.angular ? std::acos(std::clamp(r.block[l], -1.0, 1.0)) / M_PI : 1.0 - r.block[l];
  }
  return r;
}

RedundancyResult redundancy(const ModelTaskInputs& in, const RedundancyParams& p, const core::JobControl* job) {
  c10::InferenceMode guard;
  const auto t0 = Clock::now();
  const auto seqs = calibrationSequences(in, p);
  if (seqs.empty()) throw InvalidArgument("redundancy: no calibration tokens");
  std::size_t tokens = 0;
  for (const auto& s : seqs) tokens += s.size();
  const bool skips = !p.skips.skipAttention.empty() || !p.skips.skipMlp.empty();
  core::Interventions iv;
  iv.skipAttention = p.skips.skipAttention;
  iv.skipMlp = p.skips.skipMlp;
  RedundancySums acc(*in.model, p);
  forEachBatch(seqs, p.batchSize, job, "redundancy", in.shard, [&](const core::PaddedBatch& pb) {
    const auto sink = acc.sink(pb.mask);
    core::ForwardOptions fo;
    fo.computeLogits = false;
    auto out = in.model->forward({pb.ids, pb.mask, {}}, skips ? &iv : nullptr, sink.get(), fo);
    acc.finishShortGpt(*sink, out.finalHidden);
  });
  RedundancyResult r = acc.finish(in.shard, seqs.size(), tokens);
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

namespace {
// resid_pre of every layer and the last layer's output: sums of cos(h_i, h_j) over real tokens for all i < j.
class BlockMatrixSink : public core::CaptureSink {
 public:
  BlockMatrixSink(int layers, torch::Tensor mask)
      : mask_(mask.to(torch::kFloat64)), h_(size_t(layers) + 1), sums_(Eigen::MatrixXd::Zero(layers, layers)) {}
  bool wants(const core::SiteKey& k) const override {
    return k.site == Site::ResidPre || (k.site == Site::ResidPost && k.layer == int(h_.size()) - 2);
  }
  void record(const core::SiteKey& k, const torch::Tensor& x) override {
    h_[k.site == Site::ResidPre ? size_t(k.layer) : h_.size() - 1] = x.to(torch::kFloat32);
  }
  const Eigen::MatrixXd& finish() {
    const int L = int(h_.size()) - 1;
    for (int i = 0; i < L; ++i)
      for (int j = i + 1; j <= L; ++j)
        sums_(i, j - i - 1) =
            (cosine(h_[size_t(i)], h_[size_t(j)]).to(torch::kFloat64) * mask_.to(h_[size_t(i)].device())).sum().item<double>();
    return sums_;
  }

 private:
  torch::Tensor mask_;
  std::vector<torch::Tensor> h_;
  Eigen::MatrixXd sums_;
};
}  // namespace

Eigen::MatrixXd blockSimilarityMatrix(const ModelTaskInputs& in, const RedundancyParams& p, const core::JobControl* job) {
  c10::InferenceMode guard;
  const int L = in.model->config().numLayers;
  const auto seqs = calibrationSequences(in, p);
  if (seqs.empty()) throw InvalidArgument("redundancy: no calibration tokens");
  std::size_t tokens = 0;
  for (const auto& s : seqs) tokens += s.size();
  Eigen::MatrixXd sums = Eigen::MatrixXd::Zero(L, L);
  forEachBatch(seqs, p.batchSize, job, "block similarities", in.shard, [&](const core::PaddedBatch& pb) {
    BlockMatrixSink sink(L, pb.mask);
    core::ForwardOptions fo;
    fo.computeLogits = false;
    in.model->forward({pb.ids, pb.mask, {}}, nullptr, &sink, fo);
    sums += sink.finish();
  });
  if (in.shard) in.shard->sumInPlace(sums.data(), size_t(sums.size()));
  Eigen::MatrixXd sim = sums / double(tokens);
  for (int i = 0; i < L; ++i)
    for (int g = 1; g <= L; ++g)
      if (i + g > L) sim(i, g - 1) = -std::numeric_limits<double>::infinity();
  return sim;
}

}  // namespace layerscope::analysis
