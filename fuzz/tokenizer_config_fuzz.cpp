// Fuzz target: tokenizer_config.json beside a fixed, valid tokenizer.json (the demo model's), through
// Tokenizer::withConfig (the step of fromJson / fromFile that reads this file), then an encode with special
// tokens (bos/eos come from this file). The tokenizer.json is parsed once: parsing it again for every input
// was about 95% of the time (30,000 inputs: 21 s, now 1 s), and fuzz_tokenizer fuzzes that file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/text/tokenizer.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  static const core::Tokenizer base =
      core::Tokenizer::fromJson(fuzz::readFile(fuzz::sourcePath("resources/models/demo/tokenizer.json")), {},
                                "fuzz/tokenizer.json");
  fuzz::guarded([&] {
    const auto tok = base.withConfig(std::string_view(reinterpret_cast<const char*>(data), size),
                                     "fuzz/tokenizer_config.json");
    const auto ids = tok.encode("<|bos|>The cat sat.<|eos|>", {.addSpecialTokens = true});
    (void)tok.decode(ids, true);
    if (auto b = tok.bosId(); b && (*b < 0 || *b >= tok.vocabSize())) fuzz::finding("bos id outside the vocabulary");
    if (auto e = tok.eosId(); e && (*e < 0 || *e >= tok.vocabSize())) fuzz::finding("eos id outside the vocabulary");
  });
  return 0;
}
