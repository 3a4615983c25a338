// Hugging Face tokenizer.json tokenizer (BPE family: Llama 2/3.x, Mistral, Qwen2, SmolLM, TinyLlama), in C++,
// producing exactly the ids of the reference library (Hugging Face `tokenizers`). No torch, no Qt.
// Unsupported components are a TokenizerError naming the component, never an approximation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace layerscope::core {

/// Options for Tokenizer::encode.
struct EncodeOptions {
  /// Add the post-processor's special tokens (BOS for Llama). Never adds a BOS when the encoded text already
  /// starts with one (deliberate difference from the reference, which would give two).
  bool addSpecialTokens = false;
  /// Match special-token text ("<|eot_id|>", "<s>") in the input as the special token. false: such text is
  /// encoded as plain text, which is what untrusted user input should get (HF `encode_special_tokens`).
  bool parseSpecialTokens = true;
};

namespace tokenizer_detail {
struct Impl;
/// The part of a tokenizer that tokenizer_config.json may set: the ids added around a sequence by
/// encode(addSpecialTokens) and the BOS / EOS ids.
struct Specials {
  std::vector<int32_t> before;  ///< ids placed before the sequence
  std::vector<int32_t> after;   ///< ids placed after it
  std::optional<int32_t> bos, eos;
};
}  // namespace tokenizer_detail

/// An immutable tokenizer loaded from tokenizer.json (+ tokenizer_config.json beside it, if present).
/// encode/decode are const and safe to call from several threads at once (the BPE word cache is locked).
/// Copies are cheap: they share the vocabulary, merges and components.
///
///   auto tok = Tokenizer::fromFile("models/llama-3.1-8b");           // or ".../tokenizer.json"
///   std::vector<int32_t> ids = tok.encode("Hello", {.addSpecialTokens = true});   // {128000, 9906}
///   std::string text = tok.decode(ids, /*skipSpecial=*/true);                   // "Hello"
class Tokenizer {
 public:
  /// Loads `path`: a tokenizer.json file or a model directory holding one. tokenizer_config.json in the same
  /// directory supplies bos/eos tokens and add_bos_token / add_eos_token. Throws TokenizerError naming the
  /// file and the problem (malformed JSON, bad merge, unsupported component).
  static Tokenizer fromFile(const std::filesystem::path& path);
  /// Parses tokenizer.json text (`configJson`: optional tokenizer_config.json text); `origin` names the
  /// source in error messages.
  static Tokenizer fromJson(std::string_view tokenizerJson, std::string_view configJson = {},
                            const std::string& origin = "tokenizer.json");
  /// This tokenizer with `configJson` (tokenizer_config.json text) applied over tokenizer.json's own template:
  /// bos_token / eos_token, and add_bos_token / add_eos_token, which when present decide the special tokens.
  /// A config applied before is replaced, not combined. Shares the vocabulary with this tokenizer (no copy).
  /// `origin` names the config file in errors. fromJson(t, c) is fromJson(t).withConfig(c).
  Tokenizer withConfig(std::string_view configJson, const std::string& origin = "tokenizer_config.json") const;

  Tokenizer(const Tokenizer&);
  Tokenizer& operator=(const Tokenizer&);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  /// Token ids of `text` (UTF-8; invalid UTF-8 is a TokenizerError naming the byte offset).
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
  /// Text of `ids`; `skipSpecial` drops special tokens (BOS/EOS, chat markers). Invalid UTF-8 produced by
  /// byte tokens becomes U+FFFD, as in the reference. Throws InvalidArgument for an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids, bool skipSpecial = false) const;

  /// Number of ids: model vocabulary plus added tokens (max id + 1), e.g. 128256 for Llama 3.
  int vocabSize() const;
  /// Id of a token string (added tokens first, then the model vocabulary), e.g. tokenToId("<|eot_id|>").
  std::optional<int32_t> tokenToId(std::string_view token) const;
  /// Token string of an id ("Ġhello", "<0x0A>", "<|eot_id|>"); nullopt outside the vocabulary.
  std::optional<std::string> idToToken(int32_t id) const;
  /// True for ids of added tokens marked special.
  bool isSpecial(int32_t id) const;
  /// BOS / EOS from tokenizer_config.json (bos_token / eos_token), else from the post-processor template.
  std::optional<int32_t> bosId() const;
  std::optional<int32_t> eosId() const;

 private:
  Tokenizer(std::shared_ptr<const tokenizer_detail::Impl> impl, tokenizer_detail::Specials specials);
  std::shared_ptr<const tokenizer_detail::Impl> impl_;  ///< everything tokenizer.json defines, shared by copies
  tokenizer_detail::Specials specials_;                 ///< tokenizer.json's template, or a config's
  friend class StreamingDecoder;
};

/// Incremental decoding for generation: push ids one at a time and get back the text that became final.
/// Holds back text while the tail is an incomplete UTF-8 sequence (byte tokens of one emoji, say), and keeps a
/// few previous ids as context so decoders that look at neighbours (Metaspace, Strip) match decode(all ids).
class StreamingDecoder {
 public:
  /// `tokenizer` must outlive the decoder.
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool skipSpecial = false);
  /// Adds one id; returns the newly completed text (often empty while a character is incomplete).
  std::string push(int32_t id);
  /// Returns whatever is held back (incomplete bytes become U+FFFD) and resets the state.
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool skipSpecial_;
  std::vector<int32_t> ids_;  ///< context ids + ids not yet emitted
  std::string prefix_;        ///< decode of the context ids, already emitted
  size_t prefixIndex_ = 0;    ///< ids_[0, prefixIndex_) are context
};

}  // namespace layerscope::core
