// Decoders of tokenizer.json (see tokenizer_pipeline.h): ids -> text. Each mirrors the decoder of the same name
// in Hugging Face tokenizers/src/decoders; comments note where the reference's behaviour is surprising but kept.
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/text/tokenizer_json.h"
#include "core/text/tokenizer_pipeline.h"
#include "core/text/unicode_utf8.h"

namespace layerscope::core::tokenizer_detail {

namespace {


class SequenceDecoder : public Decoder {
 public:
  std::vector<std::unique_ptr<Decoder>> parts;
  void apply(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts) p->apply(tokens);
  }
};

class ByteLevelDecoder : public Decoder {
 public:
  void apply(std::vector<std::string>& tokens) const override {
    const auto& table = ByteLevelTable::get();
    std::string bytes;
    for (const auto& t : tokens) {
      size_t start = bytes.size();
      bool ok = true;
      for (size_t i = 0; i < t.size() && ok;) {
        char32_t c = utf8::next(t, i);
        if (c < 512 && table.charToByte[c] >= 0) bytes += static_cast<char>(table.charToByte[c]);
        else ok = false;
      }
      if (!ok) {  // a token outside the byte alphabet (an added token) passes through as its UTF-8 bytes
        bytes.resize(start);
        bytes += t;
      }
    }
    tokens.assign(1, utf8::lossy(bytes));
  }
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(const json& j, const std::string& where)
      : replacement_(singleChar(str(j, "replacement", where, "\xE2\x96\x81"), where)),
        scheme_(parsePrependScheme(j, where)) {}
  void apply(std::vector<std::string>& tokens) const override {
    for (size_t k = 0; k < tokens.size(); ++k) {
      std::string out;
      const std::string& t = tokens[k];
      for (size_t i = 0; i < t.size();) {
        char32_t c = utf8::next(t, i);
        if (c != replacement_) utf8::append(out, c);
        else if (k != 0 || scheme_ == PrependScheme::Never) out += ' ';
        // The reference drops every replacement character of the first token, not only a leading one.
      }
      tokens[k].swap(out);
    }
  }

 private:
  char32_t replacement_;
  PrependScheme scheme_;
};

class ByteFallbackDecoder : public Decoder {
 public:
  void apply(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (utf8::firstInvalid(pending) == std::string::npos) out.push_back(pending);
      else
        for (size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");  // one U+FFFD per byte
      pending.clear();
    };
    for (auto& t : tokens) {
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
          std::isxdigit(static_cast<unsigned char>(t[4]))) {
        pending += static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens.swap(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void apply(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(const json& j, const std::string& where)
      : content_(singleChar(str(j, "content", where), where)),
        start_(j.value("start", size_t{0})),
        stop_(j.value("stop", size_t{0})) {}
  void apply(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t n = 0; n < start_ && b < e; ++n) {
        size_t i = b;
        if (utf8::next(t, i) != content_) break;
        b = i;
      }
      for (size_t n = 0; n < stop_ && e > b; ++n) {
        size_t i = e;
        if (utf8::prev(t, i) != content_) break;
        e = i;
      }
      t = t.substr(b, e - b);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const json& j, const std::string& where) : pattern_(j.at("pattern"), where), content_(str(j, "content", where)) {}
  void apply(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) t = pattern_.replaceAll(t, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class BpeDecoder : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void apply(std::vector<std::string>& tokens) const override {
    for (size_t k = 0; k < tokens.size(); ++k) {
      std::string out;
      std::string_view t = tokens[k];
      for (size_t p = 0;;) {
        size_t q = suffix_.empty() ? std::string_view::npos : t.find(suffix_, p);
        out.append(t.substr(p, q == std::string_view::npos ? std::string_view::npos : q - p));
        if (q == std::string_view::npos) break;
        out += k + 1 == tokens.size() ? "" : " ";
        p = q + suffix_.size();
      }
      tokens[k] = std::move(out);
    }
  }

 private:
  std::string suffix_;
};

}  // namespace

std::unique_ptr<Decoder> makeDecoder(const json& j, const std::string& origin) {
  if (j.is_null()) return nullptr;
  const std::string where = origin + ": decoder";
  const std::string type = typeOf(j, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<SequenceDecoder>();
    for (const auto& part : j.at("decoders"))
      if (auto d = makeDecoder(part, origin)) seq->parts.push_back(std::move(d));
    return seq;
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") return std::make_unique<MetaspaceDecoder>(j, where + " Metaspace");
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") return std::make_unique<StripDecoder>(j, where + " Strip");
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(j, where + " Replace");
  if (type == "BPEDecoder") return std::make_unique<BpeDecoder>(str(j, "suffix", where, "</w>"));
  throw TokenizerError(where + " type '" + type + "' is not supported (supported: Sequence, ByteLevel, Metaspace, "
                       "ByteFallback, Fuse, Strip, Replace, BPEDecoder)");
}

}  // namespace layerscope::core::tokenizer_detail
