// The benchmarks' measurements (`layerscope-cli bench ...`): forward and adapter-training throughput against
// this machine's GEMM rate measured in the same run, each analysis timed against one forward pass, and tokenizer
// throughput. Performance targets live here, never in timed unit tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerscope::experiments {

struct ForwardBenchRequest {
  std::filesystem::path modelDir;
  std::int64_t tokens = 128, batch = 1;
  std::string dtype = "bfloat16";
  std::string device = "auto";     ///< cpu | cuda | cuda:N | auto (cuda when available, else cpu)
  int reps = 5;  ///< timed forwards after one warm-up; the best is reported
};
/// tokens/s, forward GFLOP/s (2 x params x tokens), the GEMM rate, the forward's weight products alone (the
/// forward's own limit: LlamaModel::runProducts, timed the same way; fraction_of_products is their time over the
/// forward's), load time and peak RSS (JSON object).
nlohmann::json benchForward(const ForwardBenchRequest& request);

struct ForwardSweepRequest {
  std::filesystem::path modelDir;
  std::vector<std::int64_t> batches{1, 8}, tokens{32, 64, 128, 256, 512, 1024};
  std::vector<std::string> dtypes{"float32", "bfloat16"};
  std::string device = "auto";     ///< cpu | cuda | cuda:N | auto (cuda when available, else cpu)
  int reps = 5;           ///< timed forwards per cell after one warm-up; the best is reported
  bool gemmRate = true;   ///< also measure the GEMM rate per cell (~2 s a cell); off for side-by-side runs
};
/// One benchForward-style cell per (dtype, batch, tokens), in that order, each passed to `onCell` as soon as it
/// is measured (JSON object: batch, tokens, dtype, tokens_per_second, and fraction_of_gemm and the products-only
/// figures when the GEMM rate is measured).
void benchForwardSweep(const ForwardSweepRequest& request, const std::function<void(const nlohmann::json&)>& onCell);

struct TrainBenchRequest {
  std::filesystem::path modelDir;
  std::int64_t tokens = 128, batch = 4;
  std::string dtype = "bfloat16";
  std::string device = "auto";     ///< cpu | cuda | cuda:N | auto (cuda when available, else cpu)
  int steps = 4;  ///< timed steps after one warm-up step
  std::string loraLayers = "all", garfaLayers = "all";
  int loraRank = 16;
};
/// One frozen-base adapter step on random sequences: seconds, tokens/s, GFLOP/s (4 x params x tokens) and the
/// fraction of the GEMM rate, and the same products alone with their input gradients (JSON object).
nlohmann::json benchTrain(const TrainBenchRequest& request);

struct AnalyzeBenchRequest {
  std::filesystem::path modelDir, taskFile;
  int batch = 8;
  std::string dtype = "float32";
  std::string device = "auto";     ///< cpu | cuda | cuda:N | auto (cuda when available, else cpu)
  bool pipeline = true;  ///< also time the whole default `analyze`
};
struct BenchRow {
  std::string name;
  double seconds = 0;
  std::string note;
};
struct AnalyzeBenchResult {
  std::string header;         ///< model and task summary
  double forwardSeconds = 0;  ///< one forward pass over every request of the task
  std::vector<BenchRow> rows;
  std::vector<std::string> notes;  ///< analyses that could not run, and why
  std::string verdict;             ///< of the full pipeline, when run
};
/// Times evaluation, sensitivity, each RoPE mode, redundancy and (optionally) the whole pipeline.
AnalyzeBenchResult benchAnalyze(const AnalyzeBenchRequest& request);

struct TokenizeBenchRequest {
  std::filesystem::path tokenizer, input;
  long long repeat = 5;
};
struct TokenizeBenchResult {
  double loadSeconds = 0, firstPassMBps = 0, bestMBps = 0;
  std::size_t bytes = 0, ids = 0;
};
/// Single-thread encode throughput: the first (cold word cache) pass and the best of `repeat` warm passes.
TokenizeBenchResult benchTokenize(const TokenizeBenchRequest& request);

/// Peak resident set of this process so far (VmHWM), bytes; -1 when unknown.
long long peakRssBytes();

}  // namespace layerscope::experiments
