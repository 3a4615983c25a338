// Sensitivity inputs (docs/methods.md section 2): resid_post[l] of every layer at the chosen token position, captured
// by a sink that keeps only the [B,D] rows it needs, then the metrics of analysis/sensitivity_metrics.
#include <algorithm>
#include <chrono>

#include "analysis/finite_states.h"
#include "analysis/layer_analyses.h"
#include "core/base/error.h"

namespace layerscope::analysis {
namespace {

using core::Site;

// Keeps sum_p w[b,p] x[b, pos[b,p], :] per layer (a weighted mean over positions; weights sum to 1 per row).
class PositionSink : public core::CaptureSink {
 public:
  PositionSink(int layers, torch::Tensor pos, torch::Tensor w) : layers_(layers), pos_(std::move(pos)), w_(std::move(w)) {
    out_.resize(size_t(layers));
  }
  bool wants(const core::SiteKey& k) const override { return k.site == Site::ResidPost && k.layer < layers_; }
  void record(const core::SiteKey& k, const torch::Tensor& x) override {  // x [B,T,D]
    const int64_t B = x.size(0), D = x.size(2), P = pos_.size(1);
    auto g = x.to(torch::kFloat64).gather(1, pos_.to(x.device()).unsqueeze(-1).expand({B, P, D}));  // [B,P,D]
    // Only the [B,D] means leave the model's device: the statistics read them on the host.
    out_[size_t(k.layer)] = (g * w_.to(x.device()).unsqueeze(-1)).sum(1).to(core::hostDevice(), torch::kFloat32);
  }
  const torch::Tensor& get(int l) const { return out_[size_t(l)]; }

