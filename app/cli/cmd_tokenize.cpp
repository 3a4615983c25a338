// `layerscope-cli tokenize`: text -> ids as a JSON array, or --decode ids -> text. No LibTorch: this command runs
// in the light launcher (app/cli/main.cpp), so it starts in milliseconds.
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "core/base/error.h"
#include "core/text/tokenizer.h"

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

const CommandRegistrar kTokenize({"tokenize",
                                  "--tokenizer PATH/tokenizer.json|MODEL_DIR (--text STR [--add-special] "
                                  "[--plain-special] | --decode 1,2,3 [--skip-special])",
                                  "encode text to token ids (JSON array) or decode ids to text", runTokenize});


}  // namespace
}  // namespace layerscope::app
