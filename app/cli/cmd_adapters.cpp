// layerscope-cli adapter commands: train (LS-LoRA / GARFA fine-tunes), merge, ablate (the 4-way cross-layer
// ablation of METHODS section 8) and bench train. Progress lines on stderr; Ctrl-C stops at the next step and
// leaves the newest complete checkpoint for --resume.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "app/cli/command.h"
#include "app/cli/signals.h"
#include "core/adapter_training.h"
#include "core/atomic_file.h"
#include "core/benchmarks.h"
#include "core/error.h"
#include "core/runtime.h"
#include "core/task_suite.h"

namespace layerscope::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// "all" = every layer; otherwise parseLayerList ("23-31", "0,2", "none").
std::vector<int> layerArg(const std::string& text, int numLayers, const std::string& what) {
  if (text == "all") {
    std::vector<int> v(static_cast<size_t>(numLayers));
    for (int l = 0; l < numLayers; ++l) v[size_t(l)] = l;
    return v;
  }
  return core::parseLayerList(text, what);
}

// Options shared by train and ablate.
struct TrainArgs {
  core::AdapterSpec spec;
  core::AdapterTrainOptions opt;
  torch::ScalarType dtype = torch::kFloat32;
};

TrainArgs commonTrainArgs(Args& args) {
  TrainArgs t;
  t.spec.lora.rank = int(args.intOr("--lora-rank", t.spec.lora.rank));
  t.spec.lora.alpha = args.doubleOr("--lora-alpha", t.spec.lora.alpha);
  t.spec.lora.dropout = args.doubleOr("--lora-dropout", t.spec.lora.dropout);
  t.spec.lora.targets = core::parseTargets(args.valueOr("--targets", "q,k,v,o,gate,up,down"));
  t.spec.garfa.clamp = args.flag("--clamp-alpha");
  t.opt.steps = args.intOr("--steps", t.opt.steps);
  t.opt.warmupSteps = args.intOr("--warmup", t.opt.warmupSteps);
  t.opt.loraLr = args.doubleOr("--lr", t.opt.loraLr);
  t.opt.loraWeightDecay = args.doubleOr("--weight-decay", t.opt.loraWeightDecay);
  t.opt.garfaLr = args.doubleOr("--garfa-lr", t.opt.garfaLr);
  t.opt.batchSize = int(args.intOr("--batch", t.opt.batchSize));
  t.opt.gradAccum = int(args.intOr("--grad-accum", t.opt.gradAccum));
  t.opt.clipNorm = args.doubleOr("--clip", t.opt.clipNorm);
  t.opt.seed = uint64_t(args.intOr("--seed", 0));
  t.opt.checkpointEvery = args.intOr("--checkpoint-every", t.opt.checkpointEvery);
  t.dtype = core::parseComputeDtype(args.valueOr("--dtype", "float32"));
  return t;
}

// Step lines on stderr (first, every 10th, last) and to an optional log stream.
std::function<void(const core::StepReport&)> stepPrinter(const std::string& label, std::ostream* log) {
  return [label, log](const core::StepReport& r) {
    char line[256];
    std::snprintf(line, sizeof line, "%sstep %lld/%lld  loss %.4f  lr %.2e  grad %.3f  %.0f tok/s  ETA %.0f s", label.c_str(),
                  static_cast<long long>(r.step), static_cast<long long>(r.totalSteps), r.loss, r.lr, r.gradNorm,
                  r.tokensPerSecond, r.etaSeconds);
    if (log) *log << line << "\n" << std::flush;
    if (r.step == 1 || r.step % 10 == 0 || r.step == r.totalSteps) std::cerr << line << "\n";
  };
}

// An eval file: LayerScope task JSONL or a benchmark layout (auto-detected unless given).
core::Task loadEvalTask(const fs::path& path, const std::string& format, uint64_t seed) {
  core::BenchmarkOptions bo;
  bo.format = format == "auto" ? core::detectBenchmarkFormat(path) : core::parseBenchmarkFormat(format);
  bo.seed = seed;
  return core::loadBenchmark(path, bo);
}

