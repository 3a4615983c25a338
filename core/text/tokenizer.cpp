// Tokenizer: loading tokenizer.json / tokenizer_config.json, added-token matching on raw text, the encode
// pipeline (normalize -> pre-tokenize -> BPE -> post-process) and decode. Mirrors Hugging Face tokenizers
// (tokenizer/mod.rs, tokenizer/added_vocabulary.rs) so ids match the reference exactly.
#include "core/text/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/text/tokenizer_bpe.h"
#include "core/text/tokenizer_pipeline.h"
#include "core/text/unicode_props.h"
#include "core/text/unicode_utf8.h"

namespace layerscope::core {

using nlohmann::json;

namespace tokenizer_detail {

struct AddedToken {
  int32_t id = 0;
  std::string content;   ///< as matched: normalized by the normalizer when `normalized`
  std::string original;  ///< as written in tokenizer.json; what decode produces
  bool singleWord = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

/// Leftmost-longest matcher over a set of added tokens (the reference uses aho-corasick LeftmostLongest).
class AddedMatcher {
 public:
  void add(const AddedToken* t) {
    if (t->content.empty()) return;
    auto b = static_cast<unsigned char>(t->content[0]);
    byFirst_[b].push_back(t);
    std::sort(byFirst_[b].begin(), byFirst_[b].end(),
              [](const AddedToken* x, const AddedToken* y) { return x->content.size() > y->content.size(); });
    empty_ = false;
  }
  bool empty() const { return empty_; }
  /// Longest token matching at text[pos], skipping special ones when `skipSpecial`.
  const AddedToken* matchAt(std::string_view text, size_t pos, bool skipSpecial) const {
    for (const AddedToken* t : byFirst_[static_cast<unsigned char>(text[pos])]) {
      if (skipSpecial && t->special) continue;
      if (text.compare(pos, t->content.size(), t->content) == 0) return t;
    }
    return nullptr;
  }
  bool maybeAt(unsigned char b) const { return !byFirst_[b].empty(); }

 private:
  std::vector<const AddedToken*> byFirst_[256];
  bool empty_ = true;
};

struct Segment {
  size_t begin, end;
  const AddedToken* token;  ///< nullptr: plain text
};

bool endsWithWordChar(std::string_view s) {
  if (s.empty()) return false;
  size_t i = s.size();
  return unicode::isAlphanumeric(utf8::prev(s, i));
}
bool startsWithWordChar(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  return unicode::isAlphanumeric(utf8::next(s, i));
}

/// AddedVocabulary::find_matches: splits `text` into added-token matches and the text between them.
void findMatches(std::string_view text, const AddedMatcher& m, bool skipSpecial, std::vector<Segment>& out) {
  out.clear();
  if (m.empty() || text.empty()) {
    out.push_back({0, text.size(), nullptr});
    return;
  }
  size_t startOffset = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (!m.maybeAt(static_cast<unsigned char>(text[pos]))) {
      ++pos;
      continue;
    }
    const AddedToken* t = m.matchAt(text, pos, skipSpecial);
    if (!t) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + t->content.size();
    pos = stop;  // the automaton resumes after the match even when the match is discarded below
    if (t->singleWord) {
      bool startSpace = start == 0 || !endsWithWordChar(text.substr(0, start));
      bool stopSpace = stop == text.size() || !startsWithWordChar(text.substr(stop));
      if (!startSpace || !stopSpace) continue;
    }
    if (t->lstrip) {
      size_t s = start;
      while (s > 0) {
        size_t i = s;
        if (!unicode::isWhitespace(utf8::prev(text, i))) break;
        s = i;
      }
      start = std::max(s, startOffset);
    }
    if (t->rstrip) {
      while (stop < text.size()) {
        size_t i = stop;
        if (!unicode::isWhitespace(utf8::next(text, i))) break;
        stop = i;
      }
    }
    if (startOffset < start) out.push_back({startOffset, start, nullptr});
    out.push_back({start, stop, t});
    startOffset = stop;
  }
  if (startOffset != text.size()) out.push_back({startOffset, text.size(), nullptr});
}

struct Impl {
  std::string origin;
  std::unique_ptr<Bpe> model;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> preTokenizer;
  std::unique_ptr<Decoder> decoder;
  Specials fromTemplate;  ///< the post-processor's ids; BOS / EOS its first / last
  std::vector<std::unique_ptr<AddedToken>> added;
  std::unordered_map<int32_t, const AddedToken*> addedById;
  StringIdMap addedByContent;
  AddedMatcher rawMatcher, normalizedMatcher;
  int32_t vocabSize = 0;

