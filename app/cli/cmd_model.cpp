// layerscope-cli model commands: info, logits, make-model, bench forward.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "app/cli/device_option.h"
#include "core/model/checkpoint.h"
#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/model/model.h"
#include "core/model/npy.h"
#include "core/model/random_checkpoint.h"
#include "core/model/runtime.h"
#include "core/text/tokenizer.h"
#include "core/train/adapters.h"
#include "experiments/bench.h"

namespace layerscope::app {
namespace {

namespace fs = std::filesystem;

void printWarnings(const core::Checkpoint& ck) {
  if (ck.unexpected().empty()) return;
  std::cerr << "layerscope-cli: warning: " << ck.unexpected().size()
            << " tensor(s) in the checkpoint are not used by the model, e.g. '" << ck.unexpected().front() << "'\n";
}

int runLogits(Args& args) {
  const fs::path dir = args.positional("MODEL_DIR");
  const auto ids = parseIntList(args.required("--ids"), "--ids");
  const auto dtype = core::parseComputeDtype(args.valueOr("--dtype", "float32"));
  const auto device = core::parseDevice(deviceOption(args));
  const fs::path adapter = args.valueOr("--adapter", "");
  const fs::path out = args.required("--out");
  const fs::path hiddenOut = args.valueOr("--hidden-out", "");
  args.finish();
  auto ck = core::Checkpoint::open(dir);
  printWarnings(ck);
  core::LoadedModel loaded;
  loaded.model = core::LlamaModel::fromCheckpoint(ck, dtype, device);
  if (!adapter.empty())
    loaded.adapter = std::make_shared<const core::AdapterSet>(core::AdapterSet::load(adapter, loaded.model->config()));
  const auto& model = loaded.model;
  const int L = model->config().numLayers;
  c10::InferenceMode guard;
  core::ForwardInput in;
  in.inputIds = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()),
                              torch::TensorOptions().dtype(torch::kInt64).device(core::hostDevice())).unsqueeze(0);
  // --hidden-out: Hugging Face's output_hidden_states (the input of every layer, then the final norm's output).
  core::TensorCapture capture;
  if (!hiddenOut.empty()) capture.requestAllLayers(core::Site::ResidPre, L);
  const core::Interventions iv = loaded.interventions();
  auto res = model->forward(in, loaded.adapter ? &iv : nullptr, hiddenOut.empty() ? nullptr : &capture);
  core::writeNpy(out, res.logits.squeeze(0).to(core::hostDevice(), torch::kFloat32));  // [T,V]
  std::cerr << "wrote " << out.string() << " [" << ids.size() << ", " << model->config().vocabSize << "] float32 ("
            << core::deviceName(device) << ", " << core::computeDtypeName(dtype) << ")\n";
  if (!torch::isfinite(res.logits).all().item<bool>())  // written anyway; the analyses refuse such states
    std::cerr << "layerscope-cli: warning: the logits contain NaN or inf (non-finite weights, or an overflow in "
              << core::computeDtypeName(dtype) << ")\n";
  if (!hiddenOut.empty()) {
    std::vector<torch::Tensor> states;
    for (int l = 0; l < L; ++l) states.push_back(capture.get(l, core::Site::ResidPre).squeeze(0));
    states.push_back(res.finalHidden.squeeze(0).to(core::hostDevice(), torch::kFloat32));
    core::writeNpy(hiddenOut, torch::stack(states));  // [L+1, T, D]
    std::cerr << "wrote " << hiddenOut.string() << " [" << L + 1 << ", " << ids.size() << ", "
              << model->config().hiddenSize << "] float32\n";
  }
  return 0;
}

int runMakeModel(Args& args) {
  const std::string preset = args.valueOr("--preset", "tiny");
  const fs::path out = args.required("--out");
  core::RandomCheckpointOptions opt;
  opt.seed = uint64_t(args.intOr("--seed", 0));
  opt.shards = int(args.intOr("--shards", 1));
  const std::string dt = args.valueOr("--dtype", "float32");
  opt.storedDtype = core::parseComputeDtype(dt) == torch::kBFloat16 ? core::StDtype::BF16 : core::StDtype::F32;
  const fs::path tokenizerFile = args.valueOr("--tokenizer", "");
  const bool overwrite = args.flag("--overwrite");
  args.finish();
  auto config = core::presetConfig(preset);
  // Everything that can be refused is refused before gigabytes are drawn.
  if (fs::exists(out) && !overwrite)
    throw InvalidArgument("make-model: '" + out.string() + "' already exists (pass --overwrite to replace it)");
  std::vector<fs::path> tokenizerFiles;
  if (!tokenizerFile.empty()) {
    const fs::path json = fs::is_directory(tokenizerFile) ? tokenizerFile / "tokenizer.json" : tokenizerFile;
    const auto tok = core::Tokenizer::fromFile(json);  // a TokenizerError names the file and the problem
    if (tok.vocabSize() > config.vocabSize)
      throw InvalidArgument("make-model: " + json.string() + " has " + std::to_string(tok.vocabSize()) +
                            " token ids, more than the '" + preset + "' vocabulary of " +
                            std::to_string(config.vocabSize));
    tokenizerFiles.push_back(json);
    for (const char* extra : {"tokenizer_config.json", "special_tokens_map.json"})
      if (fs::exists(json.parent_path() / extra)) tokenizerFiles.push_back(json.parent_path() / extra);
  }
  // Staged and moved into place complete (docs/hardening.md): a killed 16 GB generation leaves no half model.
  core::writeDirectoryAtomically(out, overwrite, [&](const fs::path& staging) {
    core::writeRandomCheckpoint(staging, config, opt);
    for (const auto& f : tokenizerFiles) fs::copy_file(f, staging / f.filename());
  });
  std::cerr << "wrote random '" << preset << "' checkpoint (" << config.parameterCount() << " parameters, " << dt
            << (opt.shards > 1 ? ", " + std::to_string(opt.shards) + " shards" : std::string()) << ")"
            << (tokenizerFiles.empty() ? std::string(" without a tokenizer") : " with " + tokenizerFile.string())
            << " to " << out.string() << "\n";
  return 0;
}