core::ScoringOptions scoringFor(const core::Task& task, const fs::path& path) {
  core::ScoringOptions so;
  if (task.kind() == core::TaskKind::ShortAnswer) {
    try {
      so.extraction = core::parseAnswerExtraction(core::defaultExtractionName(core::detectBenchmarkFormat(path)));
    } catch (const Error&) {
    }
  }
  return so;
}

std::string taskKey(const core::Task& t) { return t.name; }

// --train FILE (task JSONL) or demo:N / demo:FAMILY:N (the demo suite's train split, never an eval prompt).
core::Task trainingTask(const std::string& spec, uint64_t seed) {
  if (auto t = core::demoTrainingTask(spec, seed)) return *t;
  return core::readTask(spec);
}

int runTrain(Args& args) {
  const fs::path modelDir = args.required("--model"), trainFile = args.required("--train"), out = args.required("--out");
  const auto evalFiles = splitCommaList(args.valueOr("--eval", ""));
  const std::string loraText = args.valueOr("--lora-layers", "none"), garfaText = args.valueOr("--garfa-layers", "none");
  const bool resume = args.flag("--resume");
  TrainArgs t = commonTrainArgs(args);
  args.finish();
  core::configureRuntime();
  auto model = core::LlamaModel::load(modelDir, t.dtype);
  auto tok = core::Tokenizer::fromFile(modelDir);
  const int L = model->config().numLayers;
  t.spec.lora.layers = layerArg(loraText, L, "--lora-layers");
  t.spec.garfa.layers = layerArg(garfaText, L, "--garfa-layers");
  t.spec.baseModel = fs::absolute(modelDir).string();
  auto train = trainingTask(trainFile.string(), t.opt.seed);
  std::vector<core::Task> evals;
  for (const auto& f : evalFiles) evals.push_back(loadEvalTask(f, "auto", t.opt.seed));
  auto adapters = core::AdapterSet::create(model->config(), t.spec, t.opt.seed);
  std::cerr << "LS-LoRA layers " << core::formatLayerList(t.spec.lora.layers) << " (" << adapters.loraParameterCount()
            << " params), GARFA layers " << core::formatLayerList(t.spec.garfa.layers) << " (" << adapters.garfaParameterCount()
            << " params); " << train.size() << " training items; " << core::bosPolicy(tok) << "\n";
  CancelOnSigint cancel;
  core::JobControl job(cancel.token());
  fs::create_directories(out);
  std::ofstream log(out / "train.log", std::ios::app);
  auto res = core::trainAdapters(*model, adapters, tok, train, t.opt, out, resume, stepPrinter("", &log), &job);
  std::cerr << "wrote " << out.string() << " (" << std::fixed << std::setprecision(1) << res.seconds << " s, "
            << std::setprecision(0) << res.tokensPerSecond << " tok/s)\n";
  if (!evals.empty()) {
    json ev = json::object();
    for (size_t i = 0; i < evals.size(); ++i) {
      auto prepared = core::prepareTask(tok, evals[i]);
      const auto so = scoringFor(evals[i], evalFiles[i]);
      const double base = core::evaluateWithAdapter(*model, nullptr, tok, prepared, so, &job).accuracy;
      const double tuned = core::evaluateWithAdapter(*model, &adapters, tok, prepared, so, &job).accuracy;
      std::cout << std::setprecision(4) << evals[i].name << ": base " << base << ", adapted " << tuned << " ("
                << std::showpos << std::fixed << std::setprecision(1) << 100 * (tuned - base) << std::noshowpos
                << std::defaultfloat << " pts)\n";
      ev[evals[i].name] = {{"base", base}, {"adapted", tuned}, {"file", evalFiles[i]}};
    }
    core::writeFileAtomically(out / "eval.json", ev.dump(2));
  }
  return 0;
}

int runMerge(Args& args) {
  const fs::path model = args.required("--model"), adapter = args.required("--adapter"), out = args.required("--out");
  args.finish();
  core::mergeAdapter(model, adapter, out);
  std::cerr << "wrote " << out.string() << (fs::exists(out / "garfa.safetensors") ? " (GARFA kept as a sidecar: load with --adapter "
                                                                                     + out.string() + ")" : "") << "\n";
  return 0;
}

