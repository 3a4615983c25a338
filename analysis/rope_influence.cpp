// RoPE influence R_l and R_{l,g} (docs/methods.md section 3): gradient, perturb and nope modes.
// gradient: one forward + backward per batch gives every item's |dLoss/dbeta| for all L x G values at once:
// each row gets its own beta [L,G] (the core accepts per-row multipliers), and rows are independent, so the
// gradient of the summed row losses w.r.t. row b's beta is row b's own gradient. Nothing loops over layers.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "analysis/finite_states.h"
#include "analysis/layer_analyses.h"
#include "core/base/error.h"

namespace layerscope::analysis {

std::string ropeModeName(RopeMode m) {
  switch (m) {
    case RopeMode::Gradient: return "gradient";
    case RopeMode::Perturb: return "perturb";
    case RopeMode::Nope: return "nope";
  }
  return "gradient";
}

RopeMode parseRopeMode(std::string_view name) {
  for (auto m : {RopeMode::Gradient, RopeMode::Perturb, RopeMode::Nope})
    if (ropeModeName(m) == name) return m;
  throw InvalidArgument("unknown RoPE influence mode '" + std::string(name) + "' (expected gradient, perturb or nope)");
}

std::string ropeLossName(RopeLoss l) { return l == RopeLoss::Prompt ? "prompt" : "completion"; }

RopeLoss parseRopeLoss(std::string_view name) {
  if (name == "prompt") return RopeLoss::Prompt;
  if (name == "completion") return RopeLoss::Completion;
  throw InvalidArgument("unknown RoPE loss '" + std::string(name) + "' (expected prompt or completion)");
}

Eigen::VectorXd meanOfRows(const Eigen::MatrixXd& perItem, const std::vector<std::size_t>& rows) {
  Eigen::VectorXd s = Eigen::VectorXd::Zero(perItem.cols());
  for (auto r : rows) s += perItem.row(Eigen::Index(r)).transpose();
  return rows.empty() ? s : Eigen::VectorXd(s / double(rows.size()));
}

namespace {

using Clock = std::chrono::steady_clock;

void gradientMode(const ModelTaskInputs& in, const RopeInfluenceParams& p, RopeInfluenceResult& res,
                  const core::JobControl* job) {
  const auto& model = *in.model;
  const auto& c = model.config();
  const int L = c.numLayers, G = c.numKvHeads;
  const auto dt = model.computeDtype() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const auto& items = in.task->items;
  const std::size_t bs = std::size_t(std::max(1, p.batchSize));
  torch::AutoGradMode grad(true);
  const auto [mine, mineEnd] = in.shard ? in.shard->range(items.size()) : std::pair<size_t, size_t>{0, items.size()};
  for (std::size_t start = mine; start < mineEnd; start += bs) {
    core::checkCancelled(job);
    const std::size_t end = std::min(mineEnd, start + bs);
    const int64_t B = int64_t(end - start);
    std::vector<std::vector<int32_t>> seqs;
    std::vector<int64_t> first, count;  // per row: first predicting position, predicted tokens
    for (std::size_t i = start; i < end; ++i) {
      const auto& it = items[i];
      std::vector<int32_t> seq = it.prompt;
      const auto& gold = it.continuations[it.gold];
      if (p.loss == RopeLoss::Completion) seq.insert(seq.end(), gold.begin(), gold.end());
      if (p.loss == RopeLoss::Prompt && seq.size() < 2)
        throw InvalidArgument("RoPE influence: item '" + it.id + "' has a one-token prompt, so the prompt loss is empty");
      const int64_t f = p.loss == RopeLoss::Completion ? int64_t(it.prompt.size()) - 1 : 0;
      first.push_back(f);
      count.push_back(int64_t(seq.size()) - 1 - f);
      seqs.push_back(std::move(seq));
    }
    std::vector<const std::vector<int32_t>*> ptrs;
    for (const auto& s : seqs) ptrs.push_back(&s);
    const auto pb = core::padRight(ptrs);  // ids/mask [B,T]
    const int64_t P = *std::max_element(count.begin(), count.end());
    // Predicting positions per row, padded by repeating the row's first one (masked out of the loss).
    const auto host = torch::TensorOptions().device(core::hostDevice());  // built here, moved by the forward
    auto pos = torch::zeros({B, P}, host.dtype(torch::kInt64));
    auto tgt = torch::zeros({B, P}, host.dtype(torch::kInt64));
    auto w = torch::zeros({B, P}, host.dtype(dt));
    auto ids = pb.ids;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < P; ++j) {
        const int64_t at = first[size_t(b)] + std::min(j, count[size_t(b)] - 1);
        pos[b][j] = at;
        tgt[b][j] = ids[b][at + 1];
        if (j < count[size_t(b)]) w[b][j] = 1.0 / double(count[size_t(b)]);  // mean over the row's tokens
      }
    // beta [B,L,G]: every row has its own multipliers, so d(sum of row losses)/d beta[b] = d loss_b / d beta[b].
    // Host leaf: the forward's copy to the model's device is differentiable, so the gradient arrives here.
    auto beta = torch::zeros({B, L, G}, host.dtype(dt)).requires_grad_(true);
    core::Interventions iv;
    for (int l = 0; l < L; ++l) iv.ropeAlpha.push_back(torch::exp(beta.select(1, l)));  // [B,G]
    core::ForwardOptions fo;
    fo.logitPositions = pos;
    auto logits = model.forward({ids, pb.mask, {}}, &iv, nullptr, fo).logits;  // [B,P,V]
    auto nll = torch::nn::functional::cross_entropy(
        logits.reshape({B * P, -1}), tgt.reshape({-1}).to(logits.device()),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));  // [B*P]
    (nll.to(dt) * w.reshape({-1}).to(nll.device())).sum().backward();
    ++res.forwardPasses;
    auto g = beta.grad().abs().to(torch::kFloat64).contiguous();  // [B,L,G]
    requireFiniteLayers(torch::isfinite(g).all(0).all(-1), "RoPE influence (gradient)");  // [L]
    auto ga = g.accessor<double, 3>();
    for (int64_t b = 0; b < B; ++b) {
      const auto i = Eigen::Index(start + size_t(b));
      for (int l = 0; l < L; ++l) {
        double s = 0;
        for (int h = 0; h < G; ++h) {
          res.itemHead(i, l * G + h) = ga[b][l][h];
          s += ga[b][l][h];
        }
        res.itemLayer(i, l) = s;  // R_l = sum over g
      }
    }
    core::reportProgress(job, {"rope influence: gradient", double(end - mine), double(mineEnd - mine)});
  }
}

