// config.json and checkpoint folders from anywhere (docs/hardening.md): sizes are bounded and checked against the
// tensors present before anything is allocated or looped over; rms_norm_eps must be positive; the sliding window
// follows Hugging Face transformers per architecture; symbolic links may not lead out of the model folder
// (except into the blobs of the same Hugging Face cache repository).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "core/model/random_checkpoint.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"

using namespace layerscope;
using namespace layerscope::core;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json small() {
  return json::parse(R"({"model_type": "llama", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 3,
    "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 259, "rms_norm_eps": 1e-5})");
}

std::string errorOf(const json& j) {
  try {
    parseModelConfig(j, "/m/config.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::vector<int> windowedLayers(const ModelConfig& c) {
  std::vector<int> out;
  for (int l = 0; l < c.numLayers; ++l)
    if (c.windowFor(l)) out.push_back(l);
  return out;
}

void writeJson(const fs::path& p, const json& j) { std::ofstream(p) << j.dump(2); }

}  // namespace

TEST(ConfigBounds, HugeSizesFailAtOnceNamingFileAndField) {
  json j = small();
  j["num_hidden_layers"] = 1000000000;
  const std::string e = errorOf(j);
  EXPECT_NE(e.find("/m/config.json: field 'num_hidden_layers' = 1000000000 is out of range (expected 1..4096)"),
            std::string::npos)
      << e;
  for (const char* key : {"hidden_size", "intermediate_size", "vocab_size", "num_attention_heads", "head_dim"}) {
    j = small();
    j[key] = 1LL << 40;
    EXPECT_NE(errorOf(j).find(std::string("field '") + key + "'"), std::string::npos) << key << ": " << errorOf(j);
  }
  j = small();
  j["hidden_size"] = json::parse("18446744073709551615");  // above INT64_MAX: must not wrap to -1
  EXPECT_NE(errorOf(j).find("field 'hidden_size' = 18446744073709551615 is out of range"), std::string::npos) << errorOf(j);
  j = small();
  j["num_hidden_layers"] = 0;
  EXPECT_NE(errorOf(j).find("'num_hidden_layers' = 0 is out of range"), std::string::npos);
}

TEST(ConfigBounds, RmsNormEpsMustBePositive) {
  for (double eps : {-1e-6, 0.0, 2.0}) {
    json j = small();
    j["rms_norm_eps"] = eps;
    EXPECT_NE(errorOf(j).find("field 'rms_norm_eps'"), std::string::npos) << eps << ": " << errorOf(j);
  }
  json j = small();
  j["rms_norm_eps"] = 1e-6;
  EXPECT_EQ(errorOf(j), "");
}

// The checkpoint holds 3 layers; a config that claims a billion fails on the config itself, one that claims 1000
// (within the bounds) fails on the tensor count, naming the field, before any per-layer list is built.
TEST(ConfigBounds, LayerCountAndEmbeddingCheckedAgainstTheTensors) {
  test::TempDir d;
  const auto cfg = test::byteConfig({.hidden = 16, .intermediate = 32, .layers = 3, .heads = 4});
  writeRandomCheckpoint(d.path(), cfg, {.seed = 1});
  std::ifstream in(d.path() / "config.json");
  const json good = json::parse(in);
  auto openError = [&](const json& j) -> std::string {
    writeJson(d.path() / "config.json", j);
    try {
      Checkpoint::open(d.path());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  json j = good;
  j["num_hidden_layers"] = 1000000000;
  EXPECT_NE(openError(j).find("config.json: field 'num_hidden_layers' = 1000000000 is out of range"), std::string::npos);
  j["num_hidden_layers"] = 1000;
  EXPECT_NE(openError(j).find("config.json: field 'num_hidden_layers' = 1000, but the weights hold 3 layers"),
            std::string::npos)
      << openError(j);
  j = good;
  j["vocab_size"] = 100000;
  EXPECT_NE(openError(j).find("field 'vocab_size' = 100000, but model.embed_tokens.weight has 259 rows"), std::string::npos)
      << openError(j);
  EXPECT_EQ(openError(good), "");
}

// transformers: LlamaConfig has no sliding window; MistralConfig applies `sliding_window` (default 4096, null =
// none) to every layer; Qwen2Config keeps it only with use_sliding_window (default false), for the layers
// >= max_window_layers (default 28) or as layer_types lists them.
TEST(SlidingWindowConfig, PerArchitectureAsTransformers) {
  json j = small();
  j["sliding_window"] = 5;
  EXPECT_FALSE(parseModelConfig(j, "c").slidingWindow) << "llama ignores sliding_window";
  j["use_sliding_window"] = true;
  EXPECT_FALSE(parseModelConfig(j, "c").slidingWindow) << "llama ignores use_sliding_window too";

  j = small();
  j["model_type"] = "mistral";
  j["sliding_window"] = 5;
  auto c = parseModelConfig(j, "c");
  EXPECT_EQ(c.slidingWindow, 5);
  EXPECT_EQ(windowedLayers(c), (std::vector<int>{0, 1, 2}));
  j["sliding_window"] = nullptr;
  EXPECT_FALSE(parseModelConfig(j, "c").slidingWindow);
  j.erase("sliding_window");
  EXPECT_EQ(parseModelConfig(j, "c").slidingWindow, 4096);
  j["sliding_window"] = 0;
  EXPECT_NE(errorOf(j).find("'sliding_window' = 0 is out of range"), std::string::npos);

  j = small();
  j["model_type"] = "qwen2";
  j["sliding_window"] = 5;
  j["max_window_layers"] = 1;
  EXPECT_FALSE(parseModelConfig(j, "c").slidingWindow) << "use_sliding_window defaults to false";
  j["use_sliding_window"] = false;
  EXPECT_FALSE(parseModelConfig(j, "c").slidingWindow);
  j["use_sliding_window"] = true;
  c = parseModelConfig(j, "c");
  EXPECT_EQ(c.slidingWindow, 5);
  EXPECT_EQ(windowedLayers(c), (std::vector<int>{1, 2}));
  j.erase("max_window_layers");  // default 28: no layer of a 3-layer model
  EXPECT_FALSE(parseModelConfig(j, "c").slidingWindow);
  j["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention"};
  EXPECT_EQ(windowedLayers(parseModelConfig(j, "c")), (std::vector<int>{0, 2}));
  j["layer_types"] = {"sliding_attention"};
  EXPECT_NE(errorOf(j).find("'layer_types' must be a list of 3 entries"), std::string::npos) << errorOf(j);
}

TEST(SlidingWindowConfig, RoundTripsThroughToHfJson) {
  for (const char* type : {"mistral", "qwen2"}) {
    json j = small();
    j["model_type"] = type;
    j["use_sliding_window"] = true;
    j["sliding_window"] = 7;
    j["max_window_layers"] = 1;
    const auto c = parseModelConfig(j, "c");
    const auto back = parseModelConfig(toHfJson(c), "c");
    EXPECT_EQ(back.slidingWindow, c.slidingWindow) << type;
    EXPECT_EQ(windowedLayers(back), windowedLayers(c)) << type;
    EXPECT_EQ(back.summary()["sliding_window"], c.summary()["sliding_window"]) << type;
  }
  json j = small();
  j["model_type"] = "mistral";
  j["sliding_window"] = nullptr;  // written back as null, not left out (absent would mean 4096)
  EXPECT_FALSE(parseModelConfig(toHfJson(parseModelConfig(j, "c")), "c").slidingWindow);
}

// The link rule: links that resolve inside the model folder, or from <repo>/snapshots/<rev>/ into <repo>/blobs/,
// are followed; any other link is refused with an error naming the file and its target.
class CheckpointLinks : public ::testing::Test {
 protected:
  void SetUp() override {
    writeRandomCheckpoint(src_.path(), test::byteConfig({.hidden = 16, .intermediate = 32, .layers = 2, .heads = 4}), {.seed = 2});
  }
  // Moves `name` from the source checkpoint to `target` and leaves a symbolic link `link` -> `linkText`.
  static void moveAndLink(const fs::path& from, const fs::path& target, const fs::path& link, const fs::path& linkText) {
    fs::create_directories(target.parent_path());
    fs::copy_file(from, target, fs::copy_options::overwrite_existing);
    fs::create_directories(link.parent_path());
    fs::create_symlink(linkText, link);
  }
  static std::string openError(const fs::path& dir) {
    try {
      Checkpoint::open(dir);
    } catch (const CheckpointError& e) {
      return e.what();
    }
    return "";
  }
  test::TempDir src_, root_;
};

TEST_F(CheckpointLinks, InsideTheFolderIsFollowed) {
  const fs::path m = root_.path() / "model";
  fs::create_directories(m);
  fs::copy_file(src_.path() / "config.json", m / "config.json");
  moveAndLink(src_.path() / "model.safetensors", m / "weights" / "real.safetensors", m / "model.safetensors",
              "weights/real.safetensors");
  EXPECT_EQ(openError(m), "");
}

TEST_F(CheckpointLinks, HuggingFaceCacheSnapshotIntoItsBlobsIsFollowed) {
  const fs::path repo = root_.path() / "hub" / "models--org--tiny";
  const fs::path snap = repo / "snapshots" / "0123abcd";
  moveAndLink(src_.path() / "config.json", repo / "blobs" / "aaaa", snap / "config.json", "../../blobs/aaaa");
  moveAndLink(src_.path() / "model.safetensors", repo / "blobs" / "bbbb", snap / "model.safetensors", "../../blobs/bbbb");
  EXPECT_EQ(openError(snap), "");
}

TEST_F(CheckpointLinks, OutsideTheFolderIsRefused) {
  const fs::path m = root_.path() / "model";
  fs::create_directories(m);
  fs::copy_file(src_.path() / "config.json", m / "config.json");
  fs::create_symlink(src_.path() / "model.safetensors", m / "model.safetensors");  // another folder entirely
  const std::string e = openError(m);
  EXPECT_NE(e.find((m / "model.safetensors").string() + ": symbolic link to '"), std::string::npos) << e;
  EXPECT_NE(e.find("leads outside the model folder"), std::string::npos) << e;

  // A config.json link out of the folder is refused too.
  const fs::path m2 = root_.path() / "model2";
  fs::create_directories(m2);
  fs::copy_file(src_.path() / "model.safetensors", m2 / "model.safetensors");
  fs::create_symlink(src_.path() / "config.json", m2 / "config.json");
  EXPECT_NE(openError(m2).find("config.json: symbolic link to"), std::string::npos) << openError(m2);
}

TEST_F(CheckpointLinks, CacheSnapshotIntoAnotherReposBlobsIsRefused) {
  const fs::path hub = root_.path() / "hub";
  const fs::path snap = hub / "models--org--tiny" / "snapshots" / "0123abcd";
  moveAndLink(src_.path() / "config.json", hub / "models--org--tiny" / "blobs" / "aaaa", snap / "config.json",
              "../../blobs/aaaa");
  moveAndLink(src_.path() / "model.safetensors", hub / "models--evil--other" / "blobs" / "bbbb",
              snap / "model.safetensors", "../../../models--evil--other/blobs/bbbb");
  EXPECT_NE(openError(snap).find("leads outside the model folder"), std::string::npos) << openError(snap);
  // And a folder that only looks like a snapshot (its parent is not named snapshots) gets no blobs exception.
  const fs::path fake = hub / "models--org--tiny" / "not-snapshots" / "rev";
  fs::create_directories(fake);
  fs::create_symlink("../../blobs/aaaa", fake / "config.json");
  fs::copy_file(src_.path() / "model.safetensors", fake / "model.safetensors");
  EXPECT_NE(openError(fake).find("leads outside the model folder"), std::string::npos) << openError(fake);
}

// bos_token_id / eos_token_id are informational (the tokenizer decides): one id in range, or none. get<int>() used
// to truncate 4294967297 to 1, a real token of the vocabulary.
TEST(ConfigHardening, TokenIdsOutOfRangeAreDroppedNotTruncated) {
  json j = small();
  for (const auto& [value, want] : std::vector<std::pair<json, std::optional<int>>>{
           {json(5), 5}, {json(4294967297LL), std::nullopt}, {json(-1), std::nullopt},
           {json(18446744073709551615ULL), std::nullopt}, {json::array({128001, 128009}), std::nullopt},
           {json(1.0), std::nullopt}}) {
    j["bos_token_id"] = value;
    j["eos_token_id"] = value;
    const ModelConfig c = parseModelConfig(j, "/m/config.json");
    EXPECT_EQ(c.bosTokenId, want) << value.dump();
    EXPECT_EQ(c.eosTokenId, want) << value.dump();
  }
}
