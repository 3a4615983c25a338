// Adapter JSON files (core/train/adapter_config.h): every malformed field is a CheckpointError naming the file
// and the field, never a JSON library message or a silently truncated number. Fuzz reproducers: fuzz/corpus/adapter/.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "core/base/error.h"
#include "core/train/adapter_config.h"
#include "tests/common/test_util.h"

using namespace layerscope;
using namespace layerscope::core;

namespace {

ModelConfig demoConfig() {
  ModelConfig c;
  c.hiddenSize = 128, c.intermediateSize = 384, c.numLayers = 12, c.numHeads = 8, c.numKvHeads = 2, c.headDim = 16;
  c.vocabSize = 259;
  return c;
}

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

const std::string kPeft =
    R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"], "layers_to_transform": LAYERS})";

std::string withLayers(const std::string& layers) {
  std::string s = kPeft;
  return s.replace(s.find("LAYERS"), 6, layers);
}

// The CheckpointError message for an adapter directory holding adapter_config.json = `peft` ("" if accepted).
std::string peftError(const std::string& peft) {
  test::TempDir d;
  write(d / kPeftConfigFile, peft);
  try {
    readAdapterSpec(d.path(), demoConfig());
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(AdapterConfig, ReadsPeftAndGarfaFiles) {
  test::TempDir d;
  write(d / kPeftConfigFile, withLayers("[0, 11]"));
  write(d / kGarfaConfigFile, R"({"layers": [2, 3], "num_key_value_heads": 2, "clamp_alpha": [0.5, 2.0], "base_model_name_or_path": null})");
  const AdapterSpec s = readAdapterSpec(d.path(), demoConfig());
  EXPECT_EQ(s.lora.layers, (std::vector<int>{0, 11}));
  EXPECT_EQ(s.lora.targets, (std::vector<Proj>{Proj::Q, Proj::V}));
  EXPECT_EQ(s.lora.rank, 4);
  EXPECT_EQ(s.lora.dropout, 0.0);
  EXPECT_EQ(s.garfa.layers, (std::vector<int>{2, 3}));
  EXPECT_TRUE(s.garfa.clamp);
  EXPECT_EQ(s.garfa.maxAlpha, 2.0);
}

TEST(AdapterConfig, NullOrAbsentLayersMeanEveryLayerAndNullBaseModelIsAccepted) {
  test::TempDir d;
  write(d / kPeftConfigFile, R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"],
                                 "layers_to_transform": null, "base_model_name_or_path": null})");
  const AdapterSpec s = readAdapterSpec(d.path(), demoConfig());
  EXPECT_EQ(s.lora.layers.size(), 12u);
  EXPECT_EQ(s.baseModel, "");
}

TEST(AdapterConfig, LayerIndexBeyondIntIsRefusedNotTruncated) {
  // Found by fuzz_adapter: 4294967296 was read as int 0 and the adapter silently applied to layer 0.
  const std::string msg = peftError(withLayers("[4294967296]"));
  EXPECT_NE(msg.find("adapter_config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'layers_to_transform[0]' is out of range"), std::string::npos) << msg;
  EXPECT_NE(peftError(withLayers("4294967297")).find("'layers_to_transform' is out of range"), std::string::npos);
}

TEST(AdapterConfig, MistypedFieldsNameTheField) {
  EXPECT_NE(peftError(R"({"peft_type": "LORA", "r": "4", "lora_alpha": 8, "target_modules": ["q_proj"]})")
                .find("'r' must be an integer, found string"), std::string::npos);
  EXPECT_NE(peftError(R"({"peft_type": "LORA", "r": 4, "target_modules": ["q_proj"]})").find("'lora_alpha' is missing"),
            std::string::npos);
  EXPECT_NE(peftError(R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": [1]})")
                .find("'target_modules' entries must be strings"), std::string::npos);
  EXPECT_NE(peftError(R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": {"q": 1}})")
                .find("'target_modules' must be a list"), std::string::npos);
  EXPECT_NE(peftError(R"({"peft_type": 7})").find("'peft_type' must be a string"), std::string::npos);
  EXPECT_NE(peftError(withLayers(R"("0-3")")).find("'layers_to_transform' must be a list"), std::string::npos);
  EXPECT_NE(peftError("[1, 2]").find("expected a JSON object, found array"), std::string::npos);
  EXPECT_NE(peftError("{").find("invalid JSON"), std::string::npos);
}

TEST(AdapterConfig, RankBeyondTheModelIsRefusedBeforeAnyAllocation) {
  std::string peft = withLayers("[0]");
  peft.replace(peft.find("\"r\": 4"), 6, "\"r\": 1000000000");
  const std::string msg = peftError(peft);
  EXPECT_NE(msg.find("exceeds the model's largest dimension (384)"), std::string::npos) << msg;
}

TEST(AdapterConfig, GarfaClampMustBeAPair) {
  test::TempDir d;
  write(d / kGarfaConfigFile, R"({"layers": [1], "num_key_value_heads": 2, "clamp_alpha": [1]})");
  try {
    readAdapterSpec(d.path(), demoConfig());
    FAIL() << "accepted clamp_alpha [1]";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("'clamp_alpha' must be null or [min, max]"), std::string::npos) << e.what();
  }
}
