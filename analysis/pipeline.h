// The analysis pipeline the GUI and `layerscope-cli analyze` call: validate every option, load the model and
// task, evaluate, run the requested analyses (sensitivity, RoPE influence, redundancy, registered extra profiles,
// co-localization statistics; optionally manipulations and a drop plan) with progress / ETA and cancellation, write the
// results directory of docs/results-format.md atomically (temporary sibling directory + rename: a cancelled or
// failed run leaves nothing). Torch-free header: plain values in, plain values (and JSON documents) out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/profile_registry.h"
#include "analysis/statistics.h"
#include "core/base/job_control.h"

namespace layerscope::analysis {

struct ItemShard;  // analysis/layer_analyses.h: a data-parallel process's share of the rows

/// Every option of an analysis run, with the defaults of docs/methods.md. Names match the CLI options and the
/// "options" object of scores.json (snake_case there).
struct AnalyzeRequest {
  std::filesystem::path modelDir;  ///< Hugging Face layout: config.json, *.safetensors, tokenizer.json
  /// An LS-LoRA / GARFA adapter folder (docs/methods.md section 7): the adapted model is analysed, LoRA folded into
  /// the weights and GARFA baked in as fixed RoPE multipliers; recorded under "model.adapter" in scores.json.
  std::optional<std::filesystem::path> adapterDir;
  std::filesystem::path taskFile;  ///< JSONL task (docs/tasks.md)
  std::filesystem::path outDir;    ///< results directory to create; empty = do not write
  bool overwrite = false;          ///< replace an existing outDir (only once the new one is complete)
  std::string dtype = "float32";   ///< compute dtype: float32 | bfloat16
  std::string device = "auto";     ///< cpu | cuda | cuda:N | auto (cuda when available, else cpu)
  /// Sequences per forward pass, at most (the memory plan may choose fewer). 0 = auto: about kAutoBatchTokens tokens
  /// per forward at the task's mean row length, at most kAutoBatchRows rows (analysis/cost_estimate.h).
  int batchSize = 0;
  /// Peak resident memory the run may use, in GiB; 0 = this process's resident memory plus the system's available
  /// memory. The plan (analysis/cost_estimate.h) lowers the forward batch and the gradient RoPE influence's
  /// micro-batch to fit, and refuses the run before any work when one row does not fit.
  double memoryBudgetGb = 0;
  std::uint64_t seed = kDefaultSeed;  ///< seeds every bootstrap, permutation, probe fold and manipulation

  // evaluation (docs/methods.md section 9)
  std::string stopString = "\n";   ///< short answer: decoding stops here
  int maxNewTokens = 32;           ///< short answer: greedy steps at most
  std::string extraction = "none"; ///< short answer: none | last_number | boxed
  bool sharePrompt = true;         ///< multiple choice, pairs: one row per item, its prompt once (core::ScoringOptions)

  // what to run
  bool sensitivity = true, rope = true, redundancy = true;
  std::vector<std::string> manipulations;  ///< subset of random, freeze, shuffle, swap, skip_attention (default none)
  std::vector<int> manipulationLayers;     ///< k values (0..L; L = no manipulation); empty = 0..L-1
  std::string dropPlan;                    ///< "" (none) | one-shot | iterative | joint
  int dropN = 4;                           ///< modules to drop
  std::string dropModule = "attn";         ///< one-shot / iterative: attn | mlp | block

  // sensitivity (docs/methods.md section 2)
  std::string sensitivityMode = "outcome";  ///< outcome | pairs
  std::string position = "auto";           ///< auto | last_prompt | completion_mean | first_completion
  std::vector<std::string> metrics = {"rel_l2", "raw_l2", "cos", "fisher", "probe"};  ///< first = default co-localization profile
  std::size_t bootstrap = 1000;             ///< B of the per-layer intervals and of the r_s interval
  double confidence = 0.95;                 ///< interval mass
  std::size_t probeBootstrap = 0;           ///< B for the probe metric (B x folds refits per layer); 0 = none
  std::size_t probeFolds = 5;               ///< k of the probe's stratified cross-validation

