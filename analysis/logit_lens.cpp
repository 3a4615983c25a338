// Logit lens profile (nostalgebraist 2020): the model's final RMSNorm and unembedding (lm_head, or the tied
// embedding) applied to resid_post[l] at the decision token (the last prompt token) of every item, per layer l.
// Scored like the task on one answer token (**method: LayerScope operationalisation**, docs/analyses.md):
// multiple choice: each choice scores log p_lens(its first token), prediction = argmax; choices that share that
// token tie exactly, and a gold among k tied maxima earns 1/k (the expected accuracy of a uniform tie-break);
// pairs: correct when the correct completion's first token is strictly more likely than the incorrect one's; short
// answer: correct when the lens argmax over the tokenizer's vocabulary is the gold answer's first token.
// gold_logprob = log p_lens(gold token); both are means over items. When all choices (both completions) begin with
// the same tokens -- " 803" vs " 703" starts with a lone space under byte-level or Llama 3 digit tokenization --
// the first token cannot separate them, so the lens is read one position later per shared token (the shared
// prefix teacher-forced after the prompt) and scores the first token where they differ.
// The norm and unembedding run in float32 (float64 under float64 compute), so at the last layer the lens is the
// model's own next-token distribution (exactly for float32/float64 compute; bfloat16 compute rounds its logits,
// the lens does not). The vocabulary is processed in chunks, so no float32 copy of the [V, D] unembedding is kept.
#include <algorithm>
#include <chrono>
#include <limits>

#include "analysis/layer_analyses.h"
#include "analysis/profile_registry.h"
#include "core/base/error.h"
#include "core/model/names.h"

namespace layerscope::analysis {
namespace {

constexpr int64_t kVocabChunk = 16384;  // unembedding rows converted and multiplied at a time

// Keeps resid_post[l][b, pos[b], :] of every layer in the lens dtype: [B, D] per layer.
class DecisionSink : public core::CaptureSink {
 public:
  DecisionSink(int layers, torch::Tensor pos, torch::ScalarType dtype)
      : pos_(std::move(pos)), dtype_(dtype), rows_(size_t(layers)) {}
  bool wants(const core::SiteKey& k) const override {
    return k.site == core::Site::ResidPost && k.layer < int(rows_.size());
  }
  void record(const core::SiteKey& k, const torch::Tensor& x) override {  // x [B,T,D]
    const int64_t B = x.size(0), D = x.size(2);
    rows_[size_t(k.layer)] = x.gather(1, pos_.view({B, 1, 1}).expand({B, 1, D})).squeeze(1).to(dtype_);  // [B,D]
  }
  torch::Tensor stacked() const { return torch::stack(rows_, 0); }  // [L,B,D]

