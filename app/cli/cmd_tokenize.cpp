// `layerscope-cli tokenize` (text -> ids as a JSON array, or --decode ids -> text) and `bench tokenize`
// (encode throughput in MB/s, to compare with tests/reference/tokenizer/bench_reference.js on the same file).
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "core/error.h"
#include "core/tokenizer.h"

namespace layerscope::app {
namespace {

int runTokenize(Args& args) {
  const std::string path = args.required("--tokenizer");
  const auto text = args.value("--text");
  const auto decode = args.value("--decode");
  const bool addSpecial = args.flag("--add-special");
  const bool plainSpecial = args.flag("--plain-special");
  const bool skipSpecial = args.flag("--skip-special");
  args.finish();
  if (text.has_value() == decode.has_value()) throw InvalidArgument("tokenize: give exactly one of --text or --decode");
  const auto tok = core::Tokenizer::fromFile(path);
  if (text) {
    auto ids = tok.encode(*text, {.addSpecialTokens = addSpecial, .parseSpecialTokens = !plainSpecial});
    std::cout << nlohmann::json(ids).dump() << "\n";
  } else {
    std::vector<int32_t> ids;
    for (long long v : parseIntList(*decode, "--decode")) ids.push_back(static_cast<int32_t>(v));
    std::cout << tok.decode(ids, skipSpecial) << "\n";
  }
  return 0;
}

int runBench(Args& args) {
  const std::string path = args.required("--tokenizer");
  const std::string input = args.required("--input");
  const long long repeat = args.intOr("--repeat", 5);
  args.finish();
  std::ifstream in(input, std::ios::binary);
  if (!in) throw InvalidArgument("bench tokenize: cannot open --input " + input);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  const auto tok = core::Tokenizer::fromFile(path);
  const double loadS = std::chrono::duration<double>(Clock::now() - t0).count();
  const double mb = static_cast<double>(text.size()) / 1e6;
  size_t nIds = 0;
  double first = 0, best = 1e300;
  for (long long r = 0; r < 1 + std::max(1LL, repeat); ++r) {
    auto t = Clock::now();
    nIds = tok.encode(text).size();
    const double s = std::chrono::duration<double>(Clock::now() - t).count();
    if (r == 0) first = s;
    else best = std::min(best, s);
  }
  std::cout << "tokenizer " << path << " (load " << loadS << " s)\ninput " << input << ": " << text.size()
            << " bytes -> " << nIds << " ids\nencode, single thread: first pass " << mb / first
            << " MB/s (cold word cache), best of " << repeat << " warm passes " << mb / best << " MB/s\n";
  return 0;
}

const CommandRegistrar kTokenize({"tokenize",
                                  "--tokenizer PATH/tokenizer.json|MODEL_DIR (--text STR [--add-special] "
                                  "[--plain-special] | --decode 1,2,3 [--skip-special])",
                                  "encode text to token ids (JSON array) or decode ids to text", runTokenize});
const CommandRegistrar kBench({"bench tokenize", "--tokenizer PATH --input TEXTFILE [--repeat N]",
                               "tokenizer encode throughput in MB/s (single thread)", runBench});

}  // namespace
}  // namespace layerscope::app