  void encodeText(std::string_view text, bool first, std::vector<int32_t>& ids) const {
    std::vector<Piece> pieces;
    pieces.push_back({std::string(text), first});
    if (preTokenizer) preTokenizer->apply(pieces);
    for (const auto& p : pieces) model->tokenize(p.text, ids);
  }
};

}  // namespace tokenizer_detail

using tokenizer_detail::Impl;

namespace {

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw TokenizerError("cannot open " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json parseJson(std::string_view text, const std::string& origin) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // parse_error, or out_of_range.406 for a number like 1e400
    throw TokenizerError(origin + ": malformed JSON: " + e.what());
  }
}

std::optional<std::string> tokenText(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content")) {
    if (!it->at("content").is_string())
      throw TokenizerError(std::string(key) + ".content must be a string, found " + it->at("content").type_name());
    return it->at("content").get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl, tokenizer_detail::Specials specials)
    : impl_(std::move(impl)), specials_(std::move(specials)) {}
Tokenizer::Tokenizer(const Tokenizer&) = default;
Tokenizer& Tokenizer::operator=(const Tokenizer&) = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::fromFile(const std::filesystem::path& path) {
  std::filesystem::path file = path;
  if (std::filesystem::is_directory(path)) file = path / "tokenizer.json";
  if (!std::filesystem::exists(file))
    throw TokenizerError("tokenizer file not found: " + file.string() +
                         " (expected a tokenizer.json or a model directory holding one)");
  std::string config;
  auto cfgPath = file.parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(cfgPath)) config = readFile(cfgPath);
  return fromJson(readFile(file), config, file.string());
}

Tokenizer Tokenizer::fromJson(std::string_view tokenizerJson, std::string_view configJson, const std::string& origin) {
  using namespace tokenizer_detail;
  auto impl = std::make_unique<Impl>();
  impl->origin = origin;
  const json j = parseJson(tokenizerJson, origin);
  try {
    if (!j.is_object()) throw TokenizerError(origin + ": expected a JSON object at the top level");
    const json& model = j.at("model");
    std::string type = model.value("type", std::string("BPE"));
    if (type != "BPE")
      throw TokenizerError(origin + ": model type '" + type + "' is not supported (supported: BPE)");
    for (const char* key : {"truncation", "padding"}) {
      if (j.contains(key) && !j.at(key).is_null())
        throw TokenizerError(origin + ": '" + key + "' is set, which is not supported (set it to null)");
    }
    impl->model = std::make_unique<Bpe>(model, origin);
    impl->normalizer = makeNormalizer(j.value("normalizer", json()), origin);
    impl->preTokenizer = makePreTokenizer(j.value("pre_tokenizer", json()), origin);
    impl->decoder = makeDecoder(j.value("decoder", json()), origin);
    const PostProcessor post = makePostProcessor(j.value("post_processor", json()), origin);
    impl->fromTemplate.before = post.before;
    impl->fromTemplate.after = post.after;

    int32_t maxId = impl->model->size() - 1;
    for (const auto& t : j.value("added_tokens", json::array())) {
      auto a = std::make_unique<AddedToken>();
      if (!isTokenId(t.at("id")))
        throw TokenizerError(origin + ": added_tokens entry " + t.dump().substr(0, 80) + ": 'id' must be an integer in 0.." +
                             std::to_string(kMaxTokenId - 1));
      a->id = t.at("id").get<int32_t>();
      a->content = t.at("content").get<std::string>();
      a->original = a->content;
      a->singleWord = t.value("single_word", false);
      a->lstrip = t.value("lstrip", false);
      a->rstrip = t.value("rstrip", false);
      a->special = t.value("special", false);
      a->normalized = t.value("normalized", !a->special);
      maxId = std::max(maxId, a->id);
      impl->addedByContent.emplace(a->content, a->id);
      if (a->normalized && impl->normalizer) impl->normalizer->apply(a->content);
      impl->added.push_back(std::move(a));
    }
    for (const auto& a : impl->added) {
      impl->addedById[a->id] = a.get();
      (a->normalized ? impl->normalizedMatcher : impl->rawMatcher).add(a.get());
    }
    impl->vocabSize = maxId + 1;
    for (const auto* ids : {&impl->fromTemplate.before, &impl->fromTemplate.after})
      for (int32_t id : *ids)
        if (id < 0 || id >= impl->vocabSize)
          throw TokenizerError(origin + ": post_processor names token id " + std::to_string(id) +
                               ", outside the vocabulary (0.." + std::to_string(impl->vocabSize - 1) + ")");
  } catch (const json::exception& e) {
    throw TokenizerError(origin + ": unexpected structure: " + e.what());
  }

  Specials& t = impl->fromTemplate;
  if (!t.before.empty()) t.bos = t.before.front();
  if (!t.after.empty()) t.eos = t.after.back();
  Specials specials = t;
  Tokenizer tok(std::move(impl), std::move(specials));
  if (configJson.empty()) return tok;
  const std::filesystem::path dir = std::filesystem::path(origin).parent_path();
  return tok.withConfig(configJson, dir.empty() ? std::string("tokenizer_config.json")
                                                : (dir / "tokenizer_config.json").string());
}

