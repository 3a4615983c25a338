// layerscope-cli model commands: info, logits, make-model, bench forward.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "core/adapter_training.h"  // measureGemmRate
#include "core/checkpoint.h"
#include "core/error.h"
#include "core/model.h"
#include "core/npy.h"
#include "core/random_checkpoint.h"
#include "core/runtime.h"

namespace layerscope::app {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

void printWarnings(const core::Checkpoint& ck) {
  if (ck.unexpected().empty()) return;
  std::cerr << "layerscope-cli: warning: " << ck.unexpected().size()
            << " tensor(s) in the checkpoint are not used by the model, e.g. '" << ck.unexpected().front() << "'\n";
}

int runInfo(Args& args) {
  const fs::path dir = args.positional("MODEL_DIR");
  args.finish();
  auto ck = core::Checkpoint::open(dir);
  printWarnings(ck);
  nlohmann::json j = ck.config().summary();
  j["stored_dtype"] = ck.storedDtype();
  j["file_bytes"] = ck.fileBytes();
  j["unexpected_tensors"] = ck.unexpected();
  std::cout << j.dump(2) << "\n";
  return 0;
}

int runLogits(Args& args) {
  const fs::path dir = args.positional("MODEL_DIR");
  const auto ids = parseIntList(args.required("--ids"), "--ids");
  const auto dtype = core::parseComputeDtype(args.valueOr("--dtype", "float32"));
  const fs::path out = args.required("--out");
  args.finish();
  auto ck = core::Checkpoint::open(dir);
  printWarnings(ck);
  auto model = core::LlamaModel::fromCheckpoint(ck, dtype);
  c10::InferenceMode guard;
  core::ForwardInput in;
  in.inputIds = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64).unsqueeze(0);
  auto res = model->forward(in);
  core::writeNpy(out, res.logits.squeeze(0).to(torch::kFloat32));  // [T,V]
  std::cerr << "wrote " << out.string() << " [" << ids.size() << ", " << model->config().vocabSize << "] float32\n";
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
  args.finish();
  auto config = core::presetConfig(preset);
  core::writeRandomCheckpoint(out, config, opt);
  std::cerr << "wrote random '" << preset << "' checkpoint (" << config.parameterCount() << " parameters, " << dt
            << ") to " << out.string() << "\n";
  return 0;
}

long peakRssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

int runBenchForward(Args& args) {
  const fs::path dir = args.positional("MODEL_DIR");
  const int64_t tokens = args.intOr("--tokens", 128);
  const int64_t batch = args.intOr("--batch", 1);
  const auto dtype = core::parseComputeDtype(args.valueOr("--dtype", "bfloat16"));
  const int reps = int(args.intOr("--reps", 5));
  args.finish();
  if (tokens < 1 || batch < 1 || reps < 1) throw InvalidArgument("--tokens, --batch and --reps must be positive");
  const int threads = core::configureRuntime();

  const long rssBefore = peakRssKiB();
  auto t0 = Clock::now();
  auto ck = core::Checkpoint::open(dir);
  auto model = core::LlamaModel::fromCheckpoint(ck, dtype);
  const double loadSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const long rssAfterLoad = peakRssKiB();
  const auto& c = model->config();

  c10::InferenceMode guard;
  torch::manual_seed(0);
  core::ForwardInput in;
  in.inputIds = torch::randint(0, c.vocabSize, {batch, tokens}, torch::kInt64);
  model->forward(in);  // warm-up (also faults in the mapped weights)
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    auto s = Clock::now();
    model->forward(in);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - s).count());
  }
  const long rssAfterForward = peakRssKiB();
  // The machine's own limit, measured now: the best of a large square GEMM and the model's own MLP shapes.
  const int64_t M = batch * tokens;
  const double gemm = std::max({core::measureGemmRate(dtype, 2048, 2048, 2048),
                                core::measureGemmRate(dtype, M, c.hiddenSize, c.intermediateSize),
                                core::measureGemmRate(dtype, M, c.intermediateSize, c.hiddenSize)});
  const double flops = 2.0 * double(c.parameterCount()) * double(batch * tokens);
  const double achieved = flops / best;
  nlohmann::json j = {{"model", dir.string()},
                      {"parameters", c.parameterCount()},
                      {"dtype", core::computeDtypeName(dtype)},
                      {"stored_dtype", ck.storedDtype()},
                      {"threads", threads},
                      {"batch", batch},
                      {"tokens", tokens},
                      {"forward_seconds_best", best},
                      {"tokens_per_second", double(batch * tokens) / best},
                      {"forward_gflops", achieved / 1e9},
                      {"gemm_gflops", gemm / 1e9},
                      {"fraction_of_gemm", achieved / gemm},
                      {"load_seconds", loadSeconds},
                      {"file_bytes", ck.fileBytes()},
                      {"peak_rss_bytes_before_load", rssBefore * 1024},
                      {"peak_rss_bytes_after_load", rssAfterLoad * 1024},
                      {"peak_rss_bytes_after_forward", rssAfterForward * 1024},
                      {"peak_rss_after_forward_over_file_size", double(rssAfterForward) * 1024 / double(ck.fileBytes())}};
  std::cout << j.dump(2) << "\n";
  return 0;
}

const CommandRegistrar kInfo({"info", "MODEL_DIR", "print a JSON summary of a Hugging Face checkpoint", runInfo});
const CommandRegistrar kLogits({"logits", "MODEL_DIR --ids 1,2,3 [--dtype float32|bfloat16] --out FILE.npy",
                                "write the float32 logits [T, vocab] of one sequence as a NumPy .npy file", runLogits});
const CommandRegistrar kMakeModel({"make-model",
                                   "--out DIR [--preset tiny|small|1b] [--seed S] [--dtype float32|bfloat16] [--shards N]",
                                   "write a random-weight Llama checkpoint (tests and benchmarks)", runMakeModel});
const CommandRegistrar kBenchForward(
    {"bench forward", "MODEL_DIR [--tokens 128] [--batch 1] [--dtype bfloat16] [--reps 5]",
     "forward tokens/s, this machine's GEMM rate measured in the same run, and the fraction achieved", runBenchForward});

}  // namespace
}  // namespace layerscope::app