// KL(p || q) per row from log-probabilities [B,V].
torch::Tensor klRows(const torch::Tensor& logp, const torch::Tensor& logq) {
  return (logp.exp() * (logp - logq)).sum(-1);
}

void klModes(const ModelTaskInputs& in, const RopeInfluenceParams& p, RopeInfluenceResult& res,
             const core::JobControl* job) {
  c10::InferenceMode guard;
  const auto& model = *in.model;
  const int L = model.config().numLayers, G = model.config().numKvHeads;
  const auto dt = model.computeDtype() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const auto& items = in.task->items;
  // (layer, group or -1 for all, factor) variants; KL of each variant is averaged over its +- pair.
  struct Variant { int layer, group; double factor; };
  std::vector<Variant> vars;
  std::vector<double> factors = p.mode == RopeMode::Perturb ? std::vector<double>{1 + p.eps, 1 - p.eps}
                                                            : std::vector<double>{0.0};
  for (int l = 0; l < L; ++l)
    for (int g = -1; g < (p.perHead ? G : 0); ++g)
      for (double f : factors) vars.push_back({l, g, f});
  // batches of similar length (less padding); rows map back through `order`
  const auto [first, last] = in.shard ? in.shard->range(items.size()) : std::pair<size_t, size_t>{0, items.size()};
  std::vector<size_t> order(last - first);  // data-parallel: this process's items only
  for (size_t i = 0; i < order.size(); ++i) order[i] = first + i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return items[a].prompt.size() > items[b].prompt.size(); });
  const size_t bs = size_t(std::max(1, p.batchSize));
  const size_t nb = (order.size() + bs - 1) / bs;
  for (size_t b = 0; b < nb; ++b) {
    const size_t lo = b * bs, hi = std::min(order.size(), lo + bs);
    std::vector<const std::vector<int32_t>*> ptrs;
    for (size_t i = lo; i < hi; ++i) ptrs.push_back(&items[order[i]].prompt);
    auto pb = core::padRight(ptrs);
    core::ForwardOptions fo;
    fo.logitPositions = torch::tensor(std::vector<int64_t>(pb.length.begin(), pb.length.end()),
                                      torch::TensorOptions().dtype(torch::kInt64).device(core::hostDevice())) - 1;
    auto logp = torch::log_softmax(model.forward({pb.ids, pb.mask, {}}, nullptr, nullptr, fo).logits.to(torch::kFloat64), -1);
    ++res.forwardPasses;
    for (size_t v = 0; v < vars.size(); ++v) {
      core::checkCancelled(job);
      core::Interventions iv;
      iv.ropeAlpha.resize(size_t(L));
      auto alpha = torch::ones({G}, torch::TensorOptions().dtype(dt).device(core::hostDevice()));
      if (vars[v].group < 0) alpha.fill_(vars[v].factor);
      else alpha[vars[v].group] = vars[v].factor;
      iv.ropeAlpha[size_t(vars[v].layer)] = alpha;
      auto logq = torch::log_softmax(model.forward({pb.ids, pb.mask, {}}, &iv, nullptr, fo).logits.to(torch::kFloat64), -1);
      ++res.forwardPasses;
      auto kl = klRows(logp, logq).to(core::hostDevice()).contiguous();  // [B] host copy
      auto ka = kl.accessor<double, 1>();
      const double w = 1.0 / double(factors.size());
      for (size_t r = 0; r < hi - lo; ++r) {
        const auto row = Eigen::Index(order[lo + r]);
        if (vars[v].group < 0) res.itemLayer(row, vars[v].layer) += w * ka[int64_t(r)];
        else res.itemHead(row, vars[v].layer * G + vars[v].group) += w * ka[int64_t(r)];
      }
    }
    core::reportProgress(job, {"rope influence: " + ropeModeName(p.mode), double(b + 1), double(nb)});
  }
}

}  // namespace