// ---- ablation ----

struct Arm {
  std::string name;   // C1..C4, C5-s0..C5-s2
  std::string group;  // C1..C5
  std::vector<int> lora, garfa;
  uint64_t seed = 0;
};

std::vector<int> randomLayers(uint64_t seed, int L, size_t k) {
  std::vector<int> all(static_cast<size_t>(L));
  for (int l = 0; l < L; ++l) all[size_t(l)] = l;
  core::SuiteRng rng(core::splitmix64(seed ^ 0xab1a7e0000000000ULL));
  for (size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[size_t(rng.below(i))]);
  all.resize(std::min(k, all.size()));
  std::sort(all.begin(), all.end());
  return all;
}

json readJsonFile(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw InvalidArgument(p.string() + ": cannot be read");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw InvalidArgument(p.string() + ": invalid JSON: " + e.what());
  }
}

int runAblate(Args& args) {
  const fs::path modelDir = args.required("--model"), analysisDir = args.required("--analysis"),
                 trainFile = args.required("--train"), out = args.required("--out");
  const auto evalFiles = splitCommaList(args.required("--eval"));
  const std::string format = args.valueOr("--format", "auto");
  const int c5Seeds = int(args.intOr("--control-seeds", 3));
  TrainArgs t = commonTrainArgs(args);
  args.finish();
  core::configureRuntime();
  const json stats = readJsonFile(analysisDir / "stats.json");
  if (!stats.contains("top_k") || !stats["top_k"].contains("S_sens") || !stats["top_k"].contains("S_rope"))
    throw InvalidArgument((analysisDir / "stats.json").string() + ": no top_k.S_sens / top_k.S_rope (run `analyze` with sensitivity and rope)");
  const auto sSens = stats["top_k"]["S_sens"].get<std::vector<int>>(), sRope = stats["top_k"]["S_rope"].get<std::vector<int>>();

  auto model = core::LlamaModel::load(modelDir, t.dtype);
  auto tok = core::Tokenizer::fromFile(modelDir);
  const int L = model->config().numLayers;
  auto train = trainingTask(trainFile.string(), t.opt.seed);
  std::vector<core::Task> evals;
  std::vector<core::PreparedTask> prepared;
  std::vector<core::ScoringOptions> scoring;
  std::vector<std::string> taskNames;
  for (const auto& f : evalFiles) {
    evals.push_back(loadEvalTask(f, format, t.opt.seed));
    prepared.push_back(core::prepareTask(tok, evals.back()));
    scoring.push_back(scoringFor(evals.back(), f));
    taskNames.push_back(taskKey(evals.back()));
  }
  std::vector<Arm> arms = {{"C1", "C1", sSens, sSens, t.opt.seed},
                           {"C2", "C2", sSens, sRope, t.opt.seed},
                           {"C3", "C3", sRope, sSens, t.opt.seed},
                           {"C4", "C4", sRope, sRope, t.opt.seed}};
  for (int s = 0; s < c5Seeds; ++s) {
    const uint64_t seed = t.opt.seed + uint64_t(s);
    arms.push_back({"C5-s" + std::to_string(s), "C5", randomLayers(seed, L, sSens.size()),
                    randomLayers(seed + 7777, L, sRope.size()), seed});
  }
  fs::create_directories(out / "logs");
  CancelOnSigint cancel;
  core::JobControl job(cancel.token());
  auto evaluateAll = [&](const core::AdapterSet* a) {
    json acc = json::object(), accNorm = json::object();
    for (size_t i = 0; i < prepared.size(); ++i) {
      auto r = core::evaluateWithAdapter(*model, a, tok, prepared[i], scoring[i], &job);
      acc[taskNames[i]] = r.accuracy;
      accNorm[taskNames[i]] = r.accuracyNorm;
    }
    return std::make_pair(acc, accNorm);
  };
  const auto tAll = Clock::now();
  // Base model (cached: resumable like the arms).
  json base;
  if (fs::exists(out / "base.json")) base = readJsonFile(out / "base.json");
  if (base.is_null() || base.value("tasks", json()) != json(taskNames)) {
    const auto t0 = Clock::now();
    auto [acc, accNorm] = evaluateAll(nullptr);
    base = {{"accuracy", acc}, {"accuracy_norm", accNorm}, {"tasks", taskNames},
            {"wall_seconds", std::chrono::duration<double>(Clock::now() - t0).count()}};
    core::writeFileAtomically(out / "base.json", base.dump(2));
  }
  std::cerr << "base: " << base["accuracy"].dump() << "\n";
  std::vector<json> runs;
  for (const auto& arm : arms) {
    const fs::path dir = out / "arms" / arm.name;
    if (fs::exists(dir / "result.json")) {
      json done = readJsonFile(dir / "result.json");
      bool complete = true;
      for (const auto& task : taskNames) complete = complete && done["accuracy"].contains(task);
      if (complete) {
        runs.push_back(done);
        std::cerr << arm.name << ": done earlier, " << done["accuracy"].dump() << "\n";
        continue;
      }
    }
    core::AdapterSpec spec = t.spec;
    spec.lora.layers = arm.lora;
    spec.garfa.layers = arm.garfa;
    spec.baseModel = fs::absolute(modelDir).string();
    core::AdapterTrainOptions opt = t.opt;
    opt.seed = arm.seed;
    auto adapters = core::AdapterSet::create(model->config(), spec, arm.seed);
    std::cerr << arm.name << ": LoRA " << core::formatLayerList(arm.lora) << ", GARFA " << core::formatLayerList(arm.garfa)
              << ", seed " << arm.seed << "\n";
    std::ofstream log(out / "logs" / (arm.name + ".log"), std::ios::app);
    const auto t0 = Clock::now();
    const bool resume = fs::exists(dir / "train_options.json");
    auto res = core::trainAdapters(*model, adapters, tok, train, opt, dir, resume, stepPrinter(arm.name + " ", &log), &job);
    auto [acc, accNorm] = evaluateAll(&adapters);
    json r = {{"name", arm.name},
              {"group", arm.group},
              {"lora_layers", arm.lora},
              {"garfa_layers", arm.garfa},
              {"seed", arm.seed},
              {"trainable_parameters", res.loraParameters + res.garfaParameters},
              {"wall_seconds", std::chrono::duration<double>(Clock::now() - t0).count()},
              {"train_seconds", res.seconds},
              {"resumed_from_step", res.resumedFromStep},
              {"final_loss", res.losses.back()},
              {"accuracy", acc},
              {"accuracy_norm", accNorm}};
    core::writeFileAtomically(dir / "result.json", r.dump(2));
    std::cerr << arm.name << ": " << acc.dump() << "\n";
    runs.push_back(r);
  }
  // Report: C1..C4 as they are, C5 averaged over its seeds (runs kept).
  json armsJson = json::array();
  std::map<std::string, std::map<std::string, double>> accOf;
  for (const std::string group : {"C1", "C2", "C3", "C4", "C5"}) {
    std::vector<json> members;
    for (const auto& r : runs)
      if (r["group"] == group) members.push_back(r);
    if (members.empty()) continue;
    json a = {{"name", group}, {"lora_layers", members[0]["lora_layers"]}, {"garfa_layers", members[0]["garfa_layers"]}};
    double params = 0, wall = 0;
    json acc = json::object();
    for (const auto& task : taskNames) {
      double s = 0;
      for (const auto& m : members) s += m["accuracy"][task].get<double>();
      acc[task] = s / double(members.size());
      accOf[group][task] = s / double(members.size());
    }
    for (const auto& m : members) params += m["trainable_parameters"].get<double>(), wall += m["wall_seconds"].get<double>();
    a["trainable_parameters"] = static_cast<long long>(std::llround(params / double(members.size())));
    a["wall_seconds"] = wall;
    a["accuracy"] = acc;
    if (members.size() > 1) {
      a["runs"] = members;
      // Random layer sets differ per seed: the arm lists none, each run in "runs" lists its own.
      a["lora_layers"] = json::array();
      a["garfa_layers"] = json::array();
      a["seeds"] = members.size();
    }
    armsJson.push_back(a);
  }
  json report = {{"format", "layerscope.ablation/1"},
                 {"method", "4-way cross-layer ablation, METHODS section 8 (LayerScope operationalisation, see docs/adapters.md)"},
                 {"arms", armsJson},
                 {"base", base},
                 {"tasks", taskNames},
                 {"S_sens", sSens},
                 {"S_rope", sRope},
                 {"options", {{"steps", t.opt.steps}, {"seed", t.opt.seed}, {"batch", t.opt.batchSize}, {"lora_rank", t.spec.lora.rank},
                              {"lora_alpha", t.spec.lora.alpha}, {"lr", t.opt.loraLr}, {"garfa_lr", t.opt.garfaLr},
                              {"dtype", core::computeDtypeName(t.dtype)}, {"control_seeds", c5Seeds}, {"train", trainFile.string()},
                              {"eval", evalFiles}, {"analysis", analysisDir.string()}, {"model", modelDir.string()}}},
                 {"wall_seconds_this_run", std::chrono::duration<double>(Clock::now() - tAll).count()}};
  core::writeFileAtomically(out / "report.json", report.dump(2));
  std::ostringstream csv;
  csv << "arm,task,accuracy,delta_vs_base_pts,delta_vs_c1_pts,trainable_parameters,wall_seconds\n";
  csv << std::setprecision(10);
  for (const auto& task : taskNames) {
    const double b = base["accuracy"][task].get<double>();
    csv << "base," << task << "," << b << ",0," << (accOf.count("C1") ? 100 * (b - accOf["C1"][task]) : 0.0) << ",0,0\n";
  }
  for (const auto& a : armsJson)
    for (const auto& task : taskNames) {
      const double acc = a["accuracy"][task].get<double>();
      csv << a["name"].get<std::string>() << "," << task << "," << acc << "," << 100 * (acc - base["accuracy"][task].get<double>())
          << "," << 100 * (acc - accOf["C1"][task]) << "," << a["trainable_parameters"].get<long long>() << ","
          << a["wall_seconds"].get<double>() << "\n";
    }
  core::writeFileAtomically(out / "report.csv", csv.str());
  std::cout << csv.str();
  std::cerr << "wrote " << (out / "report.json").string() << " and report.csv\n";
  return 0;
}