Tokenizer Tokenizer::withConfig(std::string_view configJson, const std::string& origin) const {
  using tokenizer_detail::Specials;
  const json cfg = parseJson(configJson, origin);
  Specials sp = impl_->fromTemplate;
  auto resolve = [&](const char* key) -> std::optional<int32_t> {
    std::optional<std::string> text;
    try {
      text = tokenText(cfg, key);
    } catch (const TokenizerError& e) {
      throw TokenizerError(origin + ": " + e.what());
    }
    if (!text) return std::nullopt;
    auto id = tokenToId(*text);
    if (!id) throw TokenizerError(origin + ": " + key + " '" + *text + "' is not in the vocabulary");
    return id;
  };
  if (auto b = resolve("bos_token")) sp.bos = b;
  if (auto e = resolve("eos_token")) sp.eos = e;
  // add_bos_token / add_eos_token, when present, decide the special tokens (as transformers'
  // LlamaTokenizerFast.update_post_processor does), replacing the tokenizer.json template.
  if (cfg.contains("add_bos_token") || cfg.contains("add_eos_token")) {
    auto flag = [&](const char* key) {
      auto it = cfg.find(key);
      if (it == cfg.end() || it->is_null()) return false;
      if (!it->is_boolean())
        throw TokenizerError(origin + ": '" + key + "' must be true, false or null, found " + it->dump());
      return it->get<bool>();
    };
    const bool addBos = flag("add_bos_token"), addEos = flag("add_eos_token");
    if ((addBos && !sp.bos) || (addEos && !sp.eos))
      throw TokenizerError(origin + ": add_bos_token/add_eos_token set but bos_token/eos_token missing");
    sp.before.clear();
    sp.after.clear();
    if (addBos) sp.before.push_back(*sp.bos);
    if (addEos) sp.after.push_back(*sp.eos);
  }
  return Tokenizer(impl_, std::move(sp));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  using namespace tokenizer_detail;
  const Impl& im = *impl_;
  if (size_t bad = utf8::firstInvalid(text); bad != std::string_view::npos)
    throw TokenizerError("encode: input is not valid UTF-8 (first invalid byte at offset " + std::to_string(bad) + ")");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  const bool skipSpecial = !options.parseSpecialTokens;
  std::vector<Segment> raw, norm;
  findMatches(text, im.rawMatcher, skipSpecial, raw);
  for (const Segment& s : raw) {
    if (s.token) {
      ids.push_back(s.token->id);
      continue;
    }
    std::string normalized(text.substr(s.begin, s.end - s.begin));
    if (im.normalizer) im.normalizer->apply(normalized);
    findMatches(normalized, im.normalizedMatcher, skipSpecial, norm);
    for (const Segment& n : norm) {
      if (n.token) ids.push_back(n.token->id);
      else if (n.end > n.begin)
        im.encodeText(std::string_view(normalized).substr(n.begin, n.end - n.begin), s.begin == 0 && n.begin == 0, ids);
    }
  }
  const tokenizer_detail::Specials& sp = specials_;
  if (options.addSpecialTokens && (!sp.before.empty() || !sp.after.empty())) {
    size_t nBefore = sp.before.size();
    // Never a second BOS: text that already starts with the BOS keeps only its own.
    if (nBefore > 0 && !ids.empty() && sp.bos && ids.front() == *sp.bos && sp.before.back() == *sp.bos) --nBefore;
    std::vector<int32_t> out;
    out.reserve(ids.size() + nBefore + sp.after.size());
    out.insert(out.end(), sp.before.begin(), sp.before.begin() + long(nBefore));
    out.insert(out.end(), ids.begin(), ids.end());
    out.insert(out.end(), sp.after.begin(), sp.after.end());
    return out;
  }
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skipSpecial) const {
  const Impl& im = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (auto it = im.addedById.find(id); it != im.addedById.end()) {
      if (skipSpecial && it->second->special) continue;
      tokens.push_back(it->second->original);
      continue;
    }
    const std::string* t = im.model->idToToken(id);
    if (!t)
      throw InvalidArgument("decode: id " + std::to_string(id) + " is outside the vocabulary (size " +
                            std::to_string(im.vocabSize) + ")");
    tokens.push_back(*t);
  }
  if (!im.decoder) {
    std::string out;
    for (size_t k = 0; k < tokens.size(); ++k) out += (k ? " " : "") + tokens[k];
    return out;
  }
  im.decoder->apply(tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

int Tokenizer::vocabSize() const { return impl_->vocabSize; }

std::optional<int32_t> Tokenizer::tokenToId(std::string_view token) const {
  if (auto it = impl_->addedByContent.find(token); it != impl_->addedByContent.end()) return it->second;
  return impl_->model->tokenToId(token);
}

std::optional<std::string> Tokenizer::idToToken(int32_t id) const {
  if (auto it = impl_->addedById.find(id); it != impl_->addedById.end()) return it->second->original;
  if (const std::string* t = impl_->model->idToToken(id)) return *t;
  return std::nullopt;
}

bool Tokenizer::isSpecial(int32_t id) const {
  auto it = impl_->addedById.find(id);
  return it != impl_->addedById.end() && it->second->special;
}

std::optional<int32_t> Tokenizer::bosId() const { return specials_.bos; }
std::optional<int32_t> Tokenizer::eosId() const { return specials_.eos; }

// ---------------------------------------------------------------- streaming

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, bool skipSpecial)
    : tokenizer_(&tokenizer), skipSpecial_(skipSpecial) {}

