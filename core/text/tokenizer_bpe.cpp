// BPE model (see tokenizer_bpe.h). Mirrors tokenizers/src/models/bpe/{model,word}.rs: characters (with
// continuing_subword_prefix / end_of_word_suffix) -> vocabulary ids, byte_fallback to <0xNN>, unk (fused when
// fuse_unk), then merges from a priority queue ordered by (rank, position).
#include "core/text/tokenizer_bpe.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <queue>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/text/unicode_utf8.h"

namespace layerscope::core::tokenizer_detail {

void Bpe::PairMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  keys_.assign(cap, kEmpty);
  values_.assign(cap, {});
  mask_ = cap - 1;
}

bool Bpe::PairMap::insert(uint64_t key, MergeValue v) {
  for (size_t i = slot(key, mask_);; i = (i + 1) & mask_) {
    if (keys_[i] == key) return false;  // first (lowest-rank) entry wins, as in the reference's HashMap build
    if (keys_[i] == kEmpty) {
      keys_[i] = key;
      values_[i] = v;
      return true;
    }
  }
}

const Bpe::MergeValue* Bpe::PairMap::find(uint64_t key) const {
  for (size_t i = slot(key, mask_);; i = (i + 1) & mask_) {
    if (keys_[i] == key) return &values_[i];
    if (keys_[i] == kEmpty) return nullptr;
  }
}

namespace {

std::string optString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  return it->get<std::string>();
}

bool optBool(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && !it->is_null() && it->get<bool>();
}

uint64_t packPair(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

}  // namespace

bool isTokenId(const nlohmann::json& v) {
  if (!v.is_number_integer()) return false;
  return v.is_number_unsigned() ? v.get<uint64_t>() < uint64_t(kMaxTokenId)
                                : v.get<int64_t>() >= 0 && v.get<int64_t>() < kMaxTokenId;
}

Bpe::Bpe(const nlohmann::json& model, const std::string& origin) {
  const auto& vocab = model.at("vocab");
  if (!vocab.is_object()) throw TokenizerError(origin + ": model.vocab must be an object of token -> id");
  vocab_.reserve(vocab.size());
  int32_t maxId = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0)
      throw TokenizerError(origin + ": model.vocab entry '" + it.key() + "' has no valid id");
    // Ids index a table; the largest real vocabularies have a few hundred thousand entries.
    if (it.value().get<uint64_t>() >= uint64_t(kMaxTokenId))
      throw TokenizerError(origin + ": model.vocab entry '" + it.key() + "' has id " + it.value().dump() +
                           ", above the supported " + std::to_string(kMaxTokenId - 1));
    int32_t id = it.value().get<int32_t>();
    vocab_.emplace(it.key(), id);
    maxId = std::max(maxId, id);
  }
  idToToken_.resize(static_cast<size_t>(maxId + 1));
  for (const auto& [tok, id] : vocab_) idToToken_[static_cast<size_t>(id)] = tok;

  if (auto d = model.find("dropout"); d != model.end() && !d->is_null() && d->get<double>() > 0.0)
    throw TokenizerError(origin + ": BPE dropout is not supported (dropout = " + d->dump() + "); it makes "
                         "tokenization random");
  std::string unk = optString(model, "unk_token");
  if (!unk.empty()) {
    auto it = vocab_.find(unk);
    if (it == vocab_.end()) throw TokenizerError(origin + ": unk_token '" + unk + "' is not in model.vocab");
    unkId_ = it->second;
  }
  continuingSubwordPrefix_ = optString(model, "continuing_subword_prefix");
  endOfWordSuffix_ = optString(model, "end_of_word_suffix");
  fuseUnk_ = optBool(model, "fuse_unk");
  byteFallback_ = optBool(model, "byte_fallback");
  ignoreMerges_ = optBool(model, "ignore_merges");
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = vocab_.find(std::string_view(name));
    byteIds_[b] = it == vocab_.end() ? -1 : it->second;
  }

  for (int c = 0; c < 128; ++c) {
    const char ch = static_cast<char>(c);
    auto it = vocab_.find(std::string_view(&ch, 1));
    const bool affixes = !continuingSubwordPrefix_.empty() || !endOfWordSuffix_.empty();
    asciiIds_[c] = it == vocab_.end() || affixes ? -1 : it->second;
  }

  const auto& merges = model.at("merges");
  if (!merges.is_array()) throw TokenizerError(origin + ": model.merges must be an array");
  merges_.reserve(merges.size());
  const size_t prefixLen = continuingSubwordPrefix_.size();
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& m = merges[rank];
    std::string a, b;
    if (m.is_string()) {
      const auto& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        throw TokenizerError(origin + ": model.merges[" + std::to_string(rank) + "] = '" + s +
                             "' is not of the form \"a b\"");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      throw TokenizerError(origin + ": model.merges[" + std::to_string(rank) + "] = " + m.dump() +
                           " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    // The merged token drops b's continuing_subword_prefix (reference: BPE::from_builder).
    std::string merged = a + (prefixLen && b.compare(0, prefixLen, continuingSubwordPrefix_) == 0 ? b.substr(prefixLen) : b);
    auto im = vocab_.find(merged);
    if (ia == vocab_.end() || ib == vocab_.end() || im == vocab_.end()) {
      std::string missing = ia == vocab_.end() ? a : ib == vocab_.end() ? b : merged;
      throw TokenizerError(origin + ": model.merges[" + std::to_string(rank) + "] ('" + a + "', '" + b +
                           "') uses token '" + missing + "', which is not in model.vocab");
    }
    merges_.insert(packPair(ia->second, ib->second), {static_cast<int32_t>(rank), im->second});
  }
}

