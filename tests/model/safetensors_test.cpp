// safetensors validation (one test per malformed-file class) and checkpoint-directory checks.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/model/checkpoint.h"
#include "core/model/checkpoint_layout.h"
#include "core/base/error.h"
#include "core/model/random_checkpoint.h"
#include "core/model/safetensors.h"
#include "tests/common/test_util.h"

using namespace layerscope;
using namespace layerscope::core;
namespace fs = std::filesystem;

namespace {

void writeRaw(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return s;
}

// A file made of an explicit header and `dataBytes` zero bytes.
std::string fileWith(const std::string& header, size_t dataBytes) { return le64(header.size()) + header + std::string(dataBytes, '\0'); }

// Opens bytes written to a temp file; returns the CheckpointError message ("" if it opened).
std::string openError(const std::string& bytes) {
  test::TempDir dir;
  writeRaw(dir / "x.safetensors", bytes);
  try {
    SafetensorsFile::open(dir / "x.safetensors");
  } catch (const CheckpointError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("x.safetensors"), std::string::npos) << "message must name the file: " << msg;
    return msg;
  }
  return "";
}

const char* kGood = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}})";

}  // namespace

TEST(Safetensors, WellFormedFileOpensAndRoundTrips) {
  test::TempDir dir;
  auto a = torch::arange(6, torch::kFloat32).view({2, 3});
  auto b = torch::tensor({1.5f, -2.0f, 3.25f, 0.0f}).to(torch::kBFloat16);
  writeSafetensors(dir / "t.safetensors", {{"a", a}, {"b", b}}, {{"k", "v"}});
  auto f = SafetensorsFile::open(dir / "t.safetensors");
  EXPECT_TRUE(torch::equal(f->tensor("a"), a));
  EXPECT_TRUE(torch::equal(f->tensor("b"), b));
  EXPECT_EQ(f->metadata().at("k"), "v");
  EXPECT_EQ(openError(fileWith(kGood, 32)), "");
}

TEST(Safetensors, ShorterThanHeaderLength) { EXPECT_NE(openError("abc").find("shorter than the 8-byte header"), std::string::npos); }

TEST(Safetensors, HeaderLengthOverCap) {
  EXPECT_NE(openError(le64(200'000'000) + "{}").find("exceeds the 100 MB limit"), std::string::npos);
}

TEST(Safetensors, HeaderRunsPastEndOfFile) {
  EXPECT_NE(openError(le64(1000) + "{}").find("runs past the end"), std::string::npos);
}

TEST(Safetensors, HeaderNotJson) { EXPECT_NE(openError(fileWith("{not json", 0)).find("not valid UTF-8 JSON"), std::string::npos); }

TEST(Safetensors, HeaderInvalidUtf8) {
  EXPECT_NE(openError(fileWith("{\"\xff\xfe\":{}}", 0)).find("not valid UTF-8 JSON"), std::string::npos);
}

TEST(Safetensors, HeaderNotAnObject) { EXPECT_NE(openError(fileWith("[1,2]", 0)).find("must be a JSON object"), std::string::npos); }

TEST(Safetensors, UnknownDtype) {
  auto msg = openError(fileWith(R"({"a":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})", 4));
  EXPECT_NE(msg.find("tensor 'a': unknown dtype 'F12'"), std::string::npos) << msg;
}

TEST(Safetensors, ShapeTimesSizeDiffersFromRange) {
  auto msg = openError(fileWith(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20));
  EXPECT_NE(msg.find("shape x dtype size = 24 bytes but data_offsets span 20"), std::string::npos) << msg;
}

