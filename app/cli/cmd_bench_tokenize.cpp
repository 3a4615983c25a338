// `layerscope-cli bench tokenize`: encode throughput in MB/s, to compare with
// tests/reference/tokenizer/bench_reference.js on the same file. Part of layerscope-cli-model because the benchmark
// code lives in experiments/ (LibTorch).
#include <iostream>

#include "app/cli/command.h"
#include "experiments/bench.h"

namespace layerscope::app {
namespace {

int runBench(Args& args) {
  experiments::TokenizeBenchRequest r;
  r.tokenizer = args.required("--tokenizer");
  r.input = args.required("--input");
  r.repeat = args.intOr("--repeat", r.repeat);
  args.finish();
  const auto res = experiments::benchTokenize(r);
  std::cout << "tokenizer " << r.tokenizer.string() << " (load " << res.loadSeconds << " s)\ninput " << r.input.string()
            << ": " << res.bytes << " bytes -> " << res.ids << " ids\nencode, single thread: first pass " << res.firstPassMBps
            << " MB/s (cold word cache), best of " << r.repeat << " warm passes " << res.bestMBps << " MB/s\n";
  return 0;
}

const CommandRegistrar kBench({"bench tokenize", "--tokenizer PATH --input TEXTFILE [--repeat N]",
                               "tokenizer encode throughput in MB/s (single thread)", runBench});

}  // namespace
}  // namespace layerscope::app
