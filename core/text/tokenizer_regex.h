// PCRE2 regex (UTF + UCP, JIT) for tokenizer Split / Replace patterns. The reference uses Oniguruma; PCRE2 in
// UCP mode gives the same \p{L}, \p{N}, \s and case-insensitive matching for the patterns these models use.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace layerscope::core::tokenizer_detail {

class Regex {
 public:
  /// Compiles `pattern`; `literal` escapes it (a tokenizer.json {"String": ...} pattern). Throws
  /// TokenizerError naming `where` and the PCRE2 message on a bad pattern.
  Regex(const std::string& pattern, bool literal, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  /// Calls on(start, end) for each non-overlapping match, left to right (byte offsets into `text`, which
  /// must be valid UTF-8). An empty match advances by one character, as Oniguruma's find_iter does.
  template <typename F>
  void forEachMatch(std::string_view text, F&& on) const {
    size_t pos = 0;
    size_t start = 0, end = 0;
    while (pos <= text.size() && nextMatch(text, pos, start, end)) {
      on(start, end);
      if (end == start) {
        if (end >= text.size()) break;
        pos = end + 1;
        while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      } else {
        pos = end;
      }
    }
  }

 private:
  bool nextMatch(std::string_view text, size_t from, size_t& start, size_t& end) const;
  struct Code;
  std::unique_ptr<Code> code_;
  std::string where_;
};

}  // namespace layerscope::core::tokenizer_detail