 private:
  torch::Tensor pos_;  // [B] int64
  torch::ScalarType dtype_;
  std::vector<torch::Tensor> rows_;
};

// The final norm weight and the unembedding under their Hugging Face names (names.h).
struct Unembedding {
  torch::Tensor norm;  // [D], lens dtype
  torch::Tensor head;  // [V, D], compute dtype (converted chunk by chunk)
  bool tied = false;
};

// Index of the scored continuation token: the first at which the choices (completions) differ, at most the last
// token of the shortest one; 0 for short answer (one target, nothing to separate it from).
std::size_t scoredIndex(const core::PreparedItem& it, core::TaskKind kind) {
  if (kind == core::TaskKind::ShortAnswer) return 0;
  std::size_t shortest = it.continuations.front().size();
  for (const auto& c : it.continuations) shortest = std::min(shortest, c.size());
  std::size_t p = 0;
  auto shared = [&](std::size_t j) {
    for (const auto& c : it.continuations)
      if (c[j] != it.continuations.front()[j]) return false;
    return true;
  };
  while (p + 1 < shortest && shared(p)) ++p;
  return p;
}

Unembedding unembeddingOf(const core::LlamaModel& model, torch::ScalarType lens) {
  Unembedding u;
  torch::Tensor embed;
  for (const auto& [name, t] : model.namedWeights()) {
    if (name == core::kHfFinalNorm) u.norm = t.to(lens);
    if (name == core::kHfLmHead) u.head = t;
    if (name == core::kHfEmbed) embed = t;
  }
  u.tied = !u.head.defined();
  if (u.tied) u.head = embed;
  if (!u.norm.defined() || !u.head.defined())
    throw InvalidArgument("logit lens: the model exposes no final norm or unembedding weight");
  return u;
}

ProfileResult runLogitLens(const ModelTaskInputs& in, const ProfileOptions& opt, const core::JobControl* job) {
  c10::InferenceMode guard;
  const auto t0 = std::chrono::steady_clock::now();
  const auto& model = *in.model;
  const auto& task = *in.task;
  const auto& cfg = model.config();
  const int L = cfg.numLayers;
  const auto N = Eigen::Index(task.items.size());
  const torch::ScalarType lens = model.computeDtype() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const auto u = unembeddingOf(model, lens);
  const auto dev = u.head.device();
  const int64_t V = u.head.size(0);
  // short answer: the argmax may only pick ids the tokenizer can decode (as greedy decoding does)
  const int64_t argmaxV = in.tokenizer ? std::min<int64_t>(V, in.tokenizer->vocabSize()) : V;
  const bool shortAnswer = task.kind == core::TaskKind::ShortAnswer;

  Eigen::MatrixXd acc = Eigen::MatrixXd::Zero(N, L), goldLp = Eigen::MatrixXd::Zero(N, L);
  std::size_t forwards = 0, shifted = 0, tiedGold = 0;
  const size_t bs = size_t(std::max(1, opt.batchSize));
  const size_t nb = (task.items.size() + bs - 1) / bs;
  for (size_t b = 0; b < nb; ++b) {
    core::checkCancelled(job);
    const size_t lo = b * bs, hi = std::min(task.items.size(), lo + bs);
    const int64_t B = int64_t(hi - lo);
    // each row: the prompt plus the shared answer prefix (usually empty), read at its last token
    std::vector<std::vector<int32_t>> seqs;
    std::vector<size_t> at;  // scored continuation index per row
    size_t K = 1;
    for (size_t i = lo; i < hi; ++i) {
      const auto& it = task.items[i];
      at.push_back(scoredIndex(it, task.kind));
      const auto& gold = it.continuations[it.gold];
      seqs.push_back(it.prompt);
      seqs.back().insert(seqs.back().end(), gold.begin(), gold.begin() + long(at.back()));
      K = std::max(K, it.continuations.size());
      shifted += at.back() > 0;
    }
    // the scored tokens, [B, K] (padded with id 0; only each row's own continuations are read)
    std::vector<int64_t> tok(static_cast<size_t>(B) * K, 0), pos(static_cast<size_t>(B), 0);
    std::vector<const std::vector<int32_t>*> ptrs;
    for (int64_t r = 0; r < B; ++r) {
      const auto& it = task.items[lo + size_t(r)];
      pos[size_t(r)] = int64_t(seqs[size_t(r)].size()) - 1;
      for (size_t c = 0; c < it.continuations.size(); ++c) tok[size_t(r) * K + c] = it.continuations[c][at[size_t(r)]];
      ptrs.push_back(&seqs[size_t(r)]);
    }
    auto pb = core::padRight(ptrs);
    DecisionSink sink(L, torch::tensor(pos, torch::kInt64).to(dev), lens);
    core::ForwardOptions fo;
    fo.computeLogits = false;
    model.forward({pb.ids.to(dev), pb.mask.to(dev), {}}, nullptr, &sink, fo);
    ++forwards;

    // final RMSNorm as the model's (normalise, then scale), in the lens dtype
    const torch::Tensor h = sink.stacked();                                               // [L,B,D]
    const torch::Tensor hn = u.norm * (h * torch::rsqrt(h.pow(2).mean(-1, true) + cfg.rmsNormEps));  // [L,B,D]
    const torch::Tensor flat = hn.reshape({int64_t(L) * B, hn.size(2)});                 // [L*B,D]
    // log-partition over the whole vocabulary and (short answer) the argmax, one chunk of rows at a time
    torch::Tensor lse = torch::full({flat.size(0)}, -std::numeric_limits<double>::infinity(), flat.options());
    torch::Tensor best = torch::full({flat.size(0)}, -std::numeric_limits<double>::infinity(), flat.options());
    torch::Tensor bestId = torch::zeros({flat.size(0)}, torch::TensorOptions().dtype(torch::kInt64).device(dev));
    for (int64_t c0 = 0; c0 < V; c0 += kVocabChunk) {
      const int64_t n = std::min(kVocabChunk, V - c0);
      const torch::Tensor logits = flat.matmul(u.head.narrow(0, c0, n).to(lens).t());  // [L*B,n]
      lse = torch::logaddexp(lse, torch::logsumexp(logits, 1));
      if (shortAnswer && c0 < argmaxV) {
        auto [m, i] = logits.narrow(1, 0, std::min(n, argmaxV - c0)).max(1);
        const torch::Tensor better = m > best;  // strict: the first maximum wins on ties
        best = torch::where(better, m, best);
        bestId = torch::where(better, i + c0, bestId);
      }
    }
    const torch::Tensor ids = torch::tensor(tok, torch::kInt64).to(dev);                   // [B*K]
    const torch::Tensor w = u.head.index_select(0, ids).to(lens).view({B, int64_t(K), -1});  // [B,K,D]
    const torch::Tensor lp = torch::einsum("lbd,bkd->lbk", {hn, w}) - lse.view({L, B, 1});   // [L,B,K]
    const torch::Tensor lpHost = lp.to(torch::kCPU, torch::kFloat64).contiguous();  // host copy for the scoring loop
    const torch::Tensor idHost = bestId.view({L, B}).to(torch::kCPU).contiguous();
    const auto lpA = lpHost.accessor<double, 3>();
    const auto idA = idHost.accessor<int64_t, 2>();

    for (int64_t r = 0; r < B; ++r) {
      const auto i = Eigen::Index(lo) + r;
      const auto& it = task.items[size_t(i)];
      const auto& conts = it.continuations;
      const auto gold = int64_t(it.gold);
      const size_t j = at[size_t(r)];
      for (size_t c = 0; c < conts.size(); ++c)
        if (c != it.gold && conts[c][j] == conts[it.gold][j]) {
          ++tiedGold;  // the gold shares its scored token with another choice: the lens cannot separate them
          break;
        }
      for (int l = 0; l < L; ++l) {
        double credit = 0;
        if (task.kind == core::TaskKind::MultipleChoice) {
          // choices sharing the best token tie exactly: the gold among k of them earns 1/k
          double top = lpA[l][r][0];
          for (int64_t c = 1; c < int64_t(conts.size()); ++c) top = std::max(top, lpA[l][r][c]);
          int tied = 0;
          for (int64_t c = 0; c < int64_t(conts.size()); ++c) tied += lpA[l][r][c] == top;
          credit = lpA[l][r][gold] == top ? 1.0 / tied : 0.0;
        } else if (task.kind == core::TaskKind::Pairs) {
          credit = lpA[l][r][0] > lpA[l][r][1] ? 1.0 : 0.0;  // continuations = {correct, incorrect}
        } else {
          credit = idA[l][r] == conts[it.gold][j] ? 1.0 : 0.0;
        }
        acc(i, l) = credit;
        goldLp(i, l) = lpA[l][r][gold];
      }
    }
    core::reportProgress(job, {"logit lens", double(b + 1), double(nb)});
  }

  ProfileResult res;
  auto mean = [&](const Eigen::MatrixXd& m) {
    std::vector<double> v(size_t(L), std::numeric_limits<double>::quiet_NaN());
    if (N > 0)
      for (int l = 0; l < L; ++l) v[size_t(l)] = m.col(l).mean();
    return v;
  };
  res.layerScores["logit_lens.accuracy"] = mean(acc);
  res.layerScores["logit_lens.gold_logprob"] = mean(goldLp);
  res.itemScores["logit_lens.accuracy"] = acc;
  res.itemScores["logit_lens.gold_logprob"] = goldLp;
  res.info = {{"state", "resid_post"},
              {"position", "last_prompt (+ the answers' shared prefix)"},
              {"unembedding", u.tied ? "model.embed_tokens (tied)" : "lm_head"},
              {"dtype", lens == torch::kFloat64 ? "float64" : "float32"},
              {"scoring", "first continuation token where the answers differ"},
              {"items", N},
              {"items_read_after_shared_prefix", shifted},
              {"items_with_tied_gold_token", tiedGold},
              {"forward_passes", forwards},
              {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
  return res;
}

}  // namespace

ProfileSpec logitLensProfile() {
  return {.name = "logit_lens",
          .summary = "final norm + unembedding on resid_post[l] at the decision token: first-token accuracy and "
                     "gold log-probability per layer",
          .byDefault = false,
          .weight = 1.0,
          .keys = {"logit_lens.accuracy", "logit_lens.gold_logprob"},
          .run = runLogitLens};
}

}  // namespace layerscope::analysis
