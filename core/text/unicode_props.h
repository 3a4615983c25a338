// Unicode properties and normalization forms the tokenizer needs, backed by ICU (libicu, Debian libicu-dev):
// NFC/NFD/NFKC/NFKD of UTF-8 text and the Rust `char` predicates the reference uses.
#pragma once

#include <string>
#include <string_view>

namespace layerscope::core::unicode {

enum class NormalForm { NFC, NFD, NFKC, NFKD };

/// `text` (valid UTF-8) in the given normalization form. Returns quickly when already normalized.
std::string normalize(std::string_view text, NormalForm form);

/// Rust char::is_whitespace (the White_Space property).
bool isWhitespace(char32_t c);
/// Rust char::is_alphanumeric (Alphabetic or a Number category).
bool isAlphanumeric(char32_t c);

}  // namespace layerscope::core::unicode
