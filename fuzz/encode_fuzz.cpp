// Fuzz target: encoding fuzzed text with fixed, valid tokenizers (the demo byte-level BPE and the small
// Llama 3 / Llama 2 style tokenizers under fuzz/data/), as untrusted user text (no special-token parsing) and
// with special tokens. Properties: ids inside the vocabulary; for the demo byte-level tokenizer, decode(encode(x))
// gives x back for valid UTF-8 text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/text/tokenizer.h"
#include "fuzz/fuzz_util.h"

namespace {

bool validUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  static const std::vector<core::Tokenizer> tokenizers = [] {
    std::vector<core::Tokenizer> t;
    t.push_back(core::Tokenizer::fromFile(fuzz::sourcePath("resources/models/demo")));
    t.push_back(core::Tokenizer::fromFile(fuzz::sourcePath("fuzz/data/llama3_small/tokenizer.json")));
    t.push_back(core::Tokenizer::fromFile(fuzz::sourcePath("fuzz/data/llama2_small/tokenizer.json")));
    return t;
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::guarded([&] {
    for (size_t k = 0; k < tokenizers.size(); ++k) {
      const auto& tok = tokenizers[k];
      for (bool special : {false, true}) {
        const auto ids = tok.encode(text, {.addSpecialTokens = special, .parseSpecialTokens = special});
        for (int32_t id : ids)
          if (id < 0 || id >= tok.vocabSize()) fuzz::finding("encode produced id " + std::to_string(id) + " outside the vocabulary");
        const std::string back = tok.decode(ids, false);
        if (k == 0 && !special && validUtf8(text) && back != text)
          fuzz::finding("demo tokenizer: decode(encode(x)) != x for valid UTF-8 x");
      }
    }
  });
  return 0;
}