// ---- bench train ----

int runBenchTrain(Args& args) {
  const fs::path dir = args.positional("MODEL_DIR");
  const int64_t tokens = args.intOr("--tokens", 128), batch = args.intOr("--batch", 4);
  const auto dtype = core::parseComputeDtype(args.valueOr("--dtype", "bfloat16"));
  const int steps = int(args.intOr("--steps", 4));
  const std::string loraText = args.valueOr("--lora-layers", "all"), garfaText = args.valueOr("--garfa-layers", "all");
  const int rank = int(args.intOr("--lora-rank", 16));
  args.finish();
  if (tokens < 2 || batch < 1 || steps < 2) throw InvalidArgument("--tokens >= 2, --batch >= 1 and --steps >= 2 are needed");
  const int threads = core::configureRuntime();
  auto model = core::LlamaModel::load(dir, dtype);
  const auto& c = model->config();
  core::AdapterSpec spec;
  spec.lora.layers = layerArg(loraText, c.numLayers, "--lora-layers");
  spec.garfa.layers = layerArg(garfaText, c.numLayers, "--garfa-layers");
  spec.lora.rank = rank;
  auto adapters = core::AdapterSet::create(c, spec, 0);
  // Random sequences, loss on every token after the first (what a packed fine-tuning batch costs).
  torch::manual_seed(0);
  std::vector<core::TrainSequence> seqs(static_cast<size_t>(batch));
  for (auto& s : seqs) {
    auto ids = torch::randint(0, c.vocabSize, {tokens}, torch::kInt64);
    s.context = {int32_t(ids[0].item<int64_t>())};
    for (int64_t i = 1; i < tokens; ++i) s.completion.push_back(int32_t(ids[i].item<int64_t>()));
  }
  std::vector<const core::TrainSequence*> ptrs;
  for (auto& s : seqs) ptrs.push_back(&s);
  std::vector<core::ParamGroup> groups;
  if (adapters.hasLora()) groups.push_back({"lora", adapters.loraParameters(), 2e-4, 0.0, {}});
  if (adapters.hasGarfa()) groups.push_back({"garfa", adapters.garfaParameters(), 1e-3, 0.0, {}});
  core::TrainerOptions to;
  to.steps = steps + 1;  // the first step is a warm-up
  core::Trainer trainer(groups, to);
  std::vector<double> stepSeconds;
  auto last = Clock::now();
  trainer.run([&](int64_t, int) { return core::completionLoss(*model, adapters.interventions(true), ptrs); },
              [&](const core::StepReport&) {
                const auto now = Clock::now();
                stepSeconds.push_back(std::chrono::duration<double>(now - last).count());
                last = now;
              });
  const double best = *std::min_element(stepSeconds.begin() + 1, stepSeconds.end());
  const int64_t M = batch * tokens;
  const double gemm = std::max({core::measureGemmRate(dtype, 2048, 2048, 2048),
                                core::measureGemmRate(dtype, M, c.hiddenSize, c.intermediateSize),
                                core::measureGemmRate(dtype, M, c.intermediateSize, c.hiddenSize)});
  // Frozen-base adapter step: forward 2PT + input gradients 2PT (no weight gradients for the base): ~4PT.
  const double flops = 4.0 * double(c.parameterCount()) * double(M);
  const double achieved = flops / best;
  json j = {{"model", dir.string()},
            {"parameters", c.parameterCount()},
            {"trainable_parameters", adapters.loraParameterCount() + adapters.garfaParameterCount()},
            {"lora_layers", core::formatLayerList(spec.lora.layers)},
            {"garfa_layers", core::formatLayerList(spec.garfa.layers)},
            {"lora_rank", rank},
            {"dtype", core::computeDtypeName(dtype)},
            {"threads", threads},
            {"batch", batch},
            {"tokens", tokens},
            {"step_seconds_best", best},
            {"step_seconds", stepSeconds},
            {"tokens_per_second", double(M) / best},
            {"flops_per_step_counted", flops},
            {"train_gflops", achieved / 1e9},
            {"gemm_gflops", gemm / 1e9},
            {"fraction_of_gemm", achieved / gemm}};
  std::cout << j.dump(2) << "\n";
  return 0;
}

