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

// Log-likelihood scoring of (item, continuation) requests, every variant per batch.
void scoreRequests(const LlamaModel& model, const PreparedTask& task, const ScoringOptions& opt, int variants,
                   const InterventionHook& hook, const JobControl* job,
                   std::vector<std::vector<std::vector<double>>>& loglik,  // [variant][item][cont]
                   std::size_t& forwards) {
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
      auto out = model.forward({pb.ids, pb.mask, {}}, hook ? &iv : nullptr, nullptr, fo);
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

// Greedy decoding of short-answer items; fills generated text per variant and item.
void generate(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task, const ScoringOptions& opt,
              int variants, const InterventionHook& hook, const JobControl* job,
              std::vector<std::vector<std::string>>& generated, std::size_t& forwards) {
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
        auto out = model.forward({pb.ids, pb.mask, {}}, hook ? &iv : nullptr, nullptr, fo);
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

std::vector<EvalResult> evaluateVariants(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task,
                                         const ScoringOptions& opt, int variants, const InterventionHook& hook,
                                         const JobControl* job) {
  if (variants < 1) throw InvalidArgument("evaluate: variants must be >= 1");
  if (opt.batchSize < 1) throw InvalidArgument("evaluate: batch size must be >= 1, got " + std::to_string(opt.batchSize));
  if (task.items.empty()) throw InvalidArgument("evaluate: task '" + task.name + "' has no items");
  c10::InferenceMode guard;
  const auto t0 = Clock::now();
  std::vector<EvalResult> res(static_cast<size_t>(variants));
  std::size_t forwards = 0;
  if (task.kind == TaskKind::ShortAnswer) {
    std::vector<std::vector<std::string>> gen(static_cast<size_t>(variants));
    generate(model, tok, task, opt, variants, hook, job, gen, forwards);
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
    scoreRequests(model, task, opt, variants, hook, job, ll, forwards);
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
    r.forwardPasses = forwards;
    r.seconds = secs;
    size_t nc = 0, nn = 0;
    for (const auto& it : r.items) nc += it.correct, nn += it.correctNorm;
    r.correct = nc;
    r.accuracy = double(nc) / double(r.items.size());
    r.accuracyNorm = double(nn) / double(r.items.size());
  }
  return res;
}

EvalResult evaluate(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task, const ScoringOptions& opt,
                    const JobControl* job, const InterventionHook& hook) {
  return std::move(evaluateVariants(model, tok, task, opt, 1, hook, job).front());
}

}  // namespace layerscope::core
