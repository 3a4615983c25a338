// Torch-free safetensors validation (core/model/safetensors_header.h): keys listed twice in a header or an
// index, the byte layout, index shard names. Reproducers of fuzz findings live in fuzz/corpus/safetensors*/.
#include <gtest/gtest.h>

#include <string>

#include "core/base/error.h"
#include "core/model/safetensors_header.h"

using namespace layerscope;
using namespace layerscope::core;

namespace {

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return s;
}

// The CheckpointError message of parsing `bytes` as a whole file ("" when accepted).
std::string bytesError(const std::string& bytes) {
  std::map<std::string, StEntry> entries;
  std::map<std::string, std::string> metadata;
  try {
    parseSafetensorsBytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors", entries, metadata);
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

std::string indexError(const std::string& text) {
  try {
    parseSafetensorsIndex(text, "model.safetensors.index.json");
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SafetensorsHeader, TensorListedTwiceIsRefused) {
  // nlohmann::json keeps the last of two equal keys, so without the check this file loaded with tensor 'a'
  // pointing at the second range (the reference implementation refuses the file).
  const std::string h = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  const std::string msg = bytesError(le64(h.size()) + h + std::string(8, '\0'));
  EXPECT_NE(msg.find("x.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("key 'a' twice"), std::string::npos) << msg;
}

TEST(SafetensorsHeader, DuplicateKeyInsideAnEntryOrMetadataIsRefused) {
  const std::string inner = R"({"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}})";
  EXPECT_NE(bytesError(le64(inner.size()) + inner + std::string(4, '\0')).find("key 'dtype' twice"), std::string::npos);
  const std::string meta = R"({"__metadata__":{"format":"pt","format":"np"}})";
  EXPECT_NE(bytesError(le64(meta.size()) + meta).find("key 'format' twice"), std::string::npos);
}

TEST(SafetensorsHeader, EqualKeysInDifferentObjectsAreFine) {
  const std::string h =
      R"({"__metadata__":{"dtype":"x"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  EXPECT_EQ(bytesError(le64(h.size()) + h + std::string(8, '\0')), "");
}

TEST(SafetensorsHeader, ByteLayoutErrorsNameTheFile) {
  EXPECT_NE(bytesError("abc").find("shorter than the 8-byte header length"), std::string::npos);
  EXPECT_NE(bytesError(le64(1ull << 40) + "{}").find("exceeds the 100 MB limit"), std::string::npos);
  EXPECT_NE(bytesError(le64(50) + "{}").find("runs past the end"), std::string::npos);
  std::map<std::string, StEntry> entries;
  std::map<std::string, std::string> metadata;
  const std::string ok = le64(2) + "{}";
  EXPECT_EQ(parseSafetensorsBytes(reinterpret_cast<const uint8_t*>(ok.data()), ok.size(), "x", entries, metadata), 10u);
}

TEST(SafetensorsIndex, ParsesShardsInFirstSeenOrder) {
  const auto index = parseSafetensorsIndex(R"({"weight_map":{"b":"s2.safetensors","a":"s1.safetensors","c":"s2.safetensors"}})", "i");
  EXPECT_EQ(index.shardOf.at("c"), "s2.safetensors");
  // nlohmann::json objects iterate in key order: a (s1), b (s2), c (s2).
  EXPECT_EQ(index.shards, (std::vector<std::string>{"s1.safetensors", "s2.safetensors"}));
}

TEST(SafetensorsIndex, RefusesDuplicatesEscapesAndWrongTypes) {
  EXPECT_NE(indexError(R"({"weight_map":{"a":"x.safetensors","a":"y.safetensors"}})").find("key 'a' twice"), std::string::npos);
  EXPECT_NE(indexError(R"({"weight_map":{"a":"../x.safetensors"}})").find("not a plain file name"), std::string::npos);
  EXPECT_NE(indexError(R"({"weight_map":{"a":"d/x.safetensors"}})").find("not a plain file name"), std::string::npos);
  EXPECT_NE(indexError(R"({"weight_map":{"a":""}})").find("not a plain file name"), std::string::npos);
  EXPECT_NE(indexError(R"({"weight_map":{"a":"."}})").find("not a plain file name"), std::string::npos);  // the folder itself (fuzz finding)
  EXPECT_NE(indexError(R"({"weight_map":{"a":1}})").find("is not a string"), std::string::npos);
  EXPECT_NE(indexError(R"({"metadata":{}})").find("missing object 'weight_map'"), std::string::npos);
  EXPECT_NE(indexError(R"({"weight_map":)").find("not valid UTF-8 JSON"), std::string::npos);
}
