// Malformed tokenizer files found by fuzz_tokenizer / fuzz_tokenizer_config (reproducers in
// fuzz/corpus/tokenizer*/regress-*): each is a TokenizerError naming the file and the field, not a JSON library
// exception ("internal error"), a signed overflow or a table sized by an id from the file.
#include <gtest/gtest.h>

#include <string>

#include "core/base/error.h"
#include "core/text/tokenizer.h"

namespace layerscope::core {
namespace {

// A two-token BPE with `extra` spliced into the top-level object.
std::string tiny(const std::string& extra = "", const std::string& vocab = R"({"a": 0, "b": 1})") {
  return R"({"model": {"type": "BPE", "vocab": )" + vocab + R"(, "merges": []})" + (extra.empty() ? "" : ", " + extra) + "}";
}

std::string loadError(const std::string& tokenizerJson, const std::string& configJson = "") {
  try {
    Tokenizer::fromJson(tokenizerJson, configJson, "m/tokenizer.json");
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "";
}

TEST(TokenizerMalformed, TinyTokenizerLoads) { EXPECT_EQ(loadError(tiny()), ""); }

TEST(TokenizerMalformed, AddBosTokenThatIsNotABooleanNamesTheField) {
  // Was nlohmann type_error 302 escaping fromJson (cfg.value("add_bos_token", false) outside the try).
  const std::string tok = tiny(R"("added_tokens": [{"id": 1, "content": "b", "special": true}])");
  const std::string msg = loadError(tok, R"({"bos_token": "b", "add_bos_token": "yes"})");
  EXPECT_NE(msg.find("m/tokenizer_config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'add_bos_token' must be true, false or null"), std::string::npos) << msg;
  EXPECT_EQ(loadError(tok, R"({"bos_token": "b", "add_bos_token": null})"), "");
}

TEST(TokenizerMalformed, TokenObjectWhoseContentIsNotAStringNamesTheField) {
  const std::string msg = loadError(tiny(), R"({"bos_token": {"content": 5}})");
  EXPECT_NE(msg.find("m/tokenizer_config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bos_token.content must be a string"), std::string::npos) << msg;
}

TEST(TokenizerMalformed, AddedTokenIdsMustBeSmallNonNegativeIntegers) {
  // id 2147483647 made vocabSize = maxId + 1 overflow (UBSan: signed integer overflow).
  for (const char* id : {"2147483647", "-1", "4294967296", "\"7\""}) {
    const std::string msg = loadError(tiny(std::string(R"("added_tokens": [{"id": )") + id + R"(, "content": "<x>"}])"));
    EXPECT_NE(msg.find("'id' must be an integer in 0.."), std::string::npos) << id << ": " << msg;
  }
}

TEST(TokenizerMalformed, VocabularyIdsAreBounded) {
  // id 1000000000 sized the id -> token table at a billion strings.
  const std::string msg = loadError(tiny("", R"({"a": 0, "b": 1000000000})"));
  EXPECT_NE(msg.find("model.vocab entry 'b' has id 1000000000, above the supported"), std::string::npos) << msg;
}

TEST(TokenizerMalformed, PostProcessorIdsMustBeInTheVocabulary) {
  // encode() returned id 7 for a two-token vocabulary.
  const std::string msg = loadError(tiny(R"("post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [7], "tokens": ["<s>"]}}})"));
  EXPECT_NE(msg.find("post_processor names token id 7, outside the vocabulary (0..1)"), std::string::npos) << msg;
}

TEST(TokenizerMalformed, PostProcessorIdsMustBeIntegersInRange) {
  // Found by fuzz_tokenizer (2026-12-02): ids [2.56922e21] went through get<int32_t>() (UBSan: outside the range
  // of int); 4294967297 was truncated to 1, a token of the vocabulary.
  for (const char* id : {"2.56922e21", "4294967297", "-1", "1.5", "9223372036854775808", "\"1\""}) {
    const std::string msg = loadError(tiny(std::string(R"("post_processor": {"type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [)") + id + R"(], "tokens": ["<s>"]}}})"));
    EXPECT_NE(msg.find("post_processor TemplateProcessing: token id"), std::string::npos) << id << ": " << msg;
    EXPECT_NE(msg.find("must be an integer in 0.."), std::string::npos) << id << ": " << msg;
  }
  const std::string msg = loadError(tiny(R"("post_processor": {"type": "BertProcessing", "cls": ["a", 1e30],
      "sep": ["b", 1]})"));
  EXPECT_NE(msg.find("post_processor BertProcessing cls: token id"), std::string::npos) << msg;
  EXPECT_EQ(loadError(tiny(R"("post_processor": {"type": "BertProcessing", "cls": ["a", 0], "sep": ["b", 1]})")), "");
}

TEST(TokenizerMalformed, NumberTooLargeForADoubleIsMalformedJson) {
  // Found by fuzz_tokenizer: nlohmann's out_of_range.406 ("number overflow parsing '1e30878'") is not a
  // parse_error and escaped parseJson.
  const std::string msg = loadError(tiny(R"("x": 1e400)"));
  EXPECT_NE(msg.find("m/tokenizer.json: malformed JSON"), std::string::npos) << msg;
  EXPECT_NE(loadError(tiny(), R"({"model_max_length": 1e400})").find("tokenizer_config.json: malformed JSON"), std::string::npos);
}

}  // namespace
}  // namespace layerscope::core