// `bench forward --sweep`: one line per cell, as it is measured (JSON lines on stdout, a table on stderr).
int runBenchForwardSweep(Args& args, const fs::path& dir) {
  experiments::ForwardSweepRequest r;
  r.modelDir = dir;
  auto ints = [&](const char* name, std::vector<std::int64_t>& into) {
    if (auto v = args.value(name)) {
      into.clear();
      for (long long x : parseIntList(*v, name)) into.push_back(x);
    }
  };
  ints("--batches", r.batches);
  ints("--tokens-list", r.tokens);
  if (auto v = args.value("--dtypes")) {
    r.dtypes.clear();
    std::stringstream ss(*v);
    for (std::string d; std::getline(ss, d, ',');) r.dtypes.push_back(d);
  }
  r.reps = int(args.intOr("--reps", r.reps));
  r.gemmRate = !args.flag("--no-gemm-rate");
  r.device = deviceOption(args);
  args.finish();
  // "of GEMM": of the machine's GEMM rate; "of products": of the forward's weight products alone (bench.h).
  std::cerr << "dtype      batch  tokens      tok/s  of GEMM  of products\n";
  experiments::benchForwardSweep(r, [&](const nlohmann::json& cell) {
    std::cout << cell.dump() << std::endl;
    auto percent = [&](const char* key) {
      return cell.contains(key) ? std::to_string(int(std::lround(100 * cell[key].get<double>()))) + "%" : "-";
    };
    char line[160];
    std::snprintf(line, sizeof line, "%-9s %6lld %7lld %10.0f  %7s  %11s\n", cell["dtype"].get<std::string>().c_str(),
                  cell["batch"].get<long long>(), cell["tokens"].get<long long>(), cell["tokens_per_second"].get<double>(),
                  percent("fraction_of_gemm").c_str(), percent("fraction_of_products").c_str());
    std::cerr << line;
  });
  return 0;
}

int runBenchForward(Args& args) {
  experiments::ForwardBenchRequest r;
  r.modelDir = args.positional("MODEL_DIR");
  if (args.flag("--sweep")) return runBenchForwardSweep(args, r.modelDir);
  r.tokens = args.intOr("--tokens", r.tokens);
  r.batch = args.intOr("--batch", r.batch);
  r.dtype = args.valueOr("--dtype", r.dtype);
  r.reps = int(args.intOr("--reps", r.reps));
  r.device = deviceOption(args);
  args.finish();
  std::cout << experiments::benchForward(r).dump(2) << "\n";
  return 0;
}

const CommandRegistrar kLogits({"logits",
                                "MODEL_DIR --ids 1,2,3 [--dtype float32|bfloat16] [--device cpu|cuda|cuda:N] [--adapter DIR] "
                                "--out FILE.npy [--hidden-out FILE.npy]",
                                "write the float32 logits [T, vocab] of one sequence as a NumPy .npy file (--hidden-out: "
                                "the [L+1, T, D] hidden states, as transformers' output_hidden_states)",
                                runLogits});
const CommandRegistrar kMakeModel({"make-model",
                                   "--out DIR [--preset tiny|small|1b|llama31-8b] [--seed S] [--dtype float32|bfloat16] [--shards N] "
                                   "[--tokenizer FILE] [--overwrite]",
                                   "write a random-weight Llama checkpoint (tests and benchmarks)", runMakeModel});
const CommandRegistrar kBenchForward(
    {"bench forward",
     "MODEL_DIR [--tokens 128] [--batch 1] [--dtype bfloat16] [--reps 5] [--device D] | MODEL_DIR --sweep [--batches 1,8] "
     "[--tokens-list 32,64,128,256,512,1024] [--dtypes float32,bfloat16] [--reps 5] [--no-gemm-rate] [--device D]",
     "forward tokens/s, this machine's GEMM rate measured in the same run, and the fraction achieved, also of the "
     "forward's weight products alone (--sweep: a grid)",
     runBenchForward});

}  // namespace
}  // namespace layerscope::app
