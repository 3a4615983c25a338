// Shared by the tokenizer.json component readers (tokenizer_pipeline.cpp, tokenizer_decoders.cpp): typed field
// access that names the component in every error, and the {"String"} / {"Regex"} pattern. Internal to the text
// library.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/text/tokenizer_regex.h"
#include "core/text/unicode_utf8.h"

namespace layerscope::core::tokenizer_detail {

using nlohmann::json;

inline std::string str(const json& j, const char* key, const std::string& where, const char* fallback = nullptr) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (fallback) return fallback;
    throw TokenizerError(where + ": missing string field '" + key + "'");
  }
  if (!it->is_string()) throw TokenizerError(where + ": field '" + key + "' must be a string, got " + it->dump());
  return it->get<std::string>();
}

inline bool boolean(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<bool>();
}

inline std::string typeOf(const json& j, const std::string& where) {
  if (!j.is_object()) throw TokenizerError(where + ": expected an object with a \"type\", got " + j.dump().substr(0, 80));
  return str(j, "type", where);
}

inline char32_t singleChar(const std::string& s, const std::string& where) {
  size_t i = 0;
  if (s.empty()) throw TokenizerError(where + ": replacement must be one character, got an empty string");
  char32_t c = utf8::next(s, i);
  if (i != s.size()) throw TokenizerError(where + ": replacement must be one character, got '" + s + "'");
  return c;
}

/// A {"String": s} or {"Regex": r} pattern, with replace-all and match enumeration.
class Pattern {
 public:
  Pattern(const json& j, const std::string& where) {
    if (j.is_object() && j.contains("String")) {
      literal_ = j.at("String").get<std::string>();
      if (literal_.empty()) throw TokenizerError(where + ": empty String pattern");
    } else if (j.is_object() && j.contains("Regex")) {
      regex_ = std::make_unique<Regex>(j.at("Regex").get<std::string>(), false, where);
    } else {
      throw TokenizerError(where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}, got " + j.dump());
    }
  }
  template <typename F>
  void forEachMatch(std::string_view text, F&& on) const {
    if (regex_) {
      regex_->forEachMatch(text, on);
      return;
    }
    for (size_t p = text.find(literal_); p != std::string_view::npos; p = text.find(literal_, p + literal_.size()))
      on(p, p + literal_.size());
  }
  std::string replaceAll(std::string_view text, std::string_view content) const {
    std::string out;
    size_t last = 0;
    forEachMatch(text, [&](size_t s, size_t e) {
      out.append(text.substr(last, s - last));
      out.append(content);
      last = e;
    });
    if (last == 0 && out.empty()) return std::string(text);
    out.append(text.substr(last));
    return out;
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};

enum class PrependScheme { Always, First, Never };

inline PrependScheme parsePrependScheme(const json& j, const std::string& where) {
  if (auto it = j.find("prepend_scheme"); it != j.end() && !it->is_null()) {
    auto s = it->get<std::string>();
    if (s == "always") return PrependScheme::Always;
    if (s == "first") return PrependScheme::First;
    if (s == "never") return PrependScheme::Never;
    throw TokenizerError(where + ": unknown Metaspace prepend_scheme '" + s + "'");
  }
  return boolean(j, "add_prefix_space", true) ? PrependScheme::Always : PrependScheme::Never;  // legacy field
}


}  // namespace layerscope::core::tokenizer_detail