std::optional<int32_t> Bpe::tokenToId(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* Bpe::idToToken(int32_t id) const {
  if (id < 0 || id >= size()) return nullptr;
  return &idToToken_[static_cast<size_t>(id)];
}

void Bpe::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignoreMerges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::shared_lock lock(cacheMutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out.size();
  mergeWord(word, out);
  if (cacheable) {
    std::unique_lock lock(cacheMutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(word, std::vector<int32_t>(out.begin() + long(before), out.end()));
  }
}

void Bpe::mergeWord(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  std::vector<Symbol> syms;
  syms.reserve(word.size());
  auto add = [&](int32_t id) {
    int32_t n = static_cast<int32_t>(syms.size());
    syms.push_back({id, n - 1, -1, true});
    if (n > 0) syms[static_cast<size_t>(n - 1)].next = n;
  };

  int32_t pendingUnk = -1;  // unknown run not yet added (fused when fuse_unk)
  std::string scratch;
  size_t i = 0;
  while (i < word.size()) {
    size_t end = i + utf8::seqLength(static_cast<unsigned char>(word[i]));
    if (end > word.size()) end = word.size();
    std::string_view s = word.substr(i, end - i);
    if (const auto b = static_cast<unsigned char>(word[i]); b < 0x80 && asciiIds_[b] >= 0) {
      const int32_t id = asciiIds_[b];  // fast path for one-byte tokens (no affixes configured)
      i = end;
      if (pendingUnk >= 0) {
        add(pendingUnk);
        pendingUnk = -1;
      }
      add(id);
      continue;
    }
    if ((i > 0 && !continuingSubwordPrefix_.empty()) || (end == word.size() && !endOfWordSuffix_.empty())) {
      scratch.clear();
      if (i > 0) scratch += continuingSubwordPrefix_;
      scratch += s;
      if (end == word.size()) scratch += endOfWordSuffix_;
      s = scratch;
    }
    i = end;
    if (auto it = vocab_.find(s); it != vocab_.end()) {
      if (pendingUnk >= 0) {
        add(pendingUnk);
        pendingUnk = -1;
      }
      add(it->second);
      continue;
    }
    if (byteFallback_) {
      bool all = true;
      for (char c : s) all = all && byteIds_[static_cast<unsigned char>(c)] >= 0;
      if (all) {
        for (char c : s) add(byteIds_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (!unkId_)
      throw TokenizerError("BPE: '" + std::string(s) + "' is not in the vocabulary and the model has no unk_token");
    if (pendingUnk >= 0 && !fuseUnk_) add(pendingUnk);
    pendingUnk = *unkId_;
  }
  if (pendingUnk >= 0) add(pendingUnk);

  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t newId;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Candidate> initial;
  initial.reserve(syms.size() * 2);
  for (size_t k = 0; k + 1 < syms.size(); ++k) {
    if (const MergeValue* m = merges_.find(packPair(syms[k].id, syms[k + 1].id)))
      initial.push_back({m->rank, static_cast<int32_t>(k), m->newId});
  }
  // Heapify in O(n) (long words: Llama 2 style tokenizers have no pre-tokenizer, a text is one word).
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue(std::greater<>{}, std::move(initial));
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol& left = syms[static_cast<size_t>(top.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = syms[static_cast<size_t>(left.next)];
    const MergeValue* m = merges_.find(packPair(left.id, right.id));
    if (!m || m->newId != top.newId) continue;  // stale: one side was merged since
    left.id = top.newId;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) syms[static_cast<size_t>(right.next)].prev = top.pos;
    if (left.prev >= 0) {
      if (const MergeValue* p = merges_.find(packPair(syms[static_cast<size_t>(left.prev)].id, left.id)))
        queue.push({p->rank, left.prev, p->newId});
    }
    if (left.next >= 0) {
      if (const MergeValue* n = merges_.find(packPair(left.id, syms[static_cast<size_t>(left.next)].id)))
        queue.push({n->rank, top.pos, n->newId});
    }
  }
  for (size_t k = 0; k < syms.size(); k = syms[k].next < 0 ? syms.size() : static_cast<size_t>(syms[k].next))
    out.push_back(syms[k].id);
}

}  // namespace layerscope::core::tokenizer_detail
