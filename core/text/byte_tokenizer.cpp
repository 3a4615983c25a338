// Byte-level tokenizer.json writer (see byte_tokenizer.h).
#include "core/text/byte_tokenizer.h"

#include <nlohmann/json.hpp>
#include <string>

#include "core/base/atomic_file.h"

namespace layerscope::core {
namespace {

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards, in byte order.
std::string byteToUnicode(int b) {
  static const auto table = [] {
    std::vector<int> cp(256, -1);
    int next = 256;
    for (int i = 0; i < 256; ++i) {
      const bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255);
      cp[size_t(i)] = printable ? i : next++;
    }
    return cp;
  }();
  const int c = table[size_t(b)];
  std::string s;
  if (c < 0x80) {
    s += char(c);
  } else {
    s += char(0xC0 | (c >> 6));
    s += char(0x80 | (c & 0x3F));
  }
  return s;
}

}  // namespace

void writeByteLevelTokenizer(const std::filesystem::path& dir) {
  using nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byteToUnicode(b)] = b;
  const char* specials[] = {"<|bos|>", "<|eos|>", "<|pad|>"};
  json added = json::array();
  for (int i = 0; i < 3; ++i) {
    vocab[specials[i]] = 256 + i;
    added.push_back({{"id", 256 + i}, {"content", specials[i]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  json tok = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", json::array({{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
        {"special_tokens", {{"<|bos|>", {{"id", "<|bos|>"}, {"ids", {kByteBos}}, {"tokens", {"<|bos|>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", vocab}, {"merges", json::array()}}}};
  json cfg = {{"bos_token", "<|bos|>"}, {"eos_token", "<|eos|>"}, {"pad_token", "<|pad|>"},
              {"add_bos_token", true}, {"add_eos_token", false},
              {"model_max_length", 4096}, {"tokenizer_class", "PreTrainedTokenizerFast"}};
  writeFileAtomically(dir / "tokenizer.json", tok.dump(1));
  writeFileAtomically(dir / "tokenizer_config.json", cfg.dump(1));
}

}  // namespace layerscope::core
