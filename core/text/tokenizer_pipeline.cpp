// Normalizers, pre-tokenizers and post-processors of tokenizer.json (see tokenizer_pipeline.h; the decoders are in
// tokenizer_decoders.cpp).
// Each mirrors the component of the same name in Hugging Face tokenizers/src/{normalizers,pre_tokenizers,
// processors,decoders}; comments note where the reference's behaviour is surprising but kept.
#include "core/text/tokenizer_pipeline.h"

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/text/tokenizer_bpe.h"
#include "core/text/tokenizer_json.h"
#include "core/text/tokenizer_regex.h"
#include "core/text/unicode_props.h"
#include "core/text/unicode_utf8.h"

namespace layerscope::core::tokenizer_detail {

using nlohmann::json;

const ByteLevelTable& ByteLevelTable::get() {
  static const ByteLevelTable table = [] {
    ByteLevelTable t;
    for (auto& v : t.charToByte) v = -1;
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char32_t c = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      utf8::append(t.byteToUtf8[b], c);
      t.charToByte[c] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return table;
}

namespace {

// ---------------------------------------------------------------- normalizers

class SequenceNormalizer : public Normalizer {
 public:
  std::vector<std::unique_ptr<Normalizer>> parts;
  void apply(std::string& text) const override {
    for (const auto& p : parts) p->apply(text);
  }
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
  void apply(std::string& text) const override {
    if (!text.empty()) text.insert(0, prepend_);
  }

 private:
  std::string prepend_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const json& j, const std::string& where)
      : pattern_(j.at("pattern"), where), content_(str(j, "content", where)) {}
  void apply(std::string& text) const override { text = pattern_.replaceAll(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(unicode::NormalForm f) : form_(f) {}
  void apply(std::string& text) const override { text = unicode::normalize(text, form_); }

 private:
  unicode::NormalForm form_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool l, bool r) : left_(l), right_(r) {}
  void apply(std::string& text) const override {
    size_t b = 0, e = text.size();
    if (left_) {
      while (b < e) {
        size_t i = b;
        if (!unicode::isWhitespace(utf8::next(text, i))) break;
        b = i;
      }
    }
    if (right_) {
      while (e > b) {
        size_t i = e;
        if (!unicode::isWhitespace(utf8::prev(text, i))) break;
        e = i;
      }
    }
    text = text.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

// ---------------------------------------------------------------- pre-tokenizers

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parseBehavior(const std::string& s, const std::string& where) {
  if (s == "Removed") return Behavior::Removed;
  if (s == "Isolated") return Behavior::Isolated;
  if (s == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (s == "MergedWithNext") return Behavior::MergedWithNext;
  if (s == "Contiguous") return Behavior::Contiguous;
  throw TokenizerError(where + ": unknown split behavior '" + s + "'");
}

struct Span {
  size_t begin, end;
  bool match;
};

/// NormalizedString::split of the reference: matches + gaps, then the behaviour, then empty pieces dropped.
void splitPiece(const Piece& in, std::vector<Span>& spans, Behavior behavior, std::vector<Piece>& out) {
  std::vector<Span> merged;
  const std::vector<Span>* use = &spans;
  switch (behavior) {
    case Behavior::Isolated: break;
    case Behavior::Removed:
      merged.reserve(spans.size());
      for (const auto& s : spans)
        if (!s.match) merged.push_back(s);
      use = &merged;
      break;
    case Behavior::MergedWithPrevious: {
      bool prevMatch = false;
      for (const auto& s : spans) {
        if (s.match && !prevMatch && !merged.empty()) merged.back().end = s.end;
        else merged.push_back(s);
        prevMatch = s.match;
      }
      use = &merged;
      break;
    }
    case Behavior::MergedWithNext: {
      bool prevMatch = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->match && !prevMatch && !merged.empty()) merged.back().begin = it->begin;
        else merged.push_back(*it);
        prevMatch = it->match;
      }
      std::reverse(merged.begin(), merged.end());
      use = &merged;
      break;
    }
    case Behavior::Contiguous: {
      bool prevMatch = false;
      for (const auto& s : spans) {
        if (s.match == prevMatch && !merged.empty()) merged.back().end = s.end;
        else merged.push_back(s);
        prevMatch = s.match;
      }
      use = &merged;
      break;
    }
  }
  for (const auto& s : *use) {
    if (s.end > s.begin) out.push_back({in.text.substr(s.begin, s.end - s.begin), in.first && s.begin == 0});
  }
}

template <typename Matcher>
void splitAll(std::vector<Piece>& pieces, Behavior behavior, bool invert, Matcher&& forEachMatch) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 4);
  std::vector<Span> spans;
  for (const Piece& p : pieces) {
    spans.clear();
    size_t prev = 0;
    forEachMatch(std::string_view(p.text), [&](size_t s, size_t e) {
      if (s > prev) spans.push_back({prev, s, invert});
      spans.push_back({s, e, !invert});
      prev = e;
    });
    if (prev < p.text.size()) spans.push_back({prev, p.text.size(), invert});
    if (behavior == Behavior::Isolated) {  // hot path (Llama 3): no span rewriting
      for (const auto& s : spans)
        if (s.end > s.begin) out.push_back({p.text.substr(s.begin, s.end - s.begin), p.first && s.begin == 0});
    } else {
      splitPiece(p, spans, behavior, out);
    }
  }
  pieces.swap(out);
}

class SequencePreTokenizer : public PreTokenizer {
 public:
  std::vector<std::unique_ptr<PreTokenizer>> parts;
  void apply(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts) p->apply(pieces);
  }
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(const json& j, const std::string& where)
      : pattern_(j.at("pattern"), where),
        behavior_(parseBehavior(str(j, "behavior", where), where)),
        invert_(boolean(j, "invert", false)) {}
  void apply(std::vector<Piece>& pieces) const override {
    splitAll(pieces, behavior_, invert_, [&](std::string_view t, auto&& on) { pattern_.forEachMatch(t, on); });
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

/// GPT-2's pattern, used by ByteLevel when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(const json& j, const std::string& where)
      : addPrefixSpace_(boolean(j, "add_prefix_space", true)), useRegex_(boolean(j, "use_regex", true)) {
    if (useRegex_) regex_ = std::make_unique<Regex>(kGpt2Pattern, false, where);
  }
  void apply(std::vector<Piece>& pieces) const override {
    if (addPrefixSpace_) {
      for (auto& p : pieces)
        if (p.text.empty() || p.text[0] != ' ') p.text.insert(0, " ");
    }
    if (regex_) splitAll(pieces, Behavior::Isolated, false, [&](std::string_view t, auto&& on) { regex_->forEachMatch(t, on); });
    const auto& table = ByteLevelTable::get();
    std::string mapped;
    for (auto& p : pieces) {
      mapped.clear();
      for (char c : p.text) mapped += table.byteToUtf8[static_cast<unsigned char>(c)];
      p.text.swap(mapped);
    }
  }

 private:
  bool addPrefixSpace_;
  bool useRegex_;
  std::unique_ptr<Regex> regex_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(const json& j, const std::string& where)
      : replacement_(str(j, "replacement", where, "\xE2\x96\x81")),
        scheme_(parsePrependScheme(j, where)),
        split_(boolean(j, "split", true)) {
    singleChar(replacement_, where);
  }
  void apply(std::vector<Piece>& pieces) const override {
    for (auto& p : pieces) {
      std::string t;
      t.reserve(p.text.size() + 8);
      for (char c : p.text) {
        if (c == ' ') t += replacement_;
        else t += c;
      }
      bool startsWith = t.compare(0, replacement_.size(), replacement_) == 0;
      if (!startsWith && (scheme_ == PrependScheme::Always || (scheme_ == PrependScheme::First && p.first)))
        t.insert(0, replacement_);
      p.text.swap(t);
    }
    if (split_) {
      splitAll(pieces, Behavior::MergedWithNext, false, [&](std::string_view t, auto&& on) {
        for (size_t q = t.find(replacement_); q != std::string_view::npos; q = t.find(replacement_, q + replacement_.size()))
          on(q, q + replacement_.size());
      });
    }
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void apply(std::vector<Piece>& pieces) const override {
    splitAll(pieces, individual_ ? Behavior::Isolated : Behavior::Contiguous, false, [](std::string_view t, auto&& on) {
      for (size_t k = 0; k < t.size(); ++k)
        if (t[k] >= '0' && t[k] <= '9') on(k, k + 1);
    });
  }

 private:
  bool individual_;
};

}  // namespace

std::unique_ptr<Normalizer> makeNormalizer(const json& j, const std::string& origin) {
  if (j.is_null()) return nullptr;
  const std::string where = origin + ": normalizer";
  const std::string type = typeOf(j, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<SequenceNormalizer>();
    for (const auto& part : j.at("normalizers"))
      if (auto n = makeNormalizer(part, origin)) seq->parts.push_back(std::move(n));
    return seq;
  }
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(str(j, "prepend", where));
  if (type == "Replace") return std::make_unique<ReplaceNormalizer>(j, where + " Replace");
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFKD);
  if (type == "Strip") return std::make_unique<StripNormalizer>(boolean(j, "strip_left", true), boolean(j, "strip_right", true));
  throw TokenizerError(where + " type '" + type + "' is not supported (supported: Sequence, Prepend, Replace, NFC, NFD, "
                       "NFKC, NFKD, Strip)");
}

std::unique_ptr<PreTokenizer> makePreTokenizer(const json& j, const std::string& origin) {
  if (j.is_null()) return nullptr;
  const std::string where = origin + ": pre_tokenizer";
  const std::string type = typeOf(j, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<SequencePreTokenizer>();
    for (const auto& part : j.at("pretokenizers"))
      if (auto p = makePreTokenizer(part, origin)) seq->parts.push_back(std::move(p));
    return seq;
  }
  if (type == "Split") return std::make_unique<SplitPreTokenizer>(j, where + " Split");
  if (type == "ByteLevel") return std::make_unique<ByteLevelPreTokenizer>(j, where + " ByteLevel");
  if (type == "Metaspace") return std::make_unique<MetaspacePreTokenizer>(j, where + " Metaspace");
  if (type == "Digits") return std::make_unique<DigitsPreTokenizer>(boolean(j, "individual_digits", false));
  throw TokenizerError(where + " type '" + type + "' is not supported (supported: Sequence, Split, ByteLevel, "
                       "Metaspace, Digits)");
}

namespace {

// A token id of the post-processor: an integer in 0..kMaxTokenId-1. A float (1e21) or an integer beyond int32 went
// through get<int32_t>(): an out-of-range conversion (UBSan, found by fuzz_tokenizer) or a silent truncation.
int32_t postProcessorId(const json& v, const std::string& where) {
  if (!isTokenId(v))
    throw TokenizerError(where + ": token id " + v.dump().substr(0, 40) + " must be an integer in 0.." +
                         std::to_string(kMaxTokenId - 1));
  return int32_t(v.get<int64_t>());
}

}  // namespace

PostProcessor makePostProcessor(const json& j, const std::string& origin) {
  PostProcessor pp;
  if (j.is_null()) return pp;
  const std::string where = origin + ": post_processor";
  const std::string type = typeOf(j, where);
  if (type == "Sequence") {
    for (const auto& part : j.at("processors")) {
      PostProcessor p = makePostProcessor(part, origin);
      // Sequence applies in order: later processors wrap the result of earlier ones.
      pp.before.insert(pp.before.begin(), p.before.begin(), p.before.end());
      pp.after.insert(pp.after.end(), p.after.begin(), p.after.end());
    }
    return pp;
  }
  if (type == "ByteLevel") return pp;  // only adjusts offsets
  if (type == "TemplateProcessing") {
    const auto& specials = j.at("special_tokens");
    bool seenSequence = false;
    for (const auto& item : j.at("single")) {
      if (item.contains("Sequence")) {
        if (item.at("Sequence").value("id", "A") != "A")
          throw TokenizerError(where + " TemplateProcessing: single template uses sequence " + item.dump());
        seenSequence = true;
      } else if (item.contains("SpecialToken")) {
        const std::string name = item.at("SpecialToken").at("id").get<std::string>();
        auto it = specials.find(name);
        if (it == specials.end())
          throw TokenizerError(where + " TemplateProcessing: special token '" + name + "' missing from special_tokens");
        auto& dst = seenSequence ? pp.after : pp.before;
        for (const auto& id : it->at("ids")) dst.push_back(postProcessorId(id, where + " TemplateProcessing"));
      } else {
        throw TokenizerError(where + " TemplateProcessing: unknown template item " + item.dump());
      }
    }
    return pp;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    pp.before.push_back(postProcessorId(j.at("cls").at(1), where + " " + type + " cls"));
    pp.after.push_back(postProcessorId(j.at("sep").at(1), where + " " + type + " sep"));
    return pp;
  }
  throw TokenizerError(where + " type '" + type + "' is not supported (supported: Sequence, ByteLevel, "
                       "TemplateProcessing, RobertaProcessing, BertProcessing)");
}

}  // namespace layerscope::core::tokenizer_detail
