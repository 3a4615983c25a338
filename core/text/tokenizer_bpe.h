// Byte-pair-encoding model of tokenizer.json ("model": {"type": "BPE"}): vocabulary, ranked merges, and the
// per-word merge loop of the reference (lowest rank first, leftmost on ties), with a word cache.
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace layerscope::core::tokenizer_detail {

/// Token ids (vocabulary, added tokens, post-processor) must be below this (2^22; real vocabularies hold a few
/// hundred thousand): they index tables, so a file claiming id 2^31 - 1 must not make us allocate for it.
inline constexpr int32_t kMaxTokenId = 1 << 22;

/// Whether a JSON value is a token id: an integer in 0..kMaxTokenId-1 (not a float, and no integer that get<int32_t>()
/// would truncate or convert out of range).
bool isTokenId(const nlohmann::json& v);

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class Bpe {
 public:
  /// Builds the model from the "model" object; `origin` names the file in errors (bad merge, unknown type).
  Bpe(const nlohmann::json& model, const std::string& origin);

  /// Appends the ids of one pre-token to `out`.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  std::optional<int32_t> tokenToId(std::string_view token) const;
  /// Token text of id, or nullptr outside the model vocabulary.
  const std::string* idToToken(int32_t id) const;
  /// max id + 1 of the model vocabulary.
  int32_t size() const { return static_cast<int32_t>(idToToken_.size()); }

 private:
  struct MergeValue {
    int32_t rank;
    int32_t newId;
  };
  /// Open-addressing map from a pair of ids (packed in 64 bits) to its merge.
  class PairMap {
   public:
    void reserve(size_t n);
    bool insert(uint64_t key, MergeValue v);
    const MergeValue* find(uint64_t key) const;

   private:
    static size_t slot(uint64_t key, size_t mask) { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 17) & mask; }
    std::vector<uint64_t> keys_;
    std::vector<MergeValue> values_;
    size_t mask_ = 0;
  };
  static constexpr uint64_t kEmpty = ~0ull;

  void mergeWord(std::string_view word, std::vector<int32_t>& out) const;

  StringIdMap vocab_;
  std::vector<std::string> idToToken_;
  PairMap merges_;
  std::optional<int32_t> unkId_;
  std::string continuingSubwordPrefix_;
  std::string endOfWordSuffix_;
  bool fuseUnk_ = false;
  bool byteFallback_ = false;
  bool ignoreMerges_ = false;
  int32_t byteIds_[256];   ///< id of "<0xNN>" or -1
  int32_t asciiIds_[128];  ///< id of a one-byte token (only without subword prefix / suffix), or -1

  static constexpr size_t kCacheCapacity = 200000;
  static constexpr size_t kCacheMaxWordBytes = 256;
  mutable std::shared_mutex cacheMutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace layerscope::core::tokenizer_detail