  // RoPE influence (docs/methods.md section 3)
  std::string ropeMode = "gradient";  ///< gradient | perturb | nope
  std::string ropeLoss = "prompt";    ///< gradient: prompt | completion
  double eps = 0.1;                   ///< perturb: frequencies x (1 +- eps)
  bool ropePerHead = true;            ///< perturb / nope: per-KV-head values too

  // redundancy (docs/methods.md section 5)
  bool angular = false;  ///< ShortGPT BI as arccos(sim)/pi
  /// Definitions of redundancy, drop plans and manipulations: layerscope | llm-drop | shortgpt | afcl
  /// (analysis/paper_semantics.h); each analysis the semantics does not define keeps LayerScope's.
  std::string semantics = "layerscope";
  bool dropNorm = true;  ///< llm-drop layer_drop_norm

  // extra per-layer profiles (analysis/profile_registry.h, docs/analyses.md): run after redundancy
  std::vector<std::string> profiles = defaultProfileNames();  ///< registered names (logit_lens, ...); default: the default-on ones

  // co-localization (docs/methods.md section 4)
  /// The two layer_scores keys compared; both "" = the first metric's sensitivity key and the RoPE mode's key. Any
  /// key the run produces is accepted; the first is the "sensitivity side" (S_sens, k_sens), the second the "rope
  /// side" (S_rope, k_rope).
  std::string colocFirst, colocSecond;
  std::size_t kSens = 0;               ///< |S_sens|; 0 = ceil(0.28 L)
  std::size_t kRope = 0;               ///< |S_rope|; 0 = ceil(0.31 L)
  double alpha = 0.05;                 ///< verdict significance level
  std::string verdictBasis = "t";      ///< t | permutation
  std::int64_t permutationDraws = 100000;  ///< Monte Carlo permutations when L > 9
};

/// The in-memory result; the JSON documents are exactly what was (or would be) written.
struct AnalyzeResult {
  std::map<std::string, std::vector<double>> layerScores;                    ///< scores.json "layer_scores"
  std::map<std::string, std::vector<std::vector<double>>> layerHeadScores;   ///< "layer_head_scores"
  nlohmann::json scores;        ///< scores.json
  nlohmann::json stats;         ///< stats.json (null when sensitivity or rope was not run)
  nlohmann::json manipulation;  ///< manipulation.json (null when not run)
  nlohmann::json drop;          ///< drop.json (null when not run)
  std::vector<nlohmann::json> items;  ///< items.jsonl lines
  std::map<std::string, double> timings;  ///< seconds per stage
  std::filesystem::path writtenTo;        ///< outDir when written
};

/// Checks every option against the model config and the task file without loading weights; throws
/// InvalidArgument / ConfigError / DatasetError naming the option or file.
void validateRequest(const AnalyzeRequest& request);

/// The layer_scores keys the request will produce (built-in analyses and selected profiles), sorted; needs only
/// validated option values, no model.
std::vector<std::string> layerScoreKeys(const AnalyzeRequest& request);

/// The co-localization pair of the request, defaults resolved (first = sensitivity side, second = rope side).
std::pair<std::string, std::string> colocalizationKeys(const AnalyzeRequest& request);

/// Runs the request. Progress: stage text plus overall done/total (0..1) for an ETA. Throws Cancelled
/// through `job` (nothing written); any failure leaves no results directory either. With a `shard` of a
/// data-parallel job (docs/distributed.md) every process of the job calls this with the same request; sensitivity
/// captures, RoPE influence and redundancy are split over the processes, and only rank 0 writes the directory,
/// after a barrier (a process that died earlier fails the job instead).
AnalyzeResult runAnalysis(const AnalyzeRequest& request, const core::JobControl* job = nullptr,
                          const ItemShard* shard = nullptr);

/// Writes the documents of `result` into `dir` atomically (temporary sibling + rename).
void writeResultsDirectory(const AnalyzeResult& result, const std::filesystem::path& dir, bool overwrite);

/// "layer,<keys...>" CSV of the layer scores (layers.csv).
std::string layersCsv(const std::map<std::string, std::vector<double>>& layerScores, std::size_t layers);

}  // namespace layerscope::analysis
