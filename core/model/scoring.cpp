// Task evaluation (see scoring.h). Requests are sorted by length and batched with right padding; logits are
// computed only at the positions that predict continuation tokens (logitPositions), so a large vocabulary
// never materialises [B,T,V].
#include "core/model/scoring.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <numeric>

#include "core/base/error.h"

namespace layerscope::core {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string rstripped(std::string_view s, std::string* tail = nullptr) {
  size_t n = s.size();
  while (n > 0 && isSpace(s[n - 1])) --n;
  if (tail) *tail = std::string(s.substr(n));
  return std::string(s.substr(0, n));
}

constexpr EncodeOptions kEncode{.addSpecialTokens = true, .parseSpecialTokens = true};

}  // namespace

EncodedPair encodePair(const Tokenizer& tok, std::string_view context, std::string_view continuation) {
  std::string tail;
  std::string ctx = rstripped(context, &tail);
  std::string cont = tail + std::string(continuation);
  auto whole = tok.encode(ctx + cont, kEncode);
  EncodedPair p;
  p.context = tok.encode(ctx, kEncode);
  if (whole.size() <= p.context.size())
    throw InvalidArgument("scoring: continuation '" + std::string(continuation) + "' encodes to no tokens after its context");
  p.continuation.assign(whole.begin() + long(p.context.size()), whole.end());
  return p;
}

std::string answerExtractionName(AnswerExtraction e) {
  switch (e) {
    case AnswerExtraction::None: return "none";
    case AnswerExtraction::LastNumber: return "last_number";
    case AnswerExtraction::Boxed: return "boxed";
  }
  return "none";
}

AnswerExtraction parseAnswerExtraction(std::string_view name) {
  if (name == "none") return AnswerExtraction::None;
  if (name == "last_number") return AnswerExtraction::LastNumber;
  if (name == "boxed") return AnswerExtraction::Boxed;
  throw InvalidArgument("unknown answer extraction '" + std::string(name) + "' (expected none, last_number or boxed)");
}

