// What every experiment shares: a loaded model with its tokenizer (kept between jobs by the GUI), layer-set
// text, training and evaluation task files, and the per-item JSON of an evaluation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/job_control.h"
#include "core/data/dataset.h"
#include "core/model/model.h"
#include "core/model/scoring.h"
#include "core/text/tokenizer.h"

namespace layerscope::experiments {

/// A base model and its tokenizer, loaded once. Requests carry one optionally: a caller that keeps a model
/// loaded between jobs (the GUI's worker) passes it, and the experiment then skips loading `modelDir`.
struct ModelHandle {
  std::filesystem::path dir;
  torch::ScalarType dtype = torch::kFloat32;
  c10::Device device = core::hostDevice();
  std::shared_ptr<const core::LlamaModel> model;
  std::shared_ptr<const core::Tokenizer> tokenizer;
  explicit operator bool() const { return model && tokenizer; }
  /// True when this handle holds the model of folder `dir` (the same folder, however spelled) at `dtype` on
  /// `device` (a core::parseDevice name).
  bool matches(const std::filesystem::path& dir, const std::string& dtype, const std::string& device = "auto") const;
};

/// Loads the model in `dir` with compute dtype `dtype` ("float32" | "bfloat16") onto `device` ("cpu", "cuda",
/// "cuda:N", "auto"; an unavailable device is an InvalidArgument saying why) and its tokenizer.
ModelHandle loadModel(const std::filesystem::path& dir, const std::string& dtype, const std::string& device = "auto");

/// `preloaded` when it holds the same folder, dtype and device, else a fresh load.
ModelHandle modelFor(const std::filesystem::path& dir, const std::string& dtype, const ModelHandle& preloaded,
                     const std::string& device = "auto");

/// "all" = every layer, else core::parseLayerList ("23-31", "0,2,5-7", "none").
std::vector<int> parseLayerSet(const std::string& text, int numLayers, const std::string& what);

/// A training task: a task JSONL file, or "demo:N" / "demo:FAMILY:N" (the demo suite's train split, which never
/// contains an evaluation prompt).
core::Task loadTrainingTask(const std::string& spec, std::uint64_t seed);

/// One evaluation file, tokenized once, with the scoring its layout implies (answer extraction for short
/// answers). `format`: "auto" detects the layout, else a core::parseBenchmarkFormat name.
struct EvalTask {
  std::filesystem::path file;
  core::Task task;
  core::PreparedTask prepared;
  core::ScoringOptions scoring;
};
EvalTask loadEvalTask(const core::Tokenizer& tok, const std::filesystem::path& file, const std::string& format,
                      std::uint64_t seed);

/// One line of an items file: id, prediction, gold, correct, log-likelihoods (+ correct_norm / generated).
nlohmann::json itemJson(const core::ItemResult& item, core::TaskKind kind);

/// The JobControl of one stage of a longer job: the stage's own progress (done of total) is reported to `outer`
/// as units `from + (to - from) * done / total` of `outerTotal`, its text prefixed with `label`; cancellation comes
/// from the outer control (checked at every report). get() is null when `outer` is.
class StageJob {
 public:
  StageJob(const core::JobControl* outer, std::string label, double from, double to, double outerTotal)
      : outer_(outer),
        label_(std::move(label)),
        control_(std::stop_token{}, [this, from, to, outerTotal](const core::Progress& p) {
          const double f = p.total > 0 ? std::min(1.0, p.done / p.total) : 0.0;
          outer_->report({label_ + (p.stage.empty() || !showInner_ ? "" : ": " + p.stage), from + (to - from) * f, outerTotal});
        }) {}
  StageJob(const StageJob&) = delete;
  StageJob& operator=(const StageJob&) = delete;
  const core::JobControl* get() const { return outer_ ? &control_ : nullptr; }
  /// Replaces the text shown for the stage (e.g. the newest training step); the inner stage name is then hidden.
  void setLabel(std::string label) {
    label_ = std::move(label);
    showInner_ = false;
  }

 private:
  const core::JobControl* outer_;
  std::string label_;
  bool showInner_ = true;
  core::JobControl control_;
};

/// Sends a line to `log` when one is set.
inline void logLine(const std::function<void(const std::string&)>& log, const std::string& line) {
  if (log) log(line);
}

}  // namespace layerscope::experiments
