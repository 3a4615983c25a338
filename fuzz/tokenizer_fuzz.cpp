// Fuzz target: tokenizer.json (+ tokenizer_config.json) loading through Tokenizer::fromFile, then encoding and
// decoding with the loaded tokenizer. Input sections (fuzz_util.h): tokenizer.json first, then optional
// "@@ tokenizer_config.json" and "@@ text" (the text to encode; a few fixed strings when absent).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/text/tokenizer.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  auto parts = fuzz::sections(std::string_view(reinterpret_cast<const char*>(data), size), "tokenizer.json");
  const auto dir = fuzz::scratch() / "tokenizer";
  std::filesystem::create_directories(dir);
  fuzz::writeFile(dir / "tokenizer.json", parts["tokenizer.json"]);
  std::error_code ec;
  std::filesystem::remove(dir / "tokenizer_config.json", ec);
  if (parts.count("tokenizer_config.json")) fuzz::writeFile(dir / "tokenizer_config.json", parts["tokenizer_config.json"]);
  std::vector<std::string> texts = {"Hello world", " 12+34=46\n\tTab  spaces", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87",
                                    "<|bos|><s></s><|begin_of_text|>x"};
  if (parts.count("text")) texts = {parts["text"]};
  fuzz::guarded([&] {
    const auto tok = core::Tokenizer::fromFile(dir);
    for (const auto& text : texts) {
      for (bool special : {false, true}) {
        const auto ids = tok.encode(text, {.addSpecialTokens = special, .parseSpecialTokens = special});
        for (int32_t id : ids)
          if (id < 0 || id >= tok.vocabSize()) fuzz::finding("encode produced id " + std::to_string(id) + " outside the vocabulary");
        (void)tok.decode(ids, special);
        core::StreamingDecoder stream(tok, special);
        for (int32_t id : ids) (void)stream.push(id);
        (void)stream.flush();
      }
    }
    (void)tok.bosId();
    (void)tok.eosId();
  });
  return 0;
}