 private:
  int layers_;
  torch::Tensor pos_, w_;  // [B,P] int64, [B,P] float64
  std::vector<torch::Tensor> out_;
};

struct Seq {
  std::size_t item;
  std::vector<int32_t> ids;
  int promptLen, contLen;
};

// States [N, D] per layer for the sequences, at the resolved position.
std::vector<Eigen::MatrixXf> captureStates(const core::LlamaModel& model, const std::vector<Seq>& seqs,
                                           TokenPosition position, int batchSize, const core::JobControl* job,
                                           std::size_t& forwards, const ItemShard* shard) {
  const int L = model.config().numLayers, D = model.config().hiddenSize;
  // data-parallel: this process's rows only, the others stay zero until the sum below
  const auto [first, last] = shard ? shard->range(seqs.size()) : std::pair<size_t, size_t>{0, seqs.size()};
  std::vector<Eigen::MatrixXf> states(size_t(L), Eigen::MatrixXf::Zero(Eigen::Index(seqs.size()), D));
  const size_t bs = size_t(std::max(1, batchSize));
  const size_t nb = (last - first + bs - 1) / bs;
  for (size_t b = 0; b < nb; ++b) {
    core::checkCancelled(job);
    const size_t lo = first + b * bs, hi = std::min(last, lo + bs);
    std::vector<const std::vector<int32_t>*> ptrs;
    int64_t P = 1;
    for (size_t i = lo; i < hi; ++i) {
      ptrs.push_back(&seqs[i].ids);
      if (position == TokenPosition::CompletionMean) P = std::max<int64_t>(P, seqs[i].contLen);
    }
    const int64_t B = int64_t(hi - lo);
    const auto host = torch::TensorOptions().device(core::hostDevice());
    auto pos = torch::zeros({B, P}, host.dtype(torch::kInt64));
    auto w = torch::zeros({B, P}, host.dtype(torch::kFloat64));
    for (int64_t r = 0; r < B; ++r) {
      const auto& s = seqs[lo + size_t(r)];
      if (position == TokenPosition::LastPrompt) {
        pos[r][0] = s.promptLen - 1, w[r][0] = 1.0;
      } else if (position == TokenPosition::FirstCompletion) {
        pos[r][0] = s.promptLen, w[r][0] = 1.0;
      } else {
        for (int64_t j = 0; j < P; ++j) {
          const bool ok = j < s.contLen;
          pos[r][j] = ok ? s.promptLen + j : s.promptLen;
          w[r][j] = ok ? 1.0 / s.contLen : 0.0;
        }
      }
    }
    auto pb = core::padRight(ptrs);
    PositionSink sink(L, pos, w);
    core::ForwardOptions fo;
    fo.computeLogits = false;
    model.forward({pb.ids, pb.mask, {}}, nullptr, &sink, fo);
    ++forwards;
    std::vector<torch::Tensor> finite;  // [L] one bool per layer
    for (int l = 0; l < L; ++l) finite.push_back(torch::isfinite(sink.get(l)).all());
    requireFiniteLayers(torch::stack(finite), "sensitivity");
    for (int l = 0; l < L; ++l) {
      auto t = sink.get(l).contiguous();
      Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> m(t.data_ptr<float>(), B, D);
      states[size_t(l)].middleRows(Eigen::Index(lo), B) = m;
    }
    core::reportProgress(job, {"sensitivity: hidden states", double(b + 1), double(nb)});
  }
  if (shard && shard->size > 1) {  // every row from the process that owns it (the others add zeros: exact)
    for (auto& s : states) {
      Eigen::MatrixXd d = s.cast<double>();
      shard->sumInPlace(d.data(), size_t(d.size()));
      s = d.cast<float>();
    }
    double f = double(forwards);
    shard->sumInPlace(&f, 1);
    forwards = std::size_t(f);
  }
  return states;
}

}  // namespace

std::string positionName(TokenPosition p) {
  switch (p) {
    case TokenPosition::Auto: return "auto";
    case TokenPosition::LastPrompt: return "last_prompt";
    case TokenPosition::CompletionMean: return "completion_mean";
    case TokenPosition::FirstCompletion: return "first_completion";
  }
  return "auto";
}

TokenPosition parsePosition(std::string_view name) {
  for (auto p : {TokenPosition::Auto, TokenPosition::LastPrompt, TokenPosition::CompletionMean, TokenPosition::FirstCompletion})
    if (positionName(p) == name) return p;
  throw InvalidArgument("unknown token position '" + std::string(name) +
                        "' (expected auto, last_prompt, completion_mean or first_completion)");
}

SensitivityAnalysis analyseSensitivity(const ModelTaskInputs& in, const SensitivityAnalysisParams& params,
                                       const core::JobControl* job) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto& task = *in.task;
  SensitivityAnalysis res;
  res.params = params;
  TokenPosition pos = params.position;
  if (pos == TokenPosition::Auto)
    pos = params.mode == SensitivityMode::Pairs ? TokenPosition::CompletionMean : TokenPosition::LastPrompt;
  if (params.mode == SensitivityMode::Pairs && pos == TokenPosition::LastPrompt)
    throw InvalidArgument("sensitivity: pairs mode compares two completions of the same prompt, so the last prompt "
                          "token is identical for both; use position completion_mean or first_completion");
  res.params.position = pos;
  if (params.metrics.empty()) throw InvalidArgument("sensitivity: no metric requested");
  const bool needCont = pos != TokenPosition::LastPrompt;

