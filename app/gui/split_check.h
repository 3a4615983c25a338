// Outcome-mode sensitivity compares the states of correctly and incorrectly answered items, so a task the model
// answers all right (or all wrong) has nothing to compare. Before an analysis the GUI evaluates a spread sample
// of the task's items, stopping as soon as both outcomes have appeared (one batch on a usable task), and
// refuses a one-sided task at once, with a message in the GUI's words that offers pairs mode, instead of after
// the full evaluation pass with the pipeline's command-line wording.
#pragma once

#include <QString>
#include <vector>

namespace layerscope::core {
class JobControl;
class LlamaModel;
class Tokenizer;
struct PreparedTask;
struct ScoringOptions;
}  // namespace layerscope::core

namespace layerscope::app {

struct SplitCheck {
  int total = 0;    ///< items in the task
  int checked = 0;  ///< items evaluated
  int correct = 0, incorrect = 0;
  bool bothOutcomes() const { return correct > 0 && incorrect > 0; }
};

/// The items to check, in order: an even spread over the task (first, middle, ...), `maxItems` at most.
std::vector<int> splitSampleOrder(int total, int maxItems);

/// Evaluates the items of splitSampleOrder(total, maxItems) batch by batch (opt.batchSize items each) and
/// stops after the first batch that leaves both outcomes seen. Throws Cancelled through `job`.
SplitCheck checkOutcomeSplit(const core::LlamaModel& model, const core::Tokenizer& tok, const core::PreparedTask& task,
                             const core::ScoringOptions& opt, int maxItems, const core::JobControl* job = nullptr);

/// The GUI's explanation of a one-sided task (`check` from the sample, or the full evaluation when
/// check.checked == check.total), naming the task file and pointing at pairs mode.
QString oneSidedTaskMessage(const QString& taskFile, const SplitCheck& check);

/// True for the pipeline's error about an outcome-mode task without both correct and incorrect items.
bool isOneSidedTaskError(const QString& message);

/// `<family>.pairs.jsonl` beside `taskFile` (`<family>.<form>.jsonl`) when it exists and differs, else empty.
QString pairsTaskBeside(const QString& taskFile);

}  // namespace layerscope::app
