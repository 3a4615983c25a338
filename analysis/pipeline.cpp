// The analysis pipeline (see pipeline.h): options -> validated plan -> model analyses -> JSON documents ->
// atomic results directory.
#include "analysis/pipeline.h"

#include "analysis/cost_estimate.h"

#include "core/train/adapters.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>

#include "analysis/colocalization_stats.h"
#include "analysis/finite_states.h"
#include "analysis/layer_analyses.h"
#include "analysis/sharded_eval.h"
#include "core/base/atomic_file.h"
#include "core/base/stopwatch.h"
#include "core/model/config.h"
#include "core/data/dataset.h"
#include "core/base/error.h"
#include "core/text/tokenizer.h"
#include "layerscope/version.h"

namespace layerscope::analysis {
namespace fs = std::filesystem;
using nlohmann::json;
using core::Clock;

namespace {

std::vector<double> toVec(const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

std::string readFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The definition each analysis followed (docs/analyses.md "LayerScope definition vs each paper's code").
json semanticsJson(const AnalyzeRequest& r) {
  auto of = [&](const char* a) { return semanticsName(semanticsFor(r.semantics, a)); };
  return {{"requested", r.semantics}, {"redundancy", of("redundancy")}, {"drop", of("drop")},
          {"manipulation", of("manipulation")}};
}

json optionsJson(const AnalyzeRequest& r) {
  return {{"dtype", r.dtype}, {"batch_size", r.batchSize}, {"seed", r.seed},
          {"stop_string", r.stopString}, {"max_new_tokens", r.maxNewTokens}, {"extraction", r.extraction},
          {"share_prompt", r.sharePrompt},
          {"sensitivity", r.sensitivity}, {"rope", r.rope}, {"redundancy", r.redundancy},
          {"manipulations", r.manipulations}, {"manipulation_layers", r.manipulationLayers},
          {"drop_plan", r.dropPlan}, {"drop_n", r.dropN}, {"drop_module", r.dropModule},
          {"sensitivity_mode", r.sensitivityMode}, {"position", r.position}, {"metrics", r.metrics},
          {"bootstrap", r.bootstrap}, {"confidence", r.confidence}, {"probe_bootstrap", r.probeBootstrap},
          {"probe_folds", r.probeFolds}, {"rope_mode", r.ropeMode}, {"rope_loss", r.ropeLoss}, {"eps", r.eps},
          {"rope_per_head", r.ropePerHead}, {"angular", r.angular}, {"profiles", r.profiles},
          {"semantics", semanticsJson(r)}, {"drop_norm", r.dropNorm},
          {"coloc", {colocalizationKeys(r).first, colocalizationKeys(r).second}}, {"k_sens", r.kSens}, {"k_rope", r.kRope},
          {"alpha", r.alpha}, {"verdict_basis", r.verdictBasis}, {"permutation_draws", r.permutationDraws},
          {"method", "LayerScope operationalisation where docs/methods.md is silent; see docs/analyses.md"}};
}

// Maps each stage's own progress onto an overall 0..1 for the ETA, and forwards cancellation.
class StagedProgress {
 public:
  explicit StagedProgress(const core::JobControl* outer) : outer_(outer) {}
  void begin(const std::string& name, double weight) {
    base_ += weight_;
    weight_ = weight;
    name_ = name;
    report(0);
  }
  void report(double frac) const {
    if (outer_) outer_->report({name_, std::min(1.0, base_ + weight_ * frac), 1.0});
  }
  // A JobControl for the stage: its progress lands in report(); Cancelled comes from the outer report.
  const core::JobControl* job() {
    if (!outer_) return nullptr;
    inner_ = std::make_unique<core::JobControl>(std::stop_token{}, [this](const core::Progress& p) {
      outer_->checkCancelled();
      if (p.total > 0) {
        if (outer_) outer_->report({name_ + " (" + p.stage + ")", std::min(1.0, base_ + weight_ * p.done / p.total), 1.0});
      }
    });
    return inner_.get();
  }

 private:
  const core::JobControl* outer_;
  std::unique_ptr<core::JobControl> inner_;
  double base_ = 0, weight_ = 0;
  std::string name_;
};

}  // namespace

void validateRequest(const AnalyzeRequest& r) {
  if (r.adapterDir && !r.adapterDir->empty() && !core::AdapterSet::isAdapterDir(*r.adapterDir))
    throw InvalidArgument("--adapter: '" + r.adapterDir->string() +
                          "' holds neither adapter_config.json (LS-LoRA) nor garfa_config.json (GARFA)");
  if (!fs::is_directory(r.modelDir))
    throw InvalidArgument("--model: '" + r.modelDir.string() + "' is not a directory");
  const auto cfg = core::loadModelConfig(r.modelDir / "config.json");
  const int L = cfg.numLayers;
  if (!fs::exists(r.modelDir / "tokenizer.json"))
    throw InvalidArgument("--model: '" + r.modelDir.string() + "' has no tokenizer.json");
  const auto task = core::readTask(r.taskFile);  // DatasetError names file and line
  core::parseComputeDtype(r.dtype);
  core::parseDevice(r.device);  // an unavailable device fails before anything loads
  core::parseAnswerExtraction(r.extraction);
  if (r.batchSize < 0) throw InvalidArgument("--batch must be auto (0) or >= 1, got " + std::to_string(r.batchSize));
  if (r.maxNewTokens < 1) throw InvalidArgument("--max-new-tokens must be >= 1");
  const auto mode = parseMode(r.sensitivityMode);
  const auto pos = parsePosition(r.position);
  if (r.metrics.empty()) throw InvalidArgument("--metrics: at least one metric is needed");
  for (const auto& m : r.metrics) parseMetric(m);
  if (r.sensitivity && mode == SensitivityMode::Pairs) {
    if (task.kind() == core::TaskKind::ShortAnswer)
      throw InvalidArgument("--sensitivity-mode pairs needs a pairs or multiple-choice task; '" + r.taskFile.string() +
                            "' is short answer");
    if (pos == TokenPosition::LastPrompt)
      throw InvalidArgument("--position last_prompt: in pairs mode both completions share the prompt, so the states "
                            "are identical; use completion_mean or first_completion");
  }
  if (!(r.confidence > 0 && r.confidence < 1)) throw InvalidArgument("--confidence must be in (0, 1)");
  if (r.sensitivity && r.rope && r.bootstrap == 0) {
    // B = 0 is allowed: no intervals
  }
  parseRopeMode(r.ropeMode);
  parseRopeLoss(r.ropeLoss);
  if (!(r.eps >= 0 && r.eps < 1)) throw InvalidArgument("--eps must be in [0, 1), got " + std::to_string(r.eps));
  if (r.kSens > size_t(L))
    throw InvalidArgument("--k-sens " + std::to_string(r.kSens) + " is larger than the number of layers L = " + std::to_string(L));
  if (r.kRope > size_t(L))
    throw InvalidArgument("--k-rope " + std::to_string(r.kRope) + " is larger than the number of layers L = " + std::to_string(L));
  if (!(r.alpha > 0 && r.alpha < 1)) throw InvalidArgument("--alpha must be in (0, 1)");
  if (r.verdictBasis != "t" && r.verdictBasis != "permutation")
    throw InvalidArgument("--verdict-basis must be t or permutation, got '" + r.verdictBasis + "'");
  for (const auto& m : r.manipulations) parseManipulation(m);
  parseSemantics(r.semantics);
  for (int k : r.manipulationLayers)
    if (k < 0 || k > L)
      throw InvalidArgument("--layers: layer " + std::to_string(k) + " is out of range 0.." + std::to_string(L - 1) +
                            " (L = " + std::to_string(L) + " means no manipulation)");
  if (std::count(r.manipulations.begin(), r.manipulations.end(), "swap") && task.size() < 2)
    throw InvalidArgument("--mode swap needs a task with at least 2 items");
  if (!r.dropPlan.empty()) {  // the plan's own checks, before the base evaluation (about a minute on the demo)
    DropParams dp;
    dp.plan = parseDropPlan(r.dropPlan);
    dp.n = r.dropN;
    dp.module = r.dropModule;
    dp.semantics = parseSemantics(r.semantics);
    checkDropParams(dp, L);
  }
  std::set<std::string> profiles;
  for (const auto& p : r.profiles) {
    if (!findProfile(p))
      throw InvalidArgument("--profiles: unknown profile '" + p + "' (registered: " + joined(registeredProfileNames()) +
                            "; 'none' runs none)");
    if (!profiles.insert(p).second) throw InvalidArgument("--profiles: '" + p + "' is listed twice");
  }
  if (r.colocFirst.empty() != r.colocSecond.empty())
    throw InvalidArgument("--coloc needs two layer_scores keys, KEY_A,KEY_B");
  if (!r.colocFirst.empty()) {
    const auto keys = layerScoreKeys(r);
    for (const auto& k : {r.colocFirst, r.colocSecond})
      if (!std::binary_search(keys.begin(), keys.end(), k)) {
        const auto* p = findProfile(k.substr(0, k.find('.')));
        throw InvalidArgument("--coloc: '" + k + "' is not a layer_scores key of this run" +
                              (p && !profiles.count(p->name) ? " (add --profiles " + p->name + ")" : "") +
                              "; available: " + joined(keys));
      }
    if (r.colocFirst == r.colocSecond) throw InvalidArgument("--coloc: the two keys are the same ('" + r.colocFirst + "')");
  }
  if (!r.outDir.empty() && fs::exists(r.outDir) && !r.overwrite)
    throw InvalidArgument("--out: '" + r.outDir.string() + "' already exists (pass --overwrite to replace it)");
}

std::vector<std::string> layerScoreKeys(const AnalyzeRequest& r) {
  std::vector<std::string> keys;
  if (r.sensitivity)
    for (const auto& name : r.metrics) {
      const auto m = parseMetric(name);
      const std::string key = "sensitivity." + metricName(m);
      keys.push_back(key);
      if ((m != SensitivityMetric::Probe && r.bootstrap > 0) || (m == SensitivityMetric::Probe && r.probeBootstrap > 0))
        keys.insert(keys.end(), {key + ".ci_low", key + ".ci_high"});
    }
  if (r.rope) keys.push_back("rope_influence." + r.ropeMode);
  if (r.redundancy)
    keys.insert(keys.end(), {"redundancy.attn", "redundancy.mlp", "redundancy.block", "redundancy.block_bi"});
  for (const auto& name : r.profiles)
    if (const auto* p = findProfile(name)) keys.insert(keys.end(), p->keys.begin(), p->keys.end());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::pair<std::string, std::string> colocalizationKeys(const AnalyzeRequest& r) {
  if (!r.colocFirst.empty() || !r.colocSecond.empty()) return {r.colocFirst, r.colocSecond};
  const std::string first = r.metrics.empty() ? std::string("rel_l2") : metricName(parseMetric(r.metrics.front()));
  return {"sensitivity." + first, "rope_influence." + r.ropeMode};
}

std::string layersCsv(const std::map<std::string, std::vector<double>>& scores, std::size_t layers) {
  std::ostringstream os;
  os.precision(10);
  os << "layer";
  for (const auto& [k, v] : scores) os << "," << k;
  os << "\n";
  for (std::size_t l = 0; l < layers; ++l) {
    os << l;
    for (const auto& [k, v] : scores) {
      os << ",";
      if (l < v.size() && std::isfinite(v[l])) os << v[l];
    }
    os << "\n";
  }
  return os.str();
}

void writeResultsDirectory(const AnalyzeResult& res, const fs::path& dir, bool overwrite) {
  // Built in a visible `<name>.incomplete-<pid>-<n>` beside it (a killed run's leftover is removed by the next
  // run), then moved into place in one step: `dir` never exists half-written (docs/hardening.md).
  if (fs::exists(dir) && !overwrite) throw InvalidArgument("results directory '" + dir.string() + "' already exists");
  core::writeDirectoryAtomically(dir, overwrite, [&](const fs::path& tmp) {
    auto write = [&](const std::string& name, const std::string& text) { core::writeFileAtomically(tmp / name, text); };
    if (!res.scores.is_null()) {
      write("scores.json", res.scores.dump(2) + "\n");
      write("layers.csv", layersCsv(res.layerScores, res.scores.value("num_layers", std::size_t(0))));
    }
    if (!res.stats.is_null()) write("stats.json", res.stats.dump(2) + "\n");
    if (!res.manipulation.is_null()) write("manipulation.json", res.manipulation.dump(2) + "\n");
    if (!res.drop.is_null()) write("drop.json", res.drop.dump(2) + "\n");
    std::string lines;
    for (const auto& j : res.items) lines += j.dump() + "\n";
    write("items.jsonl", lines);
  });
}

AnalyzeResult runAnalysis(const AnalyzeRequest& request, const core::JobControl* job, const ItemShard* shard) {
  // The memory plan (analysis/cost_estimate.h) validates the request and, before any work, picks the batches that
  // fit the memory budget or refuses the run naming the budget it needs. Smaller batches change no result beyond
  // floating-point summation order.
  const CostEstimate plan = estimateAnalysis(request, /*measure=*/false);
  AnalyzeRequest req = request;
  req.batchSize = plan.forwardBatch;
  const auto tAll = Clock::now();
  AnalyzeResult res;
  StagedProgress progress(job);
  // Statistics run on an explicit --coloc pair (validated to be produced) or on the default pair when both exist.
  const auto [colocA, colocB] = colocalizationKeys(req);
  const bool coloc = !req.colocFirst.empty() || (req.sensitivity && req.rope);
  // Rough stage weights (forward-pass units on the demo model) for the overall fraction and ETA.
  double wProfiles = 0;
  for (const auto& name : req.profiles) wProfiles += findProfile(name)->weight;
  const double wEval = 1, wSens = req.sensitivity ? 1.5 : 0, wRope = req.rope ? 5 : 0, wRed = req.redundancy ? 0.5 : 0,
               wStats = coloc ? 1 : 0, wMan = 6.0 * double(req.manipulations.size()), wDrop = req.dropPlan.empty() ? 0 : 4;
  const double wTotal = 0.3 + wEval + wSens + wRope + wRed + wProfiles + wStats + wMan + wDrop;

  progress.begin("load", 0.3 / wTotal);
  auto t0 = Clock::now();
  const auto dtype = core::parseComputeDtype(req.dtype);
  auto model = core::LlamaModel::load(req.modelDir, dtype, core::parseDevice(req.device));
  json adapterJson = nullptr;
  if (req.adapterDir && !req.adapterDir->empty()) {
    // Analyse the adapted model: LoRA folded into the weights, GARFA baked in as fixed RoPE multipliers.
    const auto adapter = core::AdapterSet::load(*req.adapterDir, model->config());
    model = core::bakeAdapter(*model, adapter);
    adapterJson = {{"path", fs::absolute(*req.adapterDir).string()},
                   {"lora", adapter.hasLora() ? adapter.peftConfigJson() : json(nullptr)},
                   {"garfa", adapter.hasGarfa() ? adapter.garfaConfigJson() : json(nullptr)}};
  }
  auto tok = core::Tokenizer::fromFile(req.modelDir);
  auto task = core::readTask(req.taskFile);
  auto prepared = core::prepareTask(tok, task);
  const auto& cfg = model->config();
  const int L = cfg.numLayers, G = cfg.numKvHeads;
  checkFiniteStates(*model, prepared);  // no analysis scores NaN/inf states (docs/hardening.md)
  res.timings["load"] = core::secondsSince(t0);

  progress.begin("eval", wEval / wTotal);
  t0 = Clock::now();
  core::ScoringOptions so;
  so.batchSize = req.batchSize;
  so.stopString = req.stopString;
  so.maxNewTokens = req.maxNewTokens;
  so.extraction = core::parseAnswerExtraction(req.extraction);
  so.sharePrompt = req.sharePrompt;
  // the default sensitivity (outcome, last prompt token) reads its states from the evaluation's forward
  so.keepDecisionStates = req.sensitivity && parseMode(req.sensitivityMode) == SensitivityMode::Outcome &&
                          (req.position == "auto" || req.position == "last_prompt");
  // The default redundancy (the prompts as calibration) takes its cosines during this forward: every prompt token of
  // the evaluation's rows is computed as in a prompt-only row (core::ScoringOptions::promptSink). A drop plan of the
  // same semantics ranks the same similarities.
  RedundancyParams redParams{.angular = req.angular, .batchSize = req.batchSize,
                             .semantics = semanticsFor(req.semantics, "redundancy"), .dropNorm = req.dropNorm};
  std::optional<RedundancySums> redSums;
  const SimilaritySources similarities = similaritySources(req, prepared.kind == core::TaskKind::ShortAnswer);
  if (similarities.fromEvaluation) {
    redSums.emplace(*model, redParams);
    so.promptSink = [&](const torch::Tensor& promptMask) { return redSums->sink(promptMask); };
  }
  // data-parallel: each process scores its share of the items; every process gets all of them (sharded_eval.h)
  auto eval = std::move(evaluateShards(*model, prepared, shard, 1, so.keepDecisionStates,
                                       [&](const core::PreparedTask& share, std::size_t) {
                                         return std::vector{core::evaluate(*model, tok, share, so, progress.job())};
                                       }).front());
  res.timings["eval"] = core::secondsSince(t0);
  const ModelTaskInputs in{model.get(), &tok, &prepared, &eval, shard};
  const std::size_t nCorrect = eval.correct, nIncorrect = eval.items.size() - eval.correct;
  const auto sensMode = parseMode(req.sensitivityMode);
  if (req.sensitivity && sensMode == SensitivityMode::Outcome && (nCorrect == 0 || nIncorrect == 0))
    throw InvalidArgument("task '" + req.taskFile.string() + "': the model answers " + std::to_string(nCorrect) +
                          " items correctly and " + std::to_string(nIncorrect) +
                          " incorrectly; outcome-mode sensitivity needs both (no differential exists). Use a harder/"
                          "easier task or --sensitivity-mode pairs with a pairs task");

  for (std::size_t i = 0; i < eval.items.size(); ++i) {
    const auto& it = eval.items[i];
    json j = {{"id", it.id}, {"correct", it.correct}, {"prediction", it.prediction}, {"gold", it.gold},
              {"loglik", it.loglik}};
    if (prepared.kind == core::TaskKind::MultipleChoice) j["correct_norm"] = it.correctNorm, j["predicted"] = it.predicted;
    if (prepared.kind == core::TaskKind::ShortAnswer) j["generated"] = it.generated;
    j["decision_position"] = prepared.items[i].decisionPosition();
    j["completion_tokens"] = prepared.items[i].continuations[prepared.items[i].gold].size();
    res.items.push_back(std::move(j));
  }

  std::optional<SensitivityAnalysis> sens;
  if (req.sensitivity) {
    progress.begin("sensitivity", wSens / wTotal);
    t0 = Clock::now();
    SensitivityAnalysisParams sp;
    sp.mode = sensMode;
    sp.position = parsePosition(req.position);
    sp.metrics.clear();
    for (const auto& m : req.metrics) sp.metrics.push_back(parseMetric(m));
    sp.metric.bootstrapResamples = req.bootstrap;
    sp.metric.confidence = req.confidence;
    sp.metric.seed = req.seed;
    sp.metric.probe.seed = req.seed;
    sp.metric.probe.folds = req.probeFolds;
    sp.probeBootstrap = req.probeBootstrap;
    sp.batchSize = req.batchSize;
    sens = analyseSensitivity(in, sp, progress.job());
    for (const auto& [m, r] : sens->profiles) {
      const std::string key = "sensitivity." + metricName(m);
      res.layerScores[key] = toVec(r.score);
      if ((m != SensitivityMetric::Probe && req.bootstrap > 0) || (m == SensitivityMetric::Probe && req.probeBootstrap > 0)) {
        res.layerScores[key + ".ci_low"] = toVec(r.low);
        res.layerScores[key + ".ci_high"] = toVec(r.high);
      }
    }
    res.timings["sensitivity"] = core::secondsSince(t0);
  }

  std::optional<RopeInfluenceResult> rope;
  if (req.rope) {
    progress.begin("rope influence", wRope / wTotal);
    t0 = Clock::now();
    RopeInfluenceParams rp;
    rp.mode = parseRopeMode(req.ropeMode);
    rp.loss = parseRopeLoss(req.ropeLoss);
    rp.eps = req.eps;
    rp.perHead = req.ropePerHead;
    rp.batchSize = rp.mode == RopeMode::Gradient ? plan.gradientBatch : req.batchSize;
    rope = ropeInfluence(in, rp, progress.job());
    const std::string key = "rope_influence." + req.ropeMode;
    res.layerScores[key] = toVec(rope->perLayer);
    if (rope->perHead.size() > 0) {
      std::vector<std::vector<double>> m(static_cast<size_t>(L), std::vector<double>(static_cast<size_t>(G)));
      for (int l = 0; l < L; ++l)
        for (int g = 0; g < G; ++g) m[size_t(l)][size_t(g)] = rope->perHead(l, g);
      res.layerHeadScores[key + ".per_head"] = m;
    }
    res.timings["rope_influence"] = core::secondsSince(t0);
  }

  std::optional<RedundancyResult> fullRedundancy;  // the full model's, for the drop plan too
  auto redundancyFromEval = [&, tokens = std::accumulate(prepared.items.begin(), prepared.items.end(), std::size_t(0),
                                                         [](std::size_t n, const auto& it) { return n + it.prompt.size(); })] {
    return redSums->finish(shard, prepared.items.size(), tokens);
  };
  if (req.redundancy) {
    progress.begin("redundancy", wRed / wTotal);
    t0 = Clock::now();
    fullRedundancy = redSums ? redundancyFromEval() : redundancy(in, redParams, progress.job());
    const auto& r = *fullRedundancy;
    res.layerScores["redundancy.attn"] = toVec(r.attn);
    res.layerScores["redundancy.mlp"] = toVec(r.mlp);
    res.layerScores["redundancy.block"] = toVec(r.block);
    res.layerScores["redundancy.block_bi"] = toVec(r.blockBi);
    res.timings["redundancy"] = core::secondsSince(t0);
  }

  // Registered extra profiles (analysis/profile_registry.h): their keys join layer_scores like any other.
  std::map<std::string, Eigen::MatrixXd> itemScores;  // per-item values [N, L] of profile keys (r_s bootstrap)
  json profileInfo = json::object();
  for (const auto& name : req.profiles) {
    const ProfileSpec& spec = *findProfile(name);
    progress.begin(name, spec.weight / wTotal);
    t0 = Clock::now();
    auto pr = spec.run(in, ProfileOptions{req.batchSize, req.seed}, progress.job());
    for (const auto& k : spec.keys) {
      const auto it = pr.layerScores.find(k);
      if (it == pr.layerScores.end() || it->second.size() != size_t(L) || pr.layerScores.size() != spec.keys.size())
        throw InvalidArgument("profile '" + name + "' must return exactly its keys (" + joined(spec.keys) + "), each with L = " +
                              std::to_string(L) + " values");
      res.layerScores[k] = it->second;
    }
    for (auto& [k, m] : pr.itemScores) {
      if (!std::count(spec.keys.begin(), spec.keys.end(), k) || m.rows() != Eigen::Index(prepared.items.size()) || m.cols() != L)
        throw InvalidArgument("profile '" + name + "': per-item values of '" + k + "' must be one of its keys, [items, L]");
      itemScores[k] = std::move(m);
    }
    profileInfo[name + "_info"] = pr.info;
    res.timings[name] = core::secondsSince(t0);
  }

  if (coloc) {
    progress.begin("co-localization", wStats / wTotal);
    t0 = Clock::now();
    CoLocalizationParams cp;
    cp.spearman.seed = req.seed;
    cp.spearman.monteCarloDraws = req.permutationDraws;
    cp.kSens = req.kSens, cp.kRope = req.kRope, cp.alpha = req.alpha;
    cp.verdictBasis = req.verdictBasis == "t" ? VerdictBasis::TDistribution : VerdictBasis::Permutation;
    cp.allowSignedProfiles = true;  // e.g. logit_lens.gold_logprob: no centre of mass, everything else applies
    // The r_s bootstrap resamples the sensitivity items (docs/methods.md section 4): a sensitivity key is recomputed
    // from the states, the RoPE key and profile keys are means of the resampled items' per-item values.
    auto resampler = [&](const std::string& k) -> ResampledProfile {
      if (!sens) return {};
      for (const auto& [m, r] : sens->profiles)
        if (k == "sensitivity." + metricName(m)) {
          SensitivityParams sp = sens->params.metric;
          sp.mode = sens->params.mode;
          sp.metric = m;
          return [&, sp](std::span<const std::size_t> idx, const std::vector<std::size_t>&) {
            return scoresOnItems(sens->states, idx, sp);
          };
        }
      if (rope && k == "rope_influence." + req.ropeMode)
        return [&](std::span<const std::size_t>, const std::vector<std::size_t>& rows) { return meanOfRows(rope->itemLayer, rows); };
      if (const auto it = itemScores.find(k); it != itemScores.end())
        return [&m = it->second](std::span<const std::size_t>, const std::vector<std::size_t>& rows) { return meanOfRows(m, rows); };
      return {};
    };
    auto profile = [&](const std::string& k) {
      const auto& v = res.layerScores.at(k);
      return ColocalizationProfile{k, Eigen::Map<const Eigen::VectorXd>(v.data(), Eigen::Index(v.size())), resampler(k)};
    };
    ColocalizationBootstrap boot;
    boot.params.resamples = req.bootstrap;
    boot.params.confidence = req.confidence;
    boot.params.seed = req.seed;
    if (sens) {
      SensitivityParams sp = sens->params.metric;
      sp.mode = sens->params.mode;
      boot.items = sens->items;
      boot.count = itemCount(sens->states, sp);
    } else {
      boot.unavailable = "no bootstrap interval: r_s is bootstrapped over the sensitivity items, and sensitivity was not run";
    }
    res.stats = colocalizationStats(profile(colocA), profile(colocB), cp, boot, progress.job());
    res.timings["stats"] = core::secondsSince(t0);
  }

  json modelJson = {{"path", fs::absolute(req.modelDir).string()}, {"adapter", adapterJson}, {"config", cfg.summary()},
                    {"dtype", req.dtype}};
  {
    std::string idx = readFile(req.modelDir / "config.json");
    for (const auto& [name, t] : model->namedWeights()) {
      idx += name;
      for (auto s : t.sizes()) (idx += ',') += std::to_string(s);  // not "," + ...: g++ 12 -Wstringop-overflow false positive
      idx += ";";
    }
    modelJson["fingerprint"] = "sha256:" + core::sha256Hex(idx);
  }
  json taskJson = {{"path", fs::absolute(req.taskFile).string()}, {"fingerprint", task.fingerprint},
                   {"kind", prepared.kind == core::TaskKind::MultipleChoice ? "multiple_choice"
                            : prepared.kind == core::TaskKind::ShortAnswer  ? "short_answer" : "pairs"},
                   {"items", prepared.items.size()}, {"correct", nCorrect}, {"incorrect", nIncorrect},
                   {"accuracy", eval.accuracy}};
  if (prepared.kind == core::TaskKind::MultipleChoice) taskJson["accuracy_norm"] = eval.accuracyNorm;
  taskJson["shared_prompt"] = eval.sharedPrompt;  // how the log-likelihoods were computed (docs/methods.md 9)

  if (!req.manipulations.empty()) {
    json curves = json::object();
    json man;
    for (const auto& name : req.manipulations) {
      progress.begin("manipulation " + name, 6.0 / wTotal);
      t0 = Clock::now();
      ManipulationParams mp;
      mp.mode = parseManipulation(name);
      mp.layers = req.manipulationLayers;
      mp.seed = req.seed;
      mp.batchSize = req.batchSize;
      mp.semantics = semanticsFor(req.semantics, "manipulation");
      auto m = manipulate(in, mp, progress.job());
      curves[name] = m.accuracy;
      man["k"] = m.k;
      res.timings["manipulation." + name] = core::secondsSince(t0);
    }
    man["format"] = "layerscope.manipulation/1";
    if (req.manipulations.size() == 1) {
      man["mode"] = req.manipulations.front();
      man["accuracy"] = curves[req.manipulations.front()];
    } else {
      man["mode"] = "all";
      man["curves"] = curves;
    }
    man["base_accuracy"] = eval.accuracy;
    man["world_size"] = shard ? shard->size : 1;  // items evaluated data-parallel (docs/distributed.md)
    man["options"] = optionsJson(req);
    man["model"] = modelJson;
    man["task"] = taskJson;
    res.manipulation = man;
  }

  if (!req.dropPlan.empty()) {
    progress.begin("drop " + req.dropPlan, wDrop / wTotal);
    t0 = Clock::now();
    DropParams dp;
    dp.plan = parseDropPlan(req.dropPlan);
    dp.n = req.dropN;
    dp.module = req.dropModule;
    dp.batchSize = req.batchSize;
    dp.semantics = parseSemantics(req.semantics);  // drop with a semantics that defines none is an error
    dp.dropNorm = req.dropNorm;
    dp.angular = req.angular;
    if (!fullRedundancy && redSums) fullRedundancy = redundancyFromEval();
    if (fullRedundancy && similarities.dropReusesRedundancy) dp.fullSimilarity = &*fullRedundancy;
    auto d = dropPlan(in, dp, progress.job());
    json dropped = json::array();
    for (const auto& m : d.dropped) dropped.push_back({{"layer", m.layer}, {"module", m.module}, {"similarity", m.similarity}});
    res.drop = {{"format", "layerscope.drop/1"}, {"plan", req.dropPlan}, {"n", req.dropN}, {"module", req.dropModule},
                {"dropped", dropped},
                {"similarity", {{"attn", toVec(d.similarity.attn)}, {"mlp", toVec(d.similarity.mlp)},
                                {"block", toVec(d.similarity.block)}}},
                {"accuracy", d.accuracy}, {"base_accuracy", d.baseAccuracy}, {"speedup", d.speedup},
                {"base_forward_seconds", d.baseForwardSeconds}, {"dropped_forward_seconds", d.droppedForwardSeconds},
                {"options", optionsJson(req)}, {"model", modelJson}, {"task", taskJson},
                {"world_size", shard ? shard->size : 1},
                {"similarity_from", dp.fullSimilarity ? (redSums ? "evaluation" : "redundancy") : "own_forward"}};
    res.timings["drop"] = core::secondsSince(t0);
  }

  if (req.sensitivity || req.rope || req.redundancy || !req.profiles.empty()) {
    json ls = json::object(), lhs = json::object();
    for (const auto& [k, v] : res.layerScores) ls[k] = v;
    for (const auto& [k, v] : res.layerHeadScores) lhs[k] = v;
    res.timings["total"] = core::secondsSince(tAll);
    res.scores = {{"format", "layerscope.scores/1"}, {"layerscope_version", kVersion}, {"created_utc", core::utcNow()},
                  {"model", modelJson}, {"task", taskJson}, {"options", optionsJson(req)},
                  {"timings_seconds", res.timings}, {"num_layers", L}, {"num_kv_heads", G},
                  {"layer_scores", ls}, {"layer_head_scores", lhs}};
    res.scores["memory_plan"] = {{"budget_bytes", plan.budgetBytes}, {"requested_batch_size", request.batchSize},
                                 {"batch_cap", plan.batchCap},
                                 {"forward_batch_size", plan.forwardBatch}, {"gradient_batch_size", plan.gradientBatch},
                                 {"estimated_peak_bytes", plan.peakBytes}};
    if (sens) {
      res.scores["sensitivity_info"] = {{"mode", modeName(sens->params.mode)}, {"position", positionName(sens->params.position)},
                                        {"state", "resid_post"}, {"items", sens->items.size()},
                                        {"forward_passes", sens->forwardPasses},
                                        {"states_from", sens->statesFromEvaluation ? "evaluation" : "own_forward"}};
    }
    if (req.redundancy) res.scores["redundancy_info"] = {{"semantics", semanticsName(redParams.semantics)},
                                                         {"states_from", redSums ? "evaluation" : "own_forward"}};
    if (rope) res.scores["rope_influence_info"] = {{"mode", req.ropeMode}, {"forward_passes", rope->forwardPasses}};
    for (const auto& [k, v] : profileInfo.items()) res.scores[k] = v;
    res.scores["world_size"] = shard ? shard->size : 1;  // processes of a data-parallel run (docs/distributed.md)
  }
  res.timings["total"] = core::secondsSince(tAll);
  if (shard && shard->size > 1 && shard->barrier) shard->barrier();  // every rank got here: nothing failed
  if (!req.outDir.empty() && (!shard || shard->rank == 0)) {
    core::checkCancelled(job);
    writeResultsDirectory(res, req.outDir, req.overwrite);
    res.writtenTo = req.outDir;
  }
  if (job) job->report({"done", 1.0, 1.0});
  return res;
}

}  // namespace layerscope::analysis
