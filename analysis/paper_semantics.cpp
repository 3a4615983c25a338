// Paper-exact rules that need no model (see paper_semantics.h; official file:line in docs/methods.md).
#include "analysis/paper_semantics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/base/error.h"

namespace layerscope::analysis {

torch::Tensor shortgptTokenSimilarity(const torch::Tensor& in, const torch::Tensor& out) {
  // metrics.py: (x @ y.T) / (|x| |y|), diagonal, nan_to_num(nan = 0.5); the diagonal is the row-wise dot product
  auto dot = (in * out).sum(-1);
  auto den = in.norm(2, -1) * out.norm(2, -1);
  return torch::nan_to_num(dot / den, 0.5);
}

torch::Tensor shortgptTokenBi(const torch::Tensor& sim, bool angular) {
  if (angular) return torch::arccos(sim.clamp(-1.0, 1.0)) / M_PI;
  return 1.0 - sim;
}

std::vector<std::vector<int32_t>> shortgptWindows(const std::vector<std::vector<int32_t>>& prompts, int stride) {
  if (stride < 1) throw InvalidArgument("shortgpt: window stride must be >= 1");
  std::vector<std::vector<int32_t>> out;
  for (const auto& p : prompts)
    for (size_t lo = 0; lo < p.size(); lo += size_t(stride))
      out.emplace_back(p.begin() + std::ptrdiff_t(lo), p.begin() + std::ptrdiff_t(std::min(p.size(), lo + size_t(stride))));
  return out;
}

std::vector<std::vector<int32_t>> llmDropCalibrationChunks(const std::vector<std::vector<int32_t>>& prompts,
                                                           std::optional<int32_t> bos, std::optional<int32_t> eos,
                                                           int chunk) {
  if (chunk < 1) throw InvalidArgument("llm-drop: calibration chunk must be >= 1 token");
  std::vector<int32_t> all;
  for (const auto& p : prompts) {
    auto first = p.begin();
    if (bos && first != p.end() && *first == *bos) ++first;  // tokenized with add_special_tokens=False
    all.insert(all.end(), first, p.end());
    if (eos) all.push_back(*eos);  // text + tokenizer.eos_token
  }
  std::vector<std::vector<int32_t>> out;
  if (all.empty()) return out;
  if (all.size() < size_t(chunk)) return {all};
  for (size_t lo = 0; lo + size_t(chunk) <= all.size(); lo += size_t(chunk))
    out.emplace_back(all.begin() + std::ptrdiff_t(lo), all.begin() + std::ptrdiff_t(lo + size_t(chunk)));
  return out;
}

torch::Tensor rmsNormLike(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  auto xf = x.to(x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32);
  auto var = xf.pow(2).mean(-1, true);
  return w.to(x.scalar_type()) * (xf * torch::rsqrt(var + eps)).to(x.scalar_type());
}

std::vector<PlannedDrop> iterativeDropPlan(int L, int n, const std::string& kinds, bool llmDrop,
                                           const TrajectoryScorer& score) {
  const bool attn = kinds == "attn" || kinds == "all", mlp = kinds == "mlp" || kinds == "all";
  if (!attn && !mlp) throw InvalidArgument("drop: iterative kinds must be attn, mlp or all, got '" + kinds + "'");
  const int available = (attn ? L : 0) + (mlp ? L : 0);
  if (n < 1 || n > available)
    throw InvalidArgument("drop: --n must be in 1.." + std::to_string(available) + ", got " + std::to_string(n));
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  std::vector<bool> attnDropped(size_t(L), false), mlpDropped(size_t(L), false);
  std::vector<PlannedDrop> plan;
  for (int round = 0; round < n; ++round) {
    std::vector<PlannedDrop> cand;
    if (!llmDrop) {
      const auto s = score(attnDropped, mlpDropped);  // the model as actually dropped
      for (int l = 0; l < L; ++l) {
        if (attn && !attnDropped[size_t(l)]) cand.push_back({l, false, s.attn[l]});
        if (mlp && !mlpDropped[size_t(l)]) cand.push_back({l, true, s.mlp[l]});
      }
    } else {
      // layer_drop.py: a layer whose module of the scored kind is dropped is skipped as a whole (`continue`)
      auto scoreKind = [&](bool isMlp) {
        const auto& dropped = isMlp ? mlpDropped : attnDropped;
        std::vector<bool> skipA(static_cast<size_t>(L)), skipM(static_cast<size_t>(L));
        for (size_t l = 0; l < size_t(L); ++l) {
          skipA[l] = attnDropped[l] || dropped[l];
          skipM[l] = mlpDropped[l] || dropped[l];
        }
        const auto s = score(skipA, skipM);
        for (int l = 0; l < L; ++l) {
          const double v = dropped[size_t(l)] ? kNegInf : (isMlp ? s.mlp[l] : s.attn[l]);
          if (!dropped[size_t(l)]) cand.push_back({l, isMlp, v});
        }
      };
      if (attn) scoreKind(false);  // torch.cat((similarities_attn, similarities_mlp))
      if (mlp) scoreKind(true);
    }
    std::stable_sort(cand.begin(), cand.end(), [](const auto& a, const auto& b) { return a.similarity > b.similarity; });
    const auto pick = cand.front();
    (pick.mlp ? mlpDropped : attnDropped)[size_t(pick.layer)] = true;
    plan.push_back(pick);
  }
  return plan;
}

int consecutiveBlockStart(const Eigen::MatrixXd& sim, int n, bool llmDrop) {
  const int L = int(sim.rows());
  const int col = llmDrop ? n : n - 1;  // block_drop.py: similarities[:, drop_n] holds gap drop_n + 1
  if (n < 1 || col >= int(sim.cols()) || (!llmDrop && n > L))
    throw InvalidArgument("drop: consecutive --n must be in 1.." + std::to_string(llmDrop ? L - 1 : L) +
                          (llmDrop ? " under llm-drop semantics" : "") + ", got " + std::to_string(n));
  int begin = -1;
  double best = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < L; ++i)
    if (sim(i, col) > best) best = sim(i, col), begin = i;  // torch.max: the first maximum
  if (begin < 0) throw InvalidArgument("drop: consecutive plan found no valid start");
  return begin;
}

torch::Tensor afclShufflePermutation(int64_t dims, int k, int64_t token) {
  // manipulations_utils.py apply_shuffle_random: torch.manual_seed(idx * token_idx); torch.randperm(D)
  auto gen = at::detail::createCPUGenerator(uint64_t(k) * uint64_t(token));
  return torch::randperm(dims, gen, torch::TensorOptions().dtype(torch::kInt64));
}

}  // namespace layerscope::analysis