const CommandRegistrar kTrain(
    {"train",
     "--model DIR --train FILE|demo:[FAMILY:]N [--eval FILE,...] [--lora-layers 23-31|all|none] [--garfa-layers 0-9|all|none] "
     "[--lora-rank 16] [--lora-alpha 32] [--lora-dropout 0.05] [--targets q,k,v,o,gate,up,down] [--steps 200] "
     "[--warmup N] [--lr 2e-4] [--weight-decay 0] [--garfa-lr 1e-3] [--clamp-alpha] [--batch 8] [--grad-accum 1] "
     "[--clip 1] [--seed 0] [--dtype float32|bfloat16] [--checkpoint-every 50] --out DIR [--resume]",
     "fine-tune LS-LoRA and/or GARFA adapters on a task file (base frozen); PEFT files in --out", runTrain});
const CommandRegistrar kMerge({"merge", "--model DIR --adapter DIR --out DIR",
                               "write a full HF checkpoint with LoRA folded in (GARFA copied beside it as a sidecar)",
                               runMerge});
const CommandRegistrar kAblate(
    {"ablate",
     "--model DIR --analysis RESULTS_DIR --train FILE|demo:[FAMILY:]N --eval FILE[,FILE...] --out DIR [--steps 200] [--seed 0] "
     "[--control-seeds 3] [--format auto] [training options of train]",
     "the 4-way cross-layer ablation C1-C5 (METHODS 8) plus the base model; report.json / report.csv; resumes arm by arm",
     runAblate});
const CommandRegistrar kBenchTrain(
    {"bench train", "MODEL_DIR [--tokens 128] [--batch 4] [--dtype bfloat16] [--steps 4] [--lora-layers all] "
                    "[--garfa-layers all] [--lora-rank 16]",
     "adapter training tokens/s and the fraction of this machine's GEMM rate (4 x params x tokens per step)", runBenchTrain});

}  // namespace
}  // namespace layerscope::app
