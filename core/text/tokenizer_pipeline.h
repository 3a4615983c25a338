// The configurable stages of tokenizer.json around the model: normalizer, pre-tokenizer, post-processor and
// decoder, each built from its JSON object. Unknown "type" values throw TokenizerError naming the component.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace layerscope::core::tokenizer_detail {

/// A piece of normalized text on its way to the model. `first`: it begins at offset 0 of the input (used by
/// Metaspace prepend_scheme "first").
struct Piece {
  std::string text;
  bool first = false;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void apply(std::string& text) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  /// Replaces `pieces` with their refinement (splits, byte-level mapping, ...).
  virtual void apply(std::vector<Piece>& pieces) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  /// The reference's decode_chain: tokens in, tokens out; the caller joins the result.
  virtual void apply(std::vector<std::string>& tokens) const = 0;
};

/// Special tokens around the encoded sequence (TemplateProcessing and friends), single-sequence form.
struct PostProcessor {
  std::vector<int32_t> before;  ///< ids placed before the sequence
  std::vector<int32_t> after;   ///< ids placed after it
};

/// Each builder takes the component's JSON (null gives nullptr / an empty PostProcessor); `origin` names the
/// file in errors. `idOf` resolves a token string for processors that name tokens without ids.
std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<Decoder> makeDecoder(const nlohmann::json& j, const std::string& origin);
PostProcessor makePostProcessor(const nlohmann::json& j, const std::string& origin);

/// GPT-2 byte <-> printable character table used by ByteLevel (bytes_to_unicode).
struct ByteLevelTable {
  std::string byteToUtf8[256];  ///< UTF-8 of the character standing for each byte
  int16_t charToByte[512];      ///< code point (< 512) -> byte, or -1
  static const ByteLevelTable& get();
};

}  // namespace layerscope::core::tokenizer_detail
