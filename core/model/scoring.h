// Task evaluation (docs/methods.md section 9), lm-evaluation-harness style: multiple choice by summed continuation
// log-likelihood (acc, acc_norm by UTF-8 bytes), short answer by greedy decoding to a stop string with
// normalised exact match, pairs by teacher-forced log-likelihood. Batched with right padding; progress and
// cancellation between batches. Also records the token layout (decision token, completion spans) that the
// layer analyses reuse, and accepts per-batch interventions so analyses can re-evaluate a manipulated model.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <torch/torch.h>

#include "core/data/dataset.h"
#include "core/base/job_control.h"
#include "core/model/model.h"
#include "core/text/tokenizer.h"

namespace layerscope::core {

/// Context and continuation tokens of one scoring request.
struct EncodedPair {
  std::vector<int32_t> context;       ///< tokens of the context (BOS included when the tokenizer adds one)
  std::vector<int32_t> continuation;  ///< tokens scored
};

/// lm-evaluation-harness `_encode_pair`: trailing whitespace of the context moves to the front of the
/// continuation; whole = encode(context + continuation), ctx = encode(context), both with the tokenizer's
/// special tokens (BOS per its config, never doubled: the tokenizer adds none when the text starts with one);
/// continuation = whole[len(ctx):]. Throws InvalidArgument if the continuation comes out empty.
EncodedPair encodePair(const Tokenizer& tok, std::string_view context, std::string_view continuation);

/// How a short answer is extracted from the generated text before the exact-match comparison.
enum class AnswerExtraction {
  None,        ///< the whole answer (default)
  LastNumber,  ///< the last number in the text (sign, digits, decimal point; thousands commas removed)
  Boxed,       ///< the content of the last \boxed{...} (falls back to the whole answer)
};
std::string answerExtractionName(AnswerExtraction e);
AnswerExtraction parseAnswerExtraction(std::string_view name);

/// Trims, collapses whitespace runs to one space and lowercases ASCII: the "normalised" of exact match.
std::string normaliseAnswer(std::string_view s);
/// Applies the extraction and then normaliseAnswer.
std::string extractAnswer(std::string_view generated, AnswerExtraction e);

/// Options of task evaluation.
struct ScoringOptions {
  int batchSize = 8;               ///< sequences per forward pass
  std::string stopString = "\n";  ///< short answer: decoding stops at the first occurrence (not part of the answer)
  int maxNewTokens = 32;           ///< short answer: greedy decoding steps at most
  AnswerExtraction extraction = AnswerExtraction::None;  ///< short answer
  /// Multiple choice and pairs: score all continuations of an item in one row that holds its prompt once
  /// (ForwardOptions::keyMask: each continuation reads the prompt and itself, at the positions of its own request).
  /// Equal to one row per (item, continuation), lm-evaluation-harness's layout, up to summation order, for
  /// (prompt + continuations) instead of continuations x (prompt + continuation) tokens. Used only where the
  /// interventions do not depend on the row layout (no hook, or evaluate() with fixed interventions that hold no
  /// state replacements and no per-row RoPE multipliers); `batchSize` then counts items.
  bool sharePrompt = true;
  /// Base evaluation only (no hook): keep resid_post of every layer at each item's decision position
  /// (EvalResult::decisionStates), the states the default sensitivity analysis compares, so it need not run the
  /// prompts again. The prompt part of every row is computed exactly as a prompt-only row (causal attention).
  bool keepDecisionStates = false;
  /// Base evaluation only (no hook), multiple choice and pairs: called before each forward with a [B,T] float64
  /// host mask that selects one computation of every item's prompt (the prompt tokens of one row per item, which
  /// causal attention computes exactly as a prompt-only row); the sink it returns (may be null) sees that forward
  /// beside the decision states. Short-answer evaluation does not call it. The analysis pipeline takes the
  /// redundancy cosines here (analysis::RedundancySums) instead of running the prompts again.
  std::function<std::shared_ptr<CaptureSink>(const torch::Tensor& promptMask)> promptSink = nullptr;
};

/// One item encoded for scoring and for the layer analyses.
struct PreparedItem {
  std::string id;
  std::vector<int32_t> prompt;                     ///< encode(prompt) with special tokens; request = prompt + continuation
  std::vector<std::vector<int32_t>> continuations; ///< MC: each choice; pairs: {correct, incorrect}; short: {target}
  std::vector<std::string> texts;                  ///< the continuation strings (choices / completions / target)
  std::size_t gold = 0;                            ///< index into continuations of the gold one
  int decisionPosition() const { return int(prompt.size()) - 1; }  ///< last prompt token
};

/// A task tokenized once, evaluated many times (base model, manipulations, drop plans).
struct PreparedTask {
  TaskKind kind = TaskKind::MultipleChoice;
  std::vector<PreparedItem> items;
  std::string name, source, fingerprint;
};

/// Tokenizes every item (encodePair per request). Throws InvalidArgument naming the item on an empty
/// continuation, DatasetError/TokenizerError from below.
PreparedTask prepareTask(const Tokenizer& tok, const Task& task);

/// Per-item result (items.jsonl in docs/results-format.md).
struct ItemResult {
  std::string id;
  std::string prediction;     ///< MC: chosen choice (acc); short: extracted answer; pairs: the higher completion
  std::string gold;           ///< MC: gold choice; short: target; pairs: the correct completion
  bool correct = false;       ///< MC: acc; short: normalised exact match; pairs: loglik(correct) > loglik(incorrect)
  bool correctNorm = false;   ///< MC: acc_norm; otherwise equals `correct`
  int predicted = -1;         ///< MC: argmax choice; pairs: 0 correct / 1 incorrect; short: -1
  int predictedNorm = -1;     ///< MC: argmax of loglik / bytes
  std::vector<double> loglik; ///< MC: per choice; pairs: {correct, incorrect}; short: empty
  std::string generated;      ///< short: the raw generated text up to the stop string
};

/// Result of one evaluation.
struct EvalResult {
  TaskKind kind = TaskKind::MultipleChoice;
  std::vector<ItemResult> items;
  double accuracy = 0;      ///< MC: acc; short: exact match; pairs: share of pairs preferring the correct one
  double accuracyNorm = 0;  ///< MC: acc_norm; otherwise = accuracy
  std::size_t correct = 0;  ///< items with `correct`
  std::size_t forwardPasses = 0;  ///< model forward calls (batches x decoding steps)
  bool sharedPrompt = false;      ///< rows held an item's prompt once with all its continuations (see sharePrompt)
  /// With ScoringOptions::keepDecisionStates: [L] tensors [N,D] float32 on the host, row i = resid_post[l] of item i
  /// at its decision position (the last prompt token). Empty otherwise.
  std::vector<torch::Tensor> decisionStates;
  double seconds = 0;
  ScoringOptions options;  ///< as given, without the promptSink
};

/// What an intervention hook sees of the batch about to be run.
struct BatchInfo {
  torch::Tensor inputIds;       ///< [B,T] int64, right padded
  torch::Tensor attentionMask;  ///< [B,T] int64
  std::vector<std::size_t> item;     ///< item index of each row
  std::vector<int> promptLength;     ///< context tokens of each row (decision token = promptLength - 1)
  std::vector<int> length;           ///< real tokens of each row
  std::size_t serial = 0;            ///< batch number; equal for every decoding step of one batch
  int step = 0;                      ///< decoding step (short answer), else 0
};

/// Builds the interventions of one variant for one batch. Called once per (batch, step, variant).
using InterventionHook = std::function<Interventions(const BatchInfo& batch, int variant)>;

/// Evaluates `variants` intervention variants (each a full evaluation; the hook gives variant v's
/// interventions per batch; no hook = base model) in one pass over batches. Cancelled through `job` between
/// batches; progress stage "eval". `model` runs under InferenceMode created here.
std::vector<EvalResult> evaluateVariants(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task,
                                         const ScoringOptions& opt, int variants, const InterventionHook& hook,
                                         const JobControl* job = nullptr);

/// Evaluates the base model (or one intervention variant). A hook may read the row layout, so rows then hold
/// one request each (no shared prompt).
EvalResult evaluate(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task,
                    const ScoringOptions& opt = {}, const JobControl* job = nullptr,
                    const InterventionHook& hook = {});

/// Evaluates with the same interventions on every batch (a detached adapter, dropped modules). Prompts are shared
/// (ScoringOptions::sharePrompt) unless `fixed` holds state replacements or per-row RoPE multipliers.
EvalResult evaluateFixed(const LlamaModel& model, const Tokenizer& tok, const PreparedTask& task,
                         const ScoringOptions& opt, const Interventions& fixed, const JobControl* job = nullptr);

/// Right-padded batch of token sequences: ids [B,T] int64 (padding id 0), mask [B,T] int64.
struct PaddedBatch {
  torch::Tensor ids, mask;
  std::vector<int> length;
};
PaddedBatch padRight(const std::vector<const std::vector<int32_t>*>& seqs);

}  // namespace layerscope::core