TEST(Safetensors, ShapeOverflow) {
  auto msg = openError(fileWith(
      R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", 4));
  EXPECT_NE(msg.find("overflows"), std::string::npos) << msg;
}

TEST(Safetensors, NegativeShape) {
  auto msg = openError(fileWith(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4));
  EXPECT_NE(msg.find("non-negative"), std::string::npos) << msg;
}

TEST(Safetensors, OverlappingRanges) {
  auto msg = openError(fileWith(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12));
  EXPECT_NE(msg.find("overlapping"), std::string::npos) << msg;
}

TEST(Safetensors, GapBetweenRanges) {
  auto msg = openError(fileWith(
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 12));
  EXPECT_NE(msg.find("gap"), std::string::npos) << msg;
}

TEST(Safetensors, RangesNotStartingAtZero) {
  auto msg = openError(fileWith(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8));
  EXPECT_NE(msg.find("starts at data offset 4"), std::string::npos) << msg;
}

TEST(Safetensors, TruncatedData) {
  auto msg = openError(fileWith(kGood, 20));
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(Safetensors, TrailingBytes) {
  auto msg = openError(fileWith(kGood, 40));
  EXPECT_NE(msg.find("trailing bytes"), std::string::npos) << msg;
}

TEST(Safetensors, BadDataOffsets) {
  auto msg = openError(fileWith(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8));
  EXPECT_NE(msg.find("end < begin"), std::string::npos) << msg;
  msg = openError(fileWith(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4));
  EXPECT_NE(msg.find("data_offsets' must be an array"), std::string::npos) << msg;
}

TEST(Safetensors, RandomBytesNeverCrash) {
  // Fuzz-style: truncations and byte flips of a valid file either open or throw CheckpointError.
  test::TempDir dir;
  writeSafetensors(dir / "ok.safetensors", {{"w", torch::ones({3, 5})}, {"b", torch::zeros({7}, torch::kBFloat16)}});
  std::ifstream in(dir / "ok.safetensors", std::ios::binary);
  std::string good((std::istreambuf_iterator<char>(in)), {});
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string bytes = good;
    if (i % 2) bytes.resize(rng() % bytes.size());
    else bytes[rng() % bytes.size()] = char(rng());
    writeRaw(dir / "f.safetensors", bytes);
    try {
      SafetensorsFile::open(dir / "f.safetensors");
    } catch (const CheckpointError&) {
    }
  }
}

// The header reader of CheckpointLayout (pread of the prefix and the JSON, the data size from the file size) and
// the memory-mapped reader accept and refuse the same files with the same messages and the same entries: the
// malformed classes above, then 300 truncations and byte flips of a valid file.
TEST(Safetensors, HeaderReaderAgreesWithTheMappedReader) {
  test::TempDir dir;
  writeSafetensors(dir / "ok.safetensors", {{"w", torch::ones({3, 5})}, {"b", torch::zeros({7}, torch::kBFloat16)}});
  std::ifstream in(dir / "ok.safetensors", std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::string> files = {good, "abc", fileWith(kGood, 32), fileWith(kGood, 31), fileWith(kGood, 33),
                                    le64(200'000'000) + "{}", le64(50) + "{}", fileWith("{not json", 0)};
  std::mt19937 rng(11);
  for (int i = 0; i < 300; ++i) {
    std::string bytes = good;
    if (i % 2) bytes.resize(rng() % bytes.size());
    else bytes[rng() % bytes.size()] = char(rng());
    files.push_back(bytes);
  }
  int refused = 0;
  for (const auto& bytes : files) {
    writeRaw(dir / "f.safetensors", bytes);
    std::string mapped, header;
    std::map<std::string, StEntry> a, b;
    try {
      a = SafetensorsFile::open(dir / "f.safetensors")->entries();
    } catch (const CheckpointError& e) {
      mapped = e.what();
    }
    try {
      b = readSafetensorsHeader(dir / "f.safetensors").entries;
    } catch (const CheckpointError& e) {
      header = e.what();
    }
    EXPECT_EQ(header, mapped);
    refused += !mapped.empty();
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, e] : a) {
      ASSERT_TRUE(b.count(name)) << name;
      EXPECT_EQ(b.at(name).shape, e.shape);
      EXPECT_EQ(b.at(name).begin, e.begin);
      EXPECT_EQ(b.at(name).end, e.end);
      EXPECT_EQ(b.at(name).dtype, e.dtype);
    }
  }
  EXPECT_GT(refused, 100);  // the mutations do reach the error paths
}

// ---- Checkpoint directories ----

class CheckpointDir : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = presetConfig("tiny");
    writeRandomCheckpoint(dir_.path(), config_, {});
  }
  std::string error() {
    try {
      Checkpoint::open(dir_.path());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  test::TempDir dir_;
  ModelConfig config_;
};

TEST_F(CheckpointDir, OpensAndReportsUnexpectedTensors) {
  EXPECT_EQ(error(), "");
  auto ck = Checkpoint::open(dir_.path());
  EXPECT_TRUE(ck.unexpected().empty());
  // Add an extra tensor: still opens, and it is reported.
  auto f = SafetensorsFile::open(dir_ / "model.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> all;
  for (const auto& [name, e] : f->entries()) all.emplace_back(name, f->tensor(name).clone());
  all.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", torch::ones({4}));
  f.reset();
  writeSafetensors(dir_ / "model.safetensors", all);
  auto ck2 = Checkpoint::open(dir_.path());
  ASSERT_EQ(ck2.unexpected().size(), 1u);
  EXPECT_EQ(ck2.unexpected()[0], "model.layers.0.self_attn.rotary_emb.inv_freq");
}

// CheckpointLayout (torch-free, what `info` reads) reports what Checkpoint reports, sharded or not.
TEST(CheckpointLayout, ReportsWhatTheCheckpointReports) {
  for (int shards : {1, 3}) {
    test::TempDir dir;
    writeRandomCheckpoint(dir.path(), presetConfig("tiny"), {.storedDtype = StDtype::BF16, .shards = shards});
    const auto layout = CheckpointLayout::open(dir.path());
    const auto ck = Checkpoint::open(dir.path());
    EXPECT_EQ(layout.shards().size(), size_t(shards));
    EXPECT_EQ(layout.storedDtype(), "BF16");
    EXPECT_EQ(layout.storedDtype(), ck.storedDtype());
    EXPECT_EQ(layout.fileBytes(), ck.fileBytes());
    uint64_t onDisk = 0;
    for (const auto& f : fs::directory_iterator(dir.path()))
      if (f.path().extension() == ".safetensors") onDisk += fs::file_size(f.path());
    EXPECT_EQ(layout.fileBytes(), onDisk);
    EXPECT_EQ(layout.config().summary(), ck.config().summary());
    for (const auto& [name, shape] : CheckpointLayout::expectedTensors(layout.config())) {
      ASSERT_TRUE(layout.contains(name)) << name;
      EXPECT_EQ(layout.entry(name).shape, shape);
      EXPECT_EQ(ck.tensor(name).sizes().vec(), shape);
    }
    EXPECT_THROW(layout.shardOf("no.such.tensor"), CheckpointError);
  }
}

TEST_F(CheckpointDir, MissingTensorNamed) {
  auto f = SafetensorsFile::open(dir_ / "model.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> all;
  for (const auto& [name, e] : f->entries())
    if (name != "model.layers.1.mlp.up_proj.weight") all.emplace_back(name, f->tensor(name).clone());
  f.reset();
  writeSafetensors(dir_ / "model.safetensors", all);
  auto msg = error();
  EXPECT_NE(msg.find("missing tensor 'model.layers.1.mlp.up_proj.weight' (expected shape [172, 64]"), std::string::npos) << msg;
}

TEST_F(CheckpointDir, WrongShapeNamed) {
  auto f = SafetensorsFile::open(dir_ / "model.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> all;
  for (const auto& [name, e] : f->entries())
    all.emplace_back(name, name == "model.norm.weight" ? torch::ones({65}) : f->tensor(name).clone());
  f.reset();
  writeSafetensors(dir_ / "model.safetensors", all);
  auto msg = error();
  EXPECT_NE(msg.find("tensor 'model.norm.weight' has shape [65], expected [64]"), std::string::npos) << msg;
}

TEST_F(CheckpointDir, ConfigMissingField) {
  nlohmann::json j = toHfJson(config_);
  j.erase("intermediate_size");
  std::ofstream(dir_ / "config.json") << j.dump();
  auto msg = error();
  EXPECT_NE(msg.find("config.json: missing required field 'intermediate_size'"), std::string::npos) << msg;
}

TEST_F(CheckpointDir, NoWeightsFile) {
  fs::remove(dir_ / "model.safetensors");
  EXPECT_NE(error().find("no model.safetensors or model.safetensors.index.json"), std::string::npos);
}

TEST(CheckpointShards, ShardNamesCannotEscapeTheDirectory) {
  test::TempDir dir;
  writeRandomCheckpoint(dir.path(), presetConfig("tiny"), {.shards = 2});
  auto ck = Checkpoint::open(dir.path());  // a good sharded checkpoint opens
  EXPECT_EQ(ck.config().numLayers, 2);
  for (const std::string bad : {"../model-00001-of-00002.safetensors", "sub/x.safetensors", "a\\b.safetensors"}) {
    nlohmann::json idx = {{"weight_map", {{"model.norm.weight", bad}}}};
    std::ofstream(dir / "model.safetensors.index.json") << idx.dump();
    try {
      Checkpoint::open(dir.path());
      ADD_FAILURE() << "accepted shard name " << bad;
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find("not a plain file name"), std::string::npos) << e.what();
    }
  }
}

TEST(CheckpointShards, MissingShardAndMisplacedTensor) {
  test::TempDir dir;
  writeRandomCheckpoint(dir.path(), presetConfig("tiny"), {.shards = 2});
  std::ifstream in(dir / "model.safetensors.index.json");
  nlohmann::json idx = nlohmann::json::parse(in);
  in.close();
  auto moved = idx;
  moved["weight_map"]["model.norm.weight"] = "model-00001-of-00002.safetensors";  // it lives in shard 2
  std::ofstream(dir / "model.safetensors.index.json") << moved.dump();
  try {
    Checkpoint::open(dir.path());
    ADD_FAILURE() << "accepted a misplaced tensor";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("not listed for this shard"), std::string::npos) << e.what();
  }
  fs::remove(dir / "model-00002-of-00002.safetensors");
  std::ofstream(dir / "model.safetensors.index.json") << idx.dump();
  try {
    Checkpoint::open(dir.path());
    ADD_FAILURE() << "accepted a missing shard";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("which does not exist"), std::string::npos) << e.what();
  }
}

// Checkpoint::open reads the index with parseSafetensorsIndex (the fuzzed parser): a tensor listed twice, which
// nlohmann::json would silently resolve to the last entry, and malformed JSON are refused naming the index file.
TEST(CheckpointShards, IndexIsReadByTheFuzzedParser) {
  test::TempDir dir;
  writeRandomCheckpoint(dir.path(), presetConfig("tiny"), {.shards = 2});
  std::ifstream in(dir / "model.safetensors.index.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  auto openError = [&](const std::string& indexText) {
    std::ofstream(dir / "model.safetensors.index.json") << indexText;
    try {
      Checkpoint::open(dir.path());
    } catch (const CheckpointError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const auto at = text.find("\"model.norm.weight\"");
  ASSERT_NE(at, std::string::npos);
  std::string twice = text;
  twice.insert(at, "\"model.norm.weight\": \"model-00001-of-00002.safetensors\", ");
  std::string e = openError(twice);
  EXPECT_NE(e.find("model.safetensors.index.json"), std::string::npos) << e;
  EXPECT_NE(e.find("'model.norm.weight' twice"), std::string::npos) << e;
  e = openError(text.substr(0, text.size() / 2));
  EXPECT_NE(e.find("not valid UTF-8 JSON"), std::string::npos) << e;
  EXPECT_EQ(openError(text), "");  // the untouched index still opens
}
