// config.json parsing and the llama3 RoPE frequency table.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/model/config.h"
#include "core/base/error.h"
#include "core/model/rope.h"

using namespace layerscope;
using namespace layerscope::core;
using nlohmann::json;

namespace {

json llama31_8b() {
  // Field values from Meta-Llama-3.1-8B's config.json.
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
    "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
    "max_position_embeddings": 131072, "tie_word_embeddings": false, "attention_bias": false,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"}})");
}

std::string errorOf(const json& j) {
  try {
    parseModelConfig(j, "config.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Config, Llama31FieldsAndParameterCount) {
  ModelConfig c = parseModelConfig(llama31_8b(), "config.json");
  EXPECT_EQ(c.numLayers, 32);
  EXPECT_EQ(c.numKvHeads, 8);
  EXPECT_EQ(c.headDim, 128);
  EXPECT_EQ(c.nRep(), 4);
  EXPECT_EQ(c.ropeScaling.kind, RopeScaling::Kind::Llama3);
  // Llama 3.1 8B has 8,030,261,248 parameters (the published count).
  EXPECT_EQ(c.parameterCount(), 8030261248LL);
}

TEST(Config, Llama3FrequencyTableKeeps29Blends6Divides29) {
  ModelConfig c = parseModelConfig(llama31_8b(), "config.json");
  std::vector<RopeBand> bands;
  auto inv = ropeInverseFrequencies(c, &bands);
  ASSERT_EQ(inv.size(), 64u);
  int kept = 0, blended = 0, divided = 0;
  for (size_t i = 0; i < bands.size(); ++i) {
    kept += bands[i] == RopeBand::Kept;
    divided += bands[i] == RopeBand::Divided;
    if (bands[i] == RopeBand::Blended) {
      ++blended;
      EXPECT_GE(i, 29u);
      EXPECT_LE(i, 34u);
    }
  }
  EXPECT_EQ(kept, 29);
  EXPECT_EQ(blended, 6);
  EXPECT_EQ(divided, 29);
  // Spot values by hand: i = 0 kept (1.0); i = 63 divided by 8; i = 30 blended with s from the formula.
  EXPECT_DOUBLE_EQ(inv[0], 1.0);
  EXPECT_NEAR(inv[63], std::pow(500000.0, -126.0 / 128) / 8, 1e-18);
  const double f30 = std::pow(500000.0, -60.0 / 128), s = (8192.0 / (2 * M_PI / f30) - 1.0) / 3.0;
  EXPECT_NEAR(inv[30], (1 - s) * f30 / 8 + s * f30, 1e-15);
}

TEST(Config, OlderTypeKeyAndLinearScaling) {
  json j = llama31_8b();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  ModelConfig c = parseModelConfig(j, "config.json");
  EXPECT_EQ(c.ropeScaling.kind, RopeScaling::Kind::Linear);
  auto inv = ropeInverseFrequencies(c);
  EXPECT_DOUBLE_EQ(inv[0], 0.5);
}

// transformers >= 5 writes one `rope_parameters` object (theta inside) instead of rope_theta + rope_scaling: the
// same Llama 3.1 configuration written either way gives the same model configuration and the same frequencies.
TEST(Config, TransformersV5RopeParametersMatchTheOlderFields) {
  json v5 = llama31_8b();
  v5["rope_parameters"] = v5["rope_scaling"];
  v5["rope_parameters"]["rope_theta"] = 500000.0;
  v5.erase("rope_scaling");
  v5.erase("rope_theta");
  const ModelConfig a = parseModelConfig(llama31_8b(), "config.json");
  const ModelConfig b = parseModelConfig(v5, "config.json");
  EXPECT_EQ(b.ropeTheta, 500000.0);
  EXPECT_EQ(b.ropeScaling.kind, RopeScaling::Kind::Llama3);
  EXPECT_EQ(ropeInverseFrequencies(a), ropeInverseFrequencies(b));

  json plain = llama31_8b();  // rope_type "default" with its theta: no scaling
  plain.erase("rope_scaling");
  plain.erase("rope_theta");
  plain["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  const ModelConfig c = parseModelConfig(plain, "config.json");
  EXPECT_EQ(c.ropeTheta, 1000000.0);
  EXPECT_EQ(c.ropeScaling.kind, RopeScaling::Kind::None);

  // A non-null rope_scaling wins over rope_parameters, as in transformers; a top-level rope_theta likewise.
  json both = v5;
  both["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  both["rope_theta"] = 10000.0;
  const ModelConfig d = parseModelConfig(both, "config.json");
  EXPECT_EQ(d.ropeScaling.kind, RopeScaling::Kind::Linear);
  EXPECT_EQ(d.ropeTheta, 10000.0);

  json bad = v5;
  bad["rope_parameters"]["rope_type"] = "yarn";
  EXPECT_NE(errorOf(bad).find("unsupported rope_parameters type 'yarn'"), std::string::npos) << errorOf(bad);
  bad = v5;
  bad["rope_parameters"] = {{"full_attention", {{"rope_type", "default"}, {"rope_theta", 1e6}}},
                            {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 1e4}}}};
  EXPECT_NE(errorOf(bad).find("per-layer-type RoPE parameters are not supported"), std::string::npos) << errorOf(bad);
  bad = v5;
  bad["rope_parameters"]["rope_theta"] = "big";
  EXPECT_NE(errorOf(bad).find("'rope_parameters.rope_theta' must be a number"), std::string::npos) << errorOf(bad);
}

TEST(Config, DefaultsForOptionalFields) {
  json j = llama31_8b();
  j.erase("num_key_value_heads");
  j.erase("rope_scaling");
  j["head_dim"] = 64;
  j["tie_word_embeddings"] = true;
  ModelConfig c = parseModelConfig(j, "config.json");
  EXPECT_EQ(c.numKvHeads, 32);  // HF: defaults to num_attention_heads
  EXPECT_EQ(c.headDim, 64);
  EXPECT_TRUE(c.tieWordEmbeddings);
  EXPECT_EQ(c.ropeScaling.kind, RopeScaling::Kind::None);
}

TEST(Config, Qwen2HasQkvBiasOnly) {
  json j = llama31_8b();
  j["model_type"] = "qwen2";
  j.erase("attention_bias");
  ModelConfig c = parseModelConfig(j, "config.json");
  EXPECT_TRUE(c.qkvBias);
  EXPECT_FALSE(c.oBias);
}

TEST(Config, ErrorsNameTheField) {
  json j = llama31_8b();
  j.erase("hidden_size");
  EXPECT_NE(errorOf(j).find("missing required field 'hidden_size'"), std::string::npos) << errorOf(j);
  j = llama31_8b();
  j["num_hidden_layers"] = "32";
  EXPECT_NE(errorOf(j).find("'num_hidden_layers' must be an integer"), std::string::npos) << errorOf(j);
  j = llama31_8b();
  j["rope_scaling"]["rope_type"] = "yarn";
  EXPECT_NE(errorOf(j).find("unsupported rope_scaling type 'yarn'"), std::string::npos) << errorOf(j);
  j = llama31_8b();
  j["hidden_act"] = "gelu";
  EXPECT_NE(errorOf(j).find("unsupported hidden_act"), std::string::npos) << errorOf(j);
  j = llama31_8b();
  j["num_key_value_heads"] = 5;
  EXPECT_NE(errorOf(j).find("must be a multiple of num_key_value_heads"), std::string::npos) << errorOf(j);
  j = llama31_8b();
  j["rope_scaling"].erase("low_freq_factor");
  EXPECT_NE(errorOf(j).find("rope_scaling.low_freq_factor' is required"), std::string::npos) << errorOf(j);
  EXPECT_NE(errorOf(json::array()).find("config.json: expected a JSON object"), std::string::npos);
}

TEST(Config, MissingFileIsConfigError) {
  EXPECT_THROW(loadModelConfig("/nonexistent/config.json"), ConfigError);
}
