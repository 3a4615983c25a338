// Greedy code generation with stop sequences (HumanEval's protocol, docs/reproduce.md): each prompt is continued
// token by token (argmax, batched with right padding, no sampling) until a stop sequence appears in the decoded
// continuation, the end-of-sequence token, or the token limit. The continuation is cut before the earliest stop.
#pragma once

#include <string>
#include <vector>

#include "core/base/job_control.h"
#include "core/model/model.h"
#include "core/text/tokenizer.h"

namespace layerscope::core {

/// HumanEval's stop sequences (Chen et al. 2021; EvalPlus and bigcode-evaluation-harness use the same five).
std::vector<std::string> humanEvalStopSequences();

struct GenerationOptions {
  std::vector<std::string> stopSequences = humanEvalStopSequences();  ///< cut before the earliest one
  int maxNewTokens = 512;  ///< tokens generated at most per prompt
  int batchSize = 4;       ///< prompts per forward pass
};

/// One continuation.
struct Generation {
  std::string text;         ///< decoded continuation, cut before the stop sequence
  int tokens = 0;           ///< tokens generated (the stop sequence's included)
  std::string stop;         ///< the stop sequence found, "<eos>", "max_tokens", or "context" (the model's context was full)
};

/// Greedy continuations of `prompts` (encoded with the tokenizer's special tokens). `iv`: interventions applied
/// to every forward (e.g. a detached adapter), may be null. Runs under InferenceMode created here; checks `job`
/// before every forward; progress stage "generate" in prompts done. A prompt gets at most what is left of the model's
/// context (max_position_embeddings, when the config gives one): then its stop is "context". Throws InvalidArgument
/// when a prompt alone fills the context.
std::vector<Generation> generateGreedy(const LlamaModel& model, const Tokenizer& tok, const std::vector<std::string>& prompts,
                                       const GenerationOptions& opt = {}, const Interventions* iv = nullptr,
                                       const JobControl* job = nullptr);

/// The earliest occurrence of any of `stops` in `text`: {position, index into stops}, or {npos, -1}.
std::pair<std::size_t, int> findEarliestStop(const std::string& text, const std::vector<std::string>& stops);

}  // namespace layerscope::core
