// UTF-8 helpers for the tokenizer: decode one code point, append one, validate, and Rust-compatible lossy
// conversion (String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace layerscope::core::utf8 {

/// Length of the UTF-8 sequence starting with byte `b` (1 for invalid lead bytes).
inline size_t seqLength(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xE) return 3;
  if ((b >> 3) == 0x1E) return 4;
  return 1;
}

/// Decodes the code point at s[i] (s must be valid UTF-8) and advances i.
inline char32_t next(std::string_view s, size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    ++i;
    return b;
  }
  size_t n = seqLength(b);
  char32_t c = b & (0xFF >> (n + 1));
  for (size_t k = 1; k < n && i + k < s.size(); ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return c;
}

/// Code point ending at s[i-1] (valid UTF-8), moving i back to its first byte.
inline char32_t prev(std::string_view s, size_t& i) {
  do --i;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80);
  size_t j = i;
  return next(s, j);
}

inline void append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

/// Length of the valid sequence at s[i], or 0 if invalid. On 0, `bad` is the length of the maximal subpart
/// (the bytes that one U+FFFD replaces, >= 1), following the Unicode "maximal subpart" practice Rust uses.
inline size_t validAt(std::string_view s, size_t i, size_t& bad) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = at(i);
  bad = 1;
  if (b < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) n = 2;
  else if (b == 0xE0) n = 3, lo = 0xA0;
  else if (b >= 0xE1 && b <= 0xEC) n = 3;
  else if (b == 0xED) n = 3, hi = 0x9F;
  else if (b >= 0xEE && b <= 0xEF) n = 3;
  else if (b == 0xF0) n = 4, lo = 0x90;
  else if (b >= 0xF1 && b <= 0xF3) n = 4;
  else if (b == 0xF4) n = 4, hi = 0x8F;
  else return 0;
  for (size_t k = 1; k < n; ++k) {
    if (i + k >= s.size()) {
      bad = k;
      return 0;
    }
    unsigned char c = at(i + k);
    if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) {
      bad = k;
      return 0;
    }
  }
  return n;
}

/// Byte offset of the first invalid sequence, or npos when `s` is valid UTF-8.
inline size_t firstInvalid(std::string_view s) {
  size_t i = 0, bad = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = validAt(s, i, bad);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

/// Rust String::from_utf8_lossy.
inline std::string lossy(std::string_view s) {
  if (firstInvalid(s) == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0, bad = 0;
  while (i < s.size()) {
    size_t n = validAt(s, i, bad);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      i += bad;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

/// True if `s` ends in the middle of a UTF-8 sequence that more bytes could complete.
inline bool endsIncomplete(std::string_view s) {
  size_t back = 0;
  for (size_t i = s.size(); i > 0 && back < 4; --i, ++back) {
    auto b = static_cast<unsigned char>(s[i - 1]);
    if ((b & 0xC0) == 0x80) continue;
    size_t bad = 0;
    return validAt(s, i - 1, bad) == 0 && i - 1 + bad == s.size() && seqLength(b) > back + 1;
  }
  return false;
}

}  // namespace layerscope::core::utf8