  std::vector<Seq> seqs;
  auto seqFor = [&](std::size_t i, std::size_t cont) {
    const auto& it = task.items[i];
    Seq s{i, it.prompt, int(it.prompt.size()), 0};
    if (needCont) {
      const auto& c = it.continuations[cont];
      s.ids.insert(s.ids.end(), c.begin(), c.end());
      s.contLen = int(c.size());
    }
    return s;
  };
  std::size_t nc = 0;
  if (params.mode == SensitivityMode::Outcome) {
    if (!in.eval || in.eval->items.size() != task.items.size())
      throw InvalidArgument("sensitivity: outcome mode needs the base evaluation of the task");
    for (int pass = 0; pass < 2; ++pass)
      for (std::size_t i = 0; i < task.items.size(); ++i)
        if (in.eval->items[i].correct == (pass == 0)) {
          seqs.push_back(seqFor(i, task.items[i].gold));
          res.items.push_back(i);
          nc += pass == 0;
        }
    const std::size_t ni = seqs.size() - nc;
    if (nc == 0 || ni == 0)
      throw InvalidArgument("sensitivity: task '" + task.source + "' has " + std::to_string(nc) + " correct and " +
                            std::to_string(ni) + " incorrect items: outcome mode needs both (no differential exists)");
  } else {
    if (task.kind == core::TaskKind::ShortAnswer)
      throw InvalidArgument("sensitivity: pairs mode needs a pairs or multiple-choice task, not short answer ('" +
                            task.source + "')");
    for (std::size_t i = 0; i < task.items.size(); ++i) {
      std::size_t wrong = 1;
      if (task.kind == core::TaskKind::MultipleChoice) {
        // the best-scoring wrong choice (LayerScope operationalisation of pairs on a multiple-choice task)
        const auto& ll = in.eval->items[i].loglik;
        wrong = task.items[i].gold == 0 ? 1 : 0;
        for (std::size_t c = 0; c < ll.size(); ++c)
          if (c != task.items[i].gold && ll[c] > ll[wrong]) wrong = c;
      }
      seqs.push_back(seqFor(i, task.items[i].gold));
      seqs.push_back(seqFor(i, wrong));
      res.items.push_back(i);
    }
  }
  std::vector<Eigen::MatrixXf> states;
  const int L = in.model->config().numLayers;
  if (params.mode == SensitivityMode::Outcome && pos == TokenPosition::LastPrompt &&
      in.eval->decisionStates.size() == size_t(L) && in.eval->decisionStates.front().size(0) == int64_t(task.items.size())) {
    // The base evaluation kept resid_post at every decision token (core::ScoringOptions::keepDecisionStates): the
    // prompt part of its rows is computed as a prompt-only row, so these are the states a pass of our own would give.
    std::vector<torch::Tensor> finite;
    for (const auto& t : in.eval->decisionStates) finite.push_back(torch::isfinite(t).all());
    requireFiniteLayers(torch::stack(finite), "sensitivity");
    std::vector<int64_t> rows;
    for (const auto& s : seqs) rows.push_back(int64_t(s.item));
    const auto idx = torch::tensor(rows, torch::kInt64);
    for (int l = 0; l < L; ++l) {
      const auto t = in.eval->decisionStates[size_t(l)].index_select(0, idx).to(torch::kFloat32).contiguous();
      states.push_back(Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          t.data_ptr<float>(), t.size(0), t.size(1)));
    }
    res.statesFromEvaluation = true;
  } else {
    states = captureStates(*in.model, seqs, pos, params.batchSize, job, res.forwardPasses, in.shard);
  }
  res.states.resize(states.size());
  for (std::size_t l = 0; l < states.size(); ++l) {
    if (params.mode == SensitivityMode::Outcome) {
      res.states[l].correct = states[l].topRows(Eigen::Index(nc));
      res.states[l].incorrect = states[l].bottomRows(Eigen::Index(seqs.size() - nc));
    } else {
      const Eigen::Index n = Eigen::Index(seqs.size() / 2);
      res.states[l].correct.resize(n, states[l].cols());
      res.states[l].incorrect.resize(n, states[l].cols());
      for (Eigen::Index j = 0; j < n; ++j) {
        res.states[l].correct.row(j) = states[l].row(2 * j);
        res.states[l].incorrect.row(j) = states[l].row(2 * j + 1);
      }
    }
  }
  for (auto m : params.metrics) {
    SensitivityParams sp = params.metric;
    sp.mode = params.mode;
    sp.metric = m;
    if (m == SensitivityMetric::Probe) sp.bootstrapResamples = params.probeBootstrap;
    core::reportProgress(job, {"sensitivity: " + metricName(m), 0, 1});
    res.profiles.emplace_back(m, sensitivityProfile(res.states, sp, job));
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace layerscope::analysis