RopeInfluenceResult ropeInfluence(const ModelTaskInputs& in, const RopeInfluenceParams& p, const core::JobControl* job) {
  if (p.mode == RopeMode::Perturb && !(p.eps >= 0 && p.eps < 1))
    throw InvalidArgument("RoPE influence: eps must be in [0, 1), got " + std::to_string(p.eps));
  const auto t0 = Clock::now();
  const auto& c = in.model->config();
  const int L = c.numLayers, G = c.numKvHeads;
  const auto N = Eigen::Index(in.task->items.size());
  RopeInfluenceResult res;
  res.params = p;
  const bool heads = p.mode == RopeMode::Gradient || p.perHead;
  res.itemLayer = Eigen::MatrixXd::Zero(N, L);
  res.itemHead = heads ? Eigen::MatrixXd::Zero(N, L * G) : Eigen::MatrixXd();
  if (p.mode == RopeMode::Gradient) gradientMode(in, p, res, job);
  else klModes(in, p, res, job);
  if (in.shard && in.shard->size > 1) {  // rows of the other processes' items are zero here: the sum is exact
    in.shard->sumInPlace(res.itemLayer.data(), size_t(res.itemLayer.size()));
    in.shard->sumInPlace(res.itemHead.data(), size_t(res.itemHead.size()));
    double f = double(res.forwardPasses);
    in.shard->sumInPlace(&f, 1);
    res.forwardPasses = std::size_t(f);
  }
  res.perLayer = res.itemLayer.colwise().mean().transpose();
  if (heads) {
    Eigen::VectorXd m = res.itemHead.colwise().mean().transpose();
    res.perHead = Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(m.data(), L, G);
  }
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return res;
}

}  // namespace layerscope::analysis