std::string normaliseAnswer(std::string_view s) {
  std::string out;
  bool pendingSpace = false;
  for (char c : s) {
    if (isSpace(c)) {
      pendingSpace = !out.empty();
      continue;
    }
    if (pendingSpace) out += ' ';
    pendingSpace = false;
    out += char(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string extractAnswer(std::string_view text, AnswerExtraction e) {
  std::string s(text);
  if (e == AnswerExtraction::Boxed) {
    const size_t at = s.rfind("\\boxed{");
    if (at != std::string::npos) {
      size_t i = at + 7, depth = 1;
      std::string inner;
      for (; i < s.size(); ++i) {
        if (s[i] == '{') ++depth;
        if (s[i] == '}' && --depth == 0) break;
        inner += s[i];
      }
      if (depth == 0) s = inner;
    }
  } else if (e == AnswerExtraction::LastNumber) {
    std::string last, cur;
    for (size_t i = 0; i <= s.size(); ++i) {
      const char c = i < s.size() ? s[i] : '\0';
      const bool digit = std::isdigit(static_cast<unsigned char>(c)) != 0;
      if (digit || (c == '.' && !cur.empty()) || (c == ',' && !cur.empty()) ||
          (c == '-' && cur.empty() && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
        if (c != ',') cur += c;
      } else if (!cur.empty()) {
        while (!cur.empty() && cur.back() == '.') cur.pop_back();
        if (!cur.empty() && cur != "-") last = cur;
        cur.clear();
      }
    }
    if (!last.empty()) s = last;
  }
  return normaliseAnswer(s);
}

PreparedTask prepareTask(const Tokenizer& tok, const Task& task) {
  PreparedTask p;
  p.kind = task.kind();
  p.name = task.name;
  p.source = task.source;
  p.fingerprint = task.fingerprint;
  auto add = [&](const std::string& id, const std::string& prompt, const std::vector<std::string>& conts, size_t gold) {
    PreparedItem it;
    it.id = id;
    it.texts = conts;
    it.gold = gold;
    try {
      for (const auto& c : conts) {
        auto ep = encodePair(tok, prompt, c);
        if (it.prompt.empty()) it.prompt = ep.context;
        it.continuations.push_back(std::move(ep.continuation));
      }
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("task item '" + id + "': " + e.what());
    }
    p.items.push_back(std::move(it));
  };
  switch (p.kind) {
    case TaskKind::MultipleChoice:
      for (const auto& it : task.mc()) add(it.id, it.prompt, it.choices, it.answer);
      break;
    case TaskKind::ShortAnswer:
      for (const auto& it : task.shortAnswer()) add(it.id, it.prompt, {it.target}, 0);
      break;
    case TaskKind::Pairs:
      for (const auto& it : task.pairs()) add(it.id, it.prompt, {it.correct, it.incorrect}, 0);
      break;
  }
  return p;
}

PaddedBatch padRight(const std::vector<const std::vector<int32_t>*>& seqs) {
  PaddedBatch b;
  int64_t T = 0;
  for (auto* s : seqs) T = std::max<int64_t>(T, int64_t(s->size()));
  const int64_t B = int64_t(seqs.size());
  // Batches are built on the host; the forward moves them to the model's device.
  const auto host = torch::TensorOptions().dtype(torch::kInt64).device(hostDevice());
  b.ids = torch::zeros({B, T}, host);
  b.mask = torch::zeros({B, T}, host);
  auto ids = b.ids.accessor<int64_t, 2>();
  auto mask = b.mask.accessor<int64_t, 2>();
  for (int64_t r = 0; r < B; ++r) {
    const auto& s = *seqs[size_t(r)];
    for (size_t t = 0; t < s.size(); ++t) ids[r][int64_t(t)] = s[t], mask[r][int64_t(t)] = 1;
    b.length.push_back(int(s.size()));
  }
  return b;
}

namespace {

using Clock = std::chrono::steady_clock;

// ScoringOptions::keepDecisionStates: resid_post of every layer at each row's decision token, stored by item.
class DecisionStates {
 public:
  DecisionStates(const LlamaModel& model, std::size_t items, bool keep) : layers_(model.config().numLayers) {
    if (!keep) return;
    for (int l = 0; l < layers_; ++l)
      states_.push_back(torch::zeros({int64_t(items), model.config().hiddenSize}, torch::TensorOptions().device(hostDevice())));
  }
  bool active() const { return !states_.empty(); }
  /// A sink for one forward whose row r holds item items[r] with its decision token at promptLength[r] - 1.
  TensorCapture sink(const std::vector<int>& promptLength) const {
    TensorCapture cap;
    cap.requestAllLayers(Site::ResidPost, layers_).storeAs(torch::kFloat32);
    cap.keepPositions(torch::tensor(std::vector<int64_t>(promptLength.begin(), promptLength.end()), torch::kInt64) - 1);
    return cap;
  }
  void store(const TensorCapture& cap, const std::vector<std::size_t>& items) {
    auto idx = torch::tensor(std::vector<int64_t>(items.begin(), items.end()), torch::kInt64);
    for (int l = 0; l < layers_; ++l) states_[size_t(l)].index_copy_(0, idx, cap.get(l, Site::ResidPost));
  }
  std::vector<torch::Tensor> take() { return std::move(states_); }

 private:
  int layers_;
  std::vector<torch::Tensor> states_;
};

// The sinks of one scoring forward: the decision states and ScoringOptions::promptSink (base model only, its first
// variant), either, both or none.
class BaseSinks {
 public:
  template <class MakeMask>
  BaseSinks(DecisionStates& states, const ScoringOptions& opt, const InterventionHook& hook, int variant,
            const std::vector<int>& promptLength, MakeMask&& promptMask)
      : states_(states), keep_(states.active()) {  // active only for the base model (no hook)
    if (keep_) cap_ = states.sink(promptLength);
    if (!hook && variant == 0 && opt.promptSink) prompt_ = opt.promptSink(promptMask());
    tee_ = CaptureTee(keep_ ? &cap_ : nullptr, prompt_.get());
  }
  CaptureSink* get() { return tee_.empty() ? nullptr : &tee_; }
  void store(const std::vector<std::size_t>& items) {
    if (keep_) states_.store(cap_, items);
  }

 private:
  DecisionStates& states_;
  bool keep_;
  TensorCapture cap_;
  std::shared_ptr<CaptureSink> prompt_;
  CaptureTee tee_{nullptr, nullptr};
};

// Log-likelihood scoring of (item, continuation) requests, every variant per batch.
void scoreRequests(const LlamaModel& model, const PreparedTask& task, const ScoringOptions& opt, int variants,
                   const InterventionHook& hook, const JobControl* job,
                   std::vector<std::vector<std::vector<double>>>& loglik,  // [variant][item][cont]
                   std::size_t& forwards, DecisionStates& states) {
  struct Req { size_t item, cont; std::vector<int32_t> seq; };
  std::vector<Req> reqs;
  for (size_t i = 0; i < task.items.size(); ++i)
    for (size_t c = 0; c < task.items[i].continuations.size(); ++c) {
      Req r{i, c, task.items[i].prompt};
      const auto& cont = task.items[i].continuations[c];
      r.seq.insert(r.seq.end(), cont.begin(), cont.end());
      reqs.push_back(std::move(r));
    }
  std::stable_sort(reqs.begin(), reqs.end(), [](const Req& a, const Req& b) { return a.seq.size() > b.seq.size(); });
  for (auto& v : loglik) {
    v.assign(task.items.size(), {});
    for (size_t i = 0; i < task.items.size(); ++i) v[i].assign(task.items[i].continuations.size(), 0.0);
  }
  const size_t bs = size_t(std::max(1, opt.batchSize));
  const size_t nBatches = (reqs.size() + bs - 1) / bs;
  for (size_t b = 0; b < nBatches; ++b) {
    checkCancelled(job);
    const size_t lo = b * bs, hi = std::min(reqs.size(), lo + bs);
    std::vector<const std::vector<int32_t>*> seqs;
    BatchInfo info;
    for (size_t r = lo; r < hi; ++r) {
      seqs.push_back(&reqs[r].seq);
      info.item.push_back(reqs[r].item);
      info.promptLength.push_back(int(task.items[reqs[r].item].prompt.size()));
    }
    auto pb = padRight(seqs);
    info.inputIds = pb.ids, info.attentionMask = pb.mask, info.length = pb.length, info.serial = b;
    const int64_t B = int64_t(seqs.size());
    int64_t P = 0;
    for (size_t r = lo; r < hi; ++r) P = std::max<int64_t>(P, int64_t(task.items[reqs[r].item].continuations[reqs[r].cont].size()));
    const auto host = torch::TensorOptions().device(hostDevice());
    auto positions = torch::zeros({B, P}, host.dtype(torch::kInt64));
    auto targets = torch::zeros({B, P}, host.dtype(torch::kInt64));
    auto valid = torch::zeros({B, P}, host.dtype(torch::kFloat64));
    {
      auto pa = positions.accessor<int64_t, 2>();
      auto ta = targets.accessor<int64_t, 2>();
      auto va = valid.accessor<double, 2>();
      for (int64_t r = 0; r < B; ++r) {
        const auto& req = reqs[lo + size_t(r)];
        const auto& cont = task.items[req.item].continuations[req.cont];
        const int64_t pl = int64_t(task.items[req.item].prompt.size());
        for (int64_t j = 0; j < P; ++j) {
          const bool ok = j < int64_t(cont.size());
          pa[r][j] = ok ? pl - 1 + j : int64_t(req.seq.size()) - 1;
          ta[r][j] = ok ? cont[size_t(j)] : 0;
          va[r][j] = ok ? 1.0 : 0.0;
        }
      }
    }
    for (int v = 0; v < variants; ++v) {
      Interventions iv;
      if (hook) iv = hook(info, v);
      ForwardOptions fo;
      fo.logitPositions = positions;
      // decision states from every row (an item's rows agree on them up to summation order; the last one stays);
      // the prompt sink sees the prompt of each item's first continuation's row
      BaseSinks sinks(states, opt, hook, v, info.promptLength, [&] {
        auto m = torch::zeros({B, pb.ids.size(1)}, host.dtype(torch::kFloat64));
        for (int64_t r = 0; r < B; ++r)
          if (reqs[lo + size_t(r)].cont == 0) m[r].narrow(0, 0, info.promptLength[size_t(r)]).fill_(1.0);
        return m;
      });
      auto out = model.forward({pb.ids, pb.mask, {}}, hook ? &iv : nullptr, sinks.get(), fo);
      sinks.store(info.item);
      ++forwards;
      const auto dev = out.logits.device();
      auto lp = torch::log_softmax(out.logits.to(torch::kFloat64), -1).gather(2, targets.to(dev).unsqueeze(-1)).squeeze(-1);  // [B,P]
      auto sums = (lp * valid.to(dev)).sum(1).to(hostDevice());  // [B] host copy for the loop below
      auto sa = sums.accessor<double, 1>();
      for (int64_t r = 0; r < B; ++r) loglik[size_t(v)][reqs[lo + size_t(r)].item][reqs[lo + size_t(r)].cont] = sa[r];
    }
    reportProgress(job, {"eval", double(b + 1), double(nBatches)});
  }
}

// Log-likelihood scoring with shared prompts (ScoringOptions::sharePrompt): one row per item holding its prompt
// once and then every continuation; continuation c's tokens read the prompt and c's earlier tokens (key mask) at
// positions prompt.size() + j, exactly the keys and positions of c's own request, so each log-likelihood equals the
// one-row-per-request value up to summation order.
void scorePacked(const LlamaModel& model, const PreparedTask& task, const ScoringOptions& opt, int variants,
                 const InterventionHook& hook, const JobControl* job,
                 std::vector<std::vector<std::vector<double>>>& loglik,  // [variant][item][cont]
                 std::size_t& forwards, DecisionStates& states) {
  auto packedLength = [&](size_t i) {
    size_t n = task.items[i].prompt.size();
    for (const auto& c : task.items[i].continuations) n += c.size();
    return n;
  };
  std::vector<size_t> order(task.items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return packedLength(a) > packedLength(b); });
  for (auto& v : loglik) {
    v.assign(task.items.size(), {});
    for (size_t i = 0; i < task.items.size(); ++i) v[i].assign(task.items[i].continuations.size(), 0.0);
  }
  const auto host = torch::TensorOptions().device(hostDevice());
  const size_t bs = size_t(std::max(1, opt.batchSize));
  const size_t nBatches = (order.size() + bs - 1) / bs;
  for (size_t b = 0; b < nBatches; ++b) {
    checkCancelled(job);
    const size_t lo = b * bs, hi = std::min(order.size(), lo + bs);
    const int64_t B = int64_t(hi - lo);
    int64_t T = 0, Q = 0;  // packed tokens, scored tokens
    for (size_t r = lo; r < hi; ++r) {
      T = std::max<int64_t>(T, int64_t(packedLength(order[r])));
      Q = std::max<int64_t>(Q, int64_t(packedLength(order[r]) - task.items[order[r]].prompt.size()));
    }
    auto ids = torch::zeros({B, T}, host.dtype(torch::kInt64)), mask = torch::zeros({B, T}, host.dtype(torch::kInt64));
    auto pos = torch::zeros({B, T}, host.dtype(torch::kInt64));
    auto seg = torch::zeros({B, T}, host.dtype(torch::kInt64));  // 0 prompt (and padding), c + 1 continuation c
    auto lpos = torch::zeros({B, Q}, host.dtype(torch::kInt64)), targets = torch::zeros({B, Q}, host.dtype(torch::kInt64));
    std::vector<std::vector<int>> contOf(size_t(B), std::vector<int>(size_t(Q), -1));  // continuation of each scored token
    BatchInfo info;
    {
      auto ia = ids.accessor<int64_t, 2>(), ma = mask.accessor<int64_t, 2>(), pa = pos.accessor<int64_t, 2>();
      auto sa = seg.accessor<int64_t, 2>(), la = lpos.accessor<int64_t, 2>(), ta = targets.accessor<int64_t, 2>();
      for (int64_t r = 0; r < B; ++r) {
        const auto& it = task.items[order[lo + size_t(r)]];
        const int64_t P = int64_t(it.prompt.size());
        int64_t t = 0, q = 0;
        for (; t < P; ++t) ia[r][t] = it.prompt[size_t(t)], ma[r][t] = 1, pa[r][t] = t;
        for (size_t c = 0; c < it.continuations.size(); ++c) {
          const auto& cont = it.continuations[c];
          for (size_t j = 0; j < cont.size(); ++j, ++t, ++q) {
            ia[r][t] = cont[j], ma[r][t] = 1, pa[r][t] = P + int64_t(j), sa[r][t] = int64_t(c) + 1;
            la[r][q] = j == 0 ? P - 1 : t - 1;  // the token before cont[j] in c's own request
            ta[r][q] = cont[j];
            contOf[size_t(r)][size_t(q)] = int(c);
          }
        }
        info.item.push_back(order[lo + size_t(r)]);
        info.promptLength.push_back(int(P));
        info.length.push_back(int(t));
      }
    }
    // query t reads key s when s is prompt or in t's own continuation (causality and padding come from the forward)
    const auto segQ = seg.view({B, T, 1}), segK = seg.view({B, 1, T});
    const torch::Tensor keyMask = segK.eq(0) | segK.eq(segQ);  // [B,T,T]
    info.inputIds = ids, info.attentionMask = mask, info.serial = b;
    for (int v = 0; v < variants; ++v) {
      Interventions iv;
      if (hook) iv = hook(info, v);
      ForwardOptions fo;
      fo.logitPositions = lpos;
      fo.keyMask = keyMask;
      BaseSinks sinks(states, opt, hook, v, info.promptLength,
                      [&] { return (seg.eq(0) & mask.eq(1)).to(torch::kFloat64); });  // every row's prompt
      auto out = model.forward({ids, mask, pos}, hook ? &iv : nullptr, sinks.get(), fo);
      sinks.store(info.item);
      ++forwards;
      auto lp = torch::log_softmax(out.logits.to(torch::kFloat64), -1)
                    .gather(2, targets.to(out.logits.device()).unsqueeze(-1))
                    .squeeze(-1)
                    .to(hostDevice());  // [B,Q] host copy
      auto a = lp.accessor<double, 2>();
      for (int64_t r = 0; r < B; ++r) {
        auto& dst = loglik[size_t(v)][order[lo + size_t(r)]];
        for (int64_t q = 0; q < Q; ++q)
          if (const int c = contOf[size_t(r)][size_t(q)]; c >= 0) dst[size_t(c)] += a[r][q];
      }
    }
    reportProgress(job, {"eval", double(b + 1), double(nBatches)});
  }
}

// Greedy decoding of short-answer items; fills generated text per variant and item.
void generate(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task, const ScoringOptions& opt,
              int variants, const InterventionHook& hook, const JobControl* job,
              std::vector<std::vector<std::string>>& generated, std::size_t& forwards, DecisionStates& states) {
  std::vector<size_t> order(task.items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return task.items[a].prompt.size() > task.items[b].prompt.size(); });
  for (auto& g : generated) g.assign(task.items.size(), {});
  const auto eos = tok.eosId();
  const size_t bs = size_t(std::max(1, opt.batchSize));
  const size_t nBatches = (order.size() + bs - 1) / bs;
  for (size_t b = 0; b < nBatches; ++b) {
    const size_t lo = b * bs, hi = std::min(order.size(), lo + bs);
    for (int v = 0; v < variants; ++v) {
      std::vector<std::vector<int32_t>> seqs, gen(hi - lo);
      std::vector<bool> done(hi - lo, false);
      for (size_t r = lo; r < hi; ++r) seqs.push_back(task.items[order[r]].prompt);
      for (int step = 0; step < opt.maxNewTokens; ++step) {
        checkCancelled(job);
        std::vector<const std::vector<int32_t>*> ptrs;
        for (auto& s : seqs) ptrs.push_back(&s);
        auto pb = padRight(ptrs);
        BatchInfo info;
        info.inputIds = pb.ids, info.attentionMask = pb.mask, info.length = pb.length, info.serial = b, info.step = step;
        for (size_t r = lo; r < hi; ++r) {
          info.item.push_back(order[r]);
          info.promptLength.push_back(int(task.items[order[r]].prompt.size()));
        }
        Interventions iv;
        if (hook) iv = hook(info, v);
        auto last = torch::tensor(std::vector<int64_t>(pb.length.begin(), pb.length.end()),
                                  torch::TensorOptions().dtype(torch::kInt64).device(hostDevice())) - 1;
        ForwardOptions fo;
        fo.logitPositions = last;
        const bool keep = states.active() && !hook && step == 0;  // step 0: the prompts alone
        TensorCapture cap = keep ? states.sink(info.promptLength) : TensorCapture();
        auto out = model.forward({pb.ids, pb.mask, {}}, hook ? &iv : nullptr, keep ? &cap : nullptr, fo);
        if (keep) states.store(cap, info.item);
        ++forwards;
        // ids past the tokenizer's vocabulary (padded embedding rows) can never be decoded
        const int64_t V = std::min<int64_t>(out.logits.size(-1), tok.vocabSize());
        auto next = out.logits.narrow(-1, 0, V).argmax(-1).to(hostDevice());  // [B] host copy
        auto na = next.accessor<int64_t, 1>();
        bool all = true;
        for (size_t r = 0; r < seqs.size(); ++r) {
          if (done[r]) continue;
          const int32_t id = int32_t(na[int64_t(r)]);
          if (eos && id == *eos) {
            done[r] = true;
            continue;
          }
          gen[r].push_back(id);
          seqs[r].push_back(id);
          if (!opt.stopString.empty() && tok.decode(gen[r], true).find(opt.stopString) != std::string::npos) done[r] = true;
          all = all && done[r];
        }
        if (all) break;
      }
      for (size_t r = 0; r < gen.size(); ++r) {
        std::string text = tok.decode(gen[r], true);
        if (!opt.stopString.empty()) {
          const size_t at = text.find(opt.stopString);
          if (at != std::string::npos) text.resize(at);
        }
        generated[size_t(v)][order[lo + r]] = text;
      }
    }
    reportProgress(job, {"eval", double(b + 1), double(nBatches)});
  }
}

}  // namespace

namespace {

// `layoutFree`: the hook's interventions do not depend on how requests are laid out in rows.
std::vector<EvalResult> evaluateImpl(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task,
                                     const ScoringOptions& opt, int variants, const InterventionHook& hook,
                                     bool layoutFree, const JobControl* job) {
  if (variants < 1) throw InvalidArgument("evaluate: variants must be >= 1");
  if (opt.batchSize < 1) throw InvalidArgument("evaluate: batch size must be >= 1, got " + std::to_string(opt.batchSize));
  if (task.items.empty()) throw InvalidArgument("evaluate: task '" + task.name + "' has no items");
  c10::InferenceMode guard;
  const auto t0 = Clock::now();
  std::vector<EvalResult> res(static_cast<size_t>(variants));
  std::size_t forwards = 0;
  bool shared = false;
  DecisionStates states(model, task.items.size(), opt.keepDecisionStates && !hook);
  if (task.kind == TaskKind::ShortAnswer) {
    std::vector<std::vector<std::string>> gen(static_cast<size_t>(variants));
    generate(model, tok, task, opt, variants, hook, job, gen, forwards, states);
    for (int v = 0; v < variants; ++v)
      for (size_t i = 0; i < task.items.size(); ++i) {
        const auto& it = task.items[i];
        ItemResult r;
        r.id = it.id;
        r.generated = gen[size_t(v)][i];
        r.prediction = extractAnswer(r.generated, opt.extraction);
        r.gold = it.texts[0];
        r.correct = r.correctNorm = r.prediction == extractAnswer(it.texts[0], opt.extraction);
        res[size_t(v)].items.push_back(std::move(r));
      }
  } else {
    std::vector<std::vector<std::vector<double>>> ll(static_cast<size_t>(variants));
    shared = opt.sharePrompt && layoutFree;
    if (shared) scorePacked(model, task, opt, variants, hook, job, ll, forwards, states);
    else scoreRequests(model, task, opt, variants, hook, job, ll, forwards, states);
    for (int v = 0; v < variants; ++v)
      for (size_t i = 0; i < task.items.size(); ++i) {
        const auto& it = task.items[i];
        ItemResult r;
        r.id = it.id;
        r.loglik = ll[size_t(v)][i];
        // argmax, first maximum on ties (numpy / lm-eval-harness)
        int best = 0, bestNorm = 0;
        for (size_t c = 1; c < r.loglik.size(); ++c) {
          if (r.loglik[c] > r.loglik[size_t(best)]) best = int(c);
          // acc_norm divides by the UTF-8 byte length of the choice string (docs/methods.md section 9)
          if (r.loglik[c] / double(it.texts[c].size()) > r.loglik[size_t(bestNorm)] / double(it.texts[size_t(bestNorm)].size()))
            bestNorm = int(c);
        }
        r.predicted = best;
        r.predictedNorm = task.kind == TaskKind::MultipleChoice ? bestNorm : best;
        r.prediction = it.texts[size_t(best)];
        r.gold = it.texts[it.gold];
        r.correct = task.kind == TaskKind::Pairs ? r.loglik[0] > r.loglik[1] : size_t(best) == it.gold;
        r.correctNorm = task.kind == TaskKind::Pairs ? r.correct : size_t(r.predictedNorm) == it.gold;
        res[size_t(v)].items.push_back(std::move(r));
      }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& r : res) {
    r.kind = task.kind;
    r.options = opt;
    r.options.promptSink = nullptr;  // this evaluation's consumer: later evaluations with these options must not feed it
    r.forwardPasses = forwards;
    r.sharedPrompt = shared;
    if (&r == &res.front()) r.decisionStates = states.take();
    r.seconds = secs;
    size_t nc = 0, nn = 0;
    for (const auto& it : r.items) nc += it.correct, nn += it.correctNorm;
    r.correct = nc;
    r.accuracy = double(nc) / double(r.items.size());
    r.accuracyNorm = double(nn) / double(r.items.size());
  }
  return res;
}

}  // namespace

std::vector<EvalResult> evaluateVariants(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task,
                                         const ScoringOptions& opt, int variants, const InterventionHook& hook,
                                         const JobControl* job) {
  return evaluateImpl(model, tok, task, opt, variants, hook, !hook, job);
}

EvalResult evaluate(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task, const ScoringOptions& opt,
                    const JobControl* job, const InterventionHook& hook) {
  return std::move(evaluateImpl(model, tok, task, opt, 1, hook, !hook, job).front());
}

EvalResult evaluateFixed(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task,
                         const ScoringOptions& opt, const Interventions& fixed, const JobControl* job) {
  bool layoutFree = fixed.replacements.empty();
  for (const auto& a : fixed.ropeAlpha) layoutFree = layoutFree && !(a.defined() && a.dim() == 2);
  return std::move(evaluateImpl(model, tok, task, opt, 1, [&fixed](const BatchInfo&, int) { return fixed; },
                                layoutFree, job).front());
}

}  // namespace layerscope::core