std::string StreamingDecoder::push(int32_t id) {
  // The reference's DecodeStream::step: decode context + new ids, emit what extends the context's text once
  // it no longer ends in U+FFFD (an incomplete UTF-8 sequence), then keep the new ids as the next context.
  ids_.push_back(id);
  std::string text = tokenizer_->decode(ids_, skipSpecial_);
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  bool incomplete = text.size() >= 3 && std::string_view(text).substr(text.size() - 3) == kReplacement;
  if (text.size() <= prefix_.size() || incomplete) return {};
  std::string fresh;
  if (text.compare(0, prefix_.size(), prefix_) == 0) {
    fresh = text.substr(prefix_.size());
  } else {
    fresh = text;  // a decoder rewrote the context (cannot happen with the supported decoders)
  }
  size_t newPrefixIndex = ids_.size() - prefixIndex_;
  ids_.erase(ids_.begin(), ids_.begin() + long(prefixIndex_));
  prefix_ = tokenizer_->decode(ids_, skipSpecial_);
  prefixIndex_ = newPrefixIndex;
  return fresh;
}

std::string StreamingDecoder::flush() {
  std::string text = tokenizer_->decode(ids_, skipSpecial_);
  std::string rest = text.size() > prefix_.size() && text.compare(0, prefix_.size(), prefix_) == 0
                         ? text.substr(prefix_.size())
                         : std::string();
  ids_.clear();
  prefix_.clear();
  prefixIndex_ = 0;
  return rest;
}

}  // namespace layerscope::core
