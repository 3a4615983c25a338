// Greedy generation with stop sequences (see generation.h). Without a KV cache each step runs the whole batch
// again (as scoring.cpp's short-answer decoding does): O(T^2) per prompt, fine for the short code completions
// of HumanEval on the models LayerScope targets on CPU; batches are sorted by prompt length to limit padding.
#include "core/model/generation.h"

#include <algorithm>
#include <numeric>

#include "core/base/error.h"
#include "core/model/runtime.h"
#include "core/model/scoring.h"

namespace layerscope::core {

std::vector<std::string> humanEvalStopSequences() { return {"\ndef ", "\nclass ", "\nif ", "\nprint", "\n#"}; }

std::pair<std::size_t, int> findEarliestStop(const std::string& text, const std::vector<std::string>& stops) {
  std::size_t best = std::string::npos;
  int which = -1;
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) continue;
    const size_t at = text.find(stops[i]);
    if (at < best) best = at, which = int(i);
  }
  return {best, which};
}

std::vector<Generation> generateGreedy(const LlamaModel& model, const Tokenizer& tok, const std::vector<std::string>& prompts,
                                       const GenerationOptions& opt, const Interventions* iv, const JobControl* job) {
  if (opt.maxNewTokens < 1) throw InvalidArgument("generation: max new tokens must be >= 1, got " + std::to_string(opt.maxNewTokens));
  c10::InferenceMode guard;
  std::vector<std::vector<int32_t>> encoded;
  std::vector<int> budget;  // new tokens allowed per prompt: the limit, or what is left of the context
  const int context = model.config().maxPositionEmbeddings;
  for (size_t i = 0; i < prompts.size(); ++i) {
    encoded.push_back(tok.encode(prompts[i], {.addSpecialTokens = true}));
    const int n = int(encoded.back().size());
    if (n == 0) throw InvalidArgument("generation: prompt " + std::to_string(i) + " encodes to no tokens");
    if (context > 0 && n >= context)
      throw InvalidArgument("generation: prompt " + std::to_string(i) + " has " + std::to_string(n) +
                            " tokens, which fills the model's context of " + std::to_string(context) + " (nothing left to generate)");
    budget.push_back(context > 0 ? std::min(opt.maxNewTokens, context - n) : opt.maxNewTokens);
  }
  std::vector<size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return encoded[a].size() > encoded[b].size(); });
  std::vector<Generation> out(prompts.size());
  const auto eos = tok.eosId();
  const size_t bs = size_t(std::max(1, opt.batchSize));
  size_t finished = 0;
  for (size_t lo = 0; lo < order.size(); lo += bs) {
    const size_t hi = std::min(order.size(), lo + bs);
    std::vector<std::vector<int32_t>> seqs, gen(hi - lo);
    std::vector<bool> done(hi - lo, false);
    for (size_t r = lo; r < hi; ++r) seqs.push_back(encoded[order[r]]);
    for (int step = 0; step < opt.maxNewTokens; ++step) {
      checkCancelled(job);
      std::vector<const std::vector<int32_t>*> ptrs;
      for (auto& s : seqs) ptrs.push_back(&s);
      auto pb = padRight(ptrs);
      ForwardOptions fo;
      fo.logitPositions = torch::tensor(std::vector<int64_t>(pb.length.begin(), pb.length.end()),
                                        torch::TensorOptions().dtype(torch::kInt64).device(hostDevice())) - 1;
      auto fwd = model.forward({pb.ids, pb.mask, {}}, iv, nullptr, fo);
      // ids past the tokenizer's vocabulary (padded embedding rows) can never be decoded
      const int64_t V = std::min<int64_t>(fwd.logits.size(-1), tok.vocabSize());
      auto next = fwd.logits.narrow(-1, 0, V).argmax(-1).to(hostDevice());  // [B] host copy
      auto na = next.accessor<int64_t, 1>();
      bool all = true;
      for (size_t r = 0; r < seqs.size(); ++r) {
        if (done[r]) continue;
        Generation& g = out[order[lo + r]];
        const int32_t id = int32_t(na[int64_t(r)]);
        if (eos && id == *eos) {
          done[r] = true, g.stop = "<eos>";
          continue;
        }
        gen[r].push_back(id);
        seqs[r].push_back(id);
        if (const auto [at, which] = findEarliestStop(tok.decode(gen[r], true), opt.stopSequences); which >= 0)
          done[r] = true, g.stop = opt.stopSequences[size_t(which)];
        else if (int(gen[r].size()) >= budget[order[lo + r]])
          done[r] = true, g.stop = budget[order[lo + r]] < opt.maxNewTokens ? "context" : "max_tokens";
        all = all && done[r];
      }
      if (all) break;
    }
    for (size_t r = 0; r < gen.size(); ++r) {
      Generation& g = out[order[lo + r]];
      g.tokens = int(gen[r].size());
      g.text = tok.decode(gen[r], true);
      if (const auto [at, which] = findEarliestStop(g.text, opt.stopSequences); which >= 0) g.text.resize(at);
      if (g.stop.empty()) g.stop = "max_tokens";  // not reached: every row ends by a stop, eos or its budget
    }
    finished = hi;
    reportProgress(job, {"generate", double(finished), double(order.size())});
  }
  return out;
}

}  // namespace layerscope::core
