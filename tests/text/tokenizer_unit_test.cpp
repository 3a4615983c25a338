// Unit tests of the tokenizer pieces the goldens do not reach: known ids, BOS handling, streaming decode,
// error messages, merges in both forms, continuing_subword_prefix, normalizers and decoders on small inline
// tokenizer.json files whose expected ids are derived by hand in the comments.
#include <gtest/gtest.h>

#include <thread>

#include "core/base/error.h"
#include "core/text/tokenizer.h"

namespace layerscope::core {
namespace {

std::filesystem::path dataDir(const std::string& name) {
  return std::filesystem::path(LAYERSCOPE_TOKENIZER_DATA_DIR) / name;
}

const Tokenizer& llama3() {
  static const Tokenizer tok = Tokenizer::fromFile(dataDir("llama3_1"));
  return tok;
}
const Tokenizer& llama2() {
  static const Tokenizer tok = Tokenizer::fromFile(dataDir("llama2"));
  return tok;
}

TEST(TokenizerLlama3, VietIsOneToken) {
  // ignore_merges: " Việt" is in the vocabulary as one token (issue 3).
  EXPECT_EQ(llama3().encode(" Việt"), std::vector<int32_t>{101798});
}

TEST(TokenizerLlama3, KnownIdsAndSpecials) {
  const auto& tok = llama3();
  EXPECT_EQ(tok.vocabSize(), 128256);
  EXPECT_EQ(tok.bosId(), 128000);
  EXPECT_EQ(tok.eosId(), 128009);  // tokenizer_config.json eos_token <|eot_id|>
  EXPECT_EQ(tok.tokenToId("<|eot_id|>"), 128009);
  EXPECT_TRUE(tok.isSpecial(128009));
  EXPECT_FALSE(tok.isSpecial(9906));
  EXPECT_EQ(tok.encode("Hello", {.addSpecialTokens = true}), (std::vector<int32_t>{128000, 9906}));
  EXPECT_EQ(tok.decode(std::vector<int32_t>{128000, 9906}, /*skipSpecial=*/true), "Hello");
}

TEST(TokenizerLlama3, NeverASecondBos) {
  const auto& tok = llama3();
  EXPECT_EQ(tok.encode("<|begin_of_text|>Hello", {.addSpecialTokens = true}), (std::vector<int32_t>{128000, 9906}));
  // As plain text the marker is not a BOS, so the template's BOS is added.
  auto plain = tok.encode("<|begin_of_text|>", {.addSpecialTokens = true, .parseSpecialTokens = false});
  ASSERT_GT(plain.size(), 2u);
  EXPECT_EQ(plain[0], 128000);
  EXPECT_NE(plain[1], 128000);
}

TEST(TokenizerLlama3, ConcurrentEncodesAgreeWithSerial) {
  // encode is const and shared between eval workers: the word cache and PCRE2 state must not race.
  const auto& tok = llama3();
  std::vector<std::string> texts;
  for (int k = 0; k < 64; ++k)
    texts.push_back("Thread " + std::to_string(k * 7919) + " writes 'LL words, 中文 " + std::string(size_t(k % 5), ' ') + "x");
  std::vector<std::vector<int32_t>> serial;
  for (const auto& t : texts) serial.push_back(tok.encode(t));
  std::vector<std::vector<std::vector<int32_t>>> results(4, std::vector<std::vector<int32_t>>(texts.size()));
  std::vector<std::thread> threads;
  for (size_t w = 0; w < results.size(); ++w)
    threads.emplace_back([&, w] {
      for (size_t k = 0; k < texts.size(); ++k) results[w][k] = tok.encode(texts[(k + w * 16) % texts.size()]);
    });
  for (auto& t : threads) t.join();
  for (size_t w = 0; w < results.size(); ++w)
    for (size_t k = 0; k < texts.size(); ++k) EXPECT_EQ(results[w][k], serial[(k + w * 16) % texts.size()]);
}

TEST(TokenizerLlama3, DecodeRejectsUnknownIds) {
  EXPECT_THROW(llama3().decode(std::vector<int32_t>{1, 999999}), InvalidArgument);
  EXPECT_THROW(llama3().decode(std::vector<int32_t>{-1}), InvalidArgument);
}

TEST(TokenizerLlama3, InvalidUtf8IsAnError) {
  try {
    llama3().encode("ab\xC3");
    FAIL() << "expected TokenizerError";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("offset 2"), std::string::npos) << e.what();
  }
}

std::string streamAll(const Tokenizer& tok, const std::vector<int32_t>& ids, std::vector<std::string>* pieces = nullptr) {
  StreamingDecoder dec(tok);
  std::string out;
  for (int32_t id : ids) {
    std::string piece = dec.push(id);
    // Nothing emitted may end inside a UTF-8 sequence or carry a replacement character.
    EXPECT_EQ(piece.find("\xEF\xBF\xBD"), std::string::npos);
    if (pieces) pieces->push_back(piece);
    out += piece;
  }
  out += dec.flush();
  return out;
}

TEST(StreamingDecoder, MatchesDecodeAndHoldsBackIncompleteUtf8) {
  for (const Tokenizer* tok : {&llama3(), &llama2()}) {
    for (std::string text : {"Hello world, 👨‍👩‍👧‍👦 family and 中文 text", "  leading spaces\nand 🇩🇪 flags",
                             "Tiếng Việt có dấu 🧑🏻‍🤝‍🧑🏿"}) {
      auto ids = tok->encode(text, {.addSpecialTokens = true});
      EXPECT_EQ(streamAll(*tok, ids), tok->decode(ids)) << text;
    }
  }
  // Llama 2 spells "👨" as "▁" + four <0xNN> byte tokens (reference ids 28705, 243, 162, 148, 171): the first
  // three byte tokens emit nothing, the fourth the whole character.
  auto ids = llama2().encode("👨");
  ASSERT_EQ(ids, (std::vector<int32_t>{28705, 243, 162, 148, 171}));
  std::vector<std::string> pieces;
  EXPECT_EQ(streamAll(llama2(), ids, &pieces), "👨");
  EXPECT_EQ(pieces, (std::vector<std::string>{"", "", "", "", "👨"}));
}

TEST(StreamingDecoder, FlushReturnsIncompleteTailAsReplacement) {
  const auto& tok = llama2();
  auto lt = tok.tokenToId("<0xF0>");
  ASSERT_TRUE(lt);
  StreamingDecoder dec(tok);
  EXPECT_EQ(dec.push(*lt), "");
  EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD");
}

TEST(TokenizerLlama2, ByteFallbackAndMetaspace) {
  const auto& tok = llama2();
  EXPECT_EQ(tok.bosId(), 1);
  EXPECT_EQ(tok.eosId(), 2);
  // "\n" -> "▁" + <0x0A> (reference ids 28705, 13)
  EXPECT_EQ(tok.encode("\n"), (std::vector<int32_t>{28705, 13}));
  EXPECT_EQ(tok.decode(tok.encode("a\u2028b")), "a\u2028b");
  EXPECT_EQ(tok.encode("x", {.addSpecialTokens = true}).front(), 1);
}

// ---------------------------------------------------------------- small inline tokenizers

std::string tinyBpe(const std::string& merges, const std::string& extraModel = "", const std::string& rest = "") {
  // vocab: a=0 b=1 c=2 ab=3 abc=4 <unk>=5 ##b=6 ##c=7 a##b=8
  return R"({"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,"post_processor":null,
  "decoder":null,"model":{"type":"BPE","unk_token":"<unk>",)" + extraModel +
         R"("vocab":{"a":0,"b":1,"c":2,"ab":3,"abc":4,"<unk>":5,"##b":6,"##c":7,"a##b":8},"merges":)" + merges +
         "}" + rest + "}";
}

TEST(TokenizerJson, MergesInBothForms) {
  // "abc": merge (a,b) rank 0 -> ab, then (ab,c) rank 1 -> abc.
  for (const std::string merges : {R"(["a b","ab c"])", R"([["a","b"],["ab","c"]])"}) {
    auto tok = Tokenizer::fromJson(tinyBpe(merges));
    EXPECT_EQ(tok.encode("abc"), std::vector<int32_t>{4}) << merges;
    EXPECT_EQ(tok.encode("cab"), (std::vector<int32_t>{2, 3})) << merges;
  }
}

TEST(TokenizerJson, UnknownCharactersFuseIntoOneUnk) {
  auto unfused = Tokenizer::fromJson(tinyBpe(R"(["a b"])"));
  EXPECT_EQ(unfused.encode("xyab"), (std::vector<int32_t>{5, 5, 3}));
  auto fused = Tokenizer::fromJson(tinyBpe(R"(["a b"])", R"("fuse_unk":true,)"));
  EXPECT_EQ(fused.encode("xyab"), (std::vector<int32_t>{5, 3}));
}

TEST(TokenizerJson, ContinuingSubwordPrefix) {
  // With prefix "##": "ab" starts as a, ##b; merge ("a","##b") yields "a" + "b" = "ab" (id 3), per the reference.
  auto tok = Tokenizer::fromJson(tinyBpe(R"([["a","##b"]])", R"("continuing_subword_prefix":"##",)"));
  EXPECT_EQ(tok.encode("ab"), std::vector<int32_t>{3});
  EXPECT_EQ(tok.encode("abc"), (std::vector<int32_t>{3, 7}));
}

TEST(TokenizerJson, BadMergeNamesFileAndEntry) {
  try {
    Tokenizer::fromJson(tinyBpe(R"(["a b","a z"])"), "", "models/x/tokenizer.json");
    FAIL();
  } catch (const TokenizerError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("models/x/tokenizer.json"), std::string::npos) << m;
    EXPECT_NE(m.find("merges[1]"), std::string::npos) << m;
    EXPECT_NE(m.find("'z'"), std::string::npos) << m;
  }
  EXPECT_THROW(Tokenizer::fromJson(tinyBpe(R"(["abc"])")), TokenizerError);
}

TEST(TokenizerJson, MalformedJsonNamesFile) {
  try {
    Tokenizer::fromJson("{\"model\": [1, 2", "", "dir/tokenizer.json");
    FAIL();
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("dir/tokenizer.json: malformed JSON"), std::string::npos) << e.what();
  }
}

TEST(TokenizerJson, UnsupportedComponentsAreNamed) {
  auto expectError = [](const std::string& json, const std::string& needle) {
    try {
      Tokenizer::fromJson(json);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const TokenizerError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  std::string base = tinyBpe(R"(["a b"])");
  auto with = [&](const std::string& field, const std::string& value) {
    std::string s = base;
    auto p = s.find("\"" + field + "\":null");
    return s.replace(p, field.size() + 7, "\"" + field + "\":" + value);
  };
  expectError(with("normalizer", R"({"type":"BertNormalizer"})"), "BertNormalizer");
  expectError(with("pre_tokenizer", R"({"type":"Whitespace"})"), "Whitespace");
  expectError(with("decoder", R"({"type":"WordPiece"})"), "WordPiece");
  expectError(with("post_processor", R"({"type":"Unknown"})"), "Unknown");
  expectError(R"({"model":{"type":"Unigram","vocab":[]}})", "Unigram");
  expectError(with("pre_tokenizer", R"({"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"})"), "(unclosed");
}

TEST(TokenizerJson, NfcNormalizerComposes) {
  // vocab has only precomposed é (id 1); NFC turns e + U+0301 into it. Without NFC it would be <unk>s.
  std::string json = R"({"normalizer":{"type":"NFC"},"pre_tokenizer":null,"decoder":null,"post_processor":null,
    "added_tokens":[],"model":{"type":"BPE","unk_token":"u","vocab":{"u":0,"é":1},"merges":[]}})";
  auto tok = Tokenizer::fromJson(json);
  EXPECT_EQ(tok.encode("e\u0301"), std::vector<int32_t>{1});
  EXPECT_EQ(tok.encode("é"), std::vector<int32_t>{1});
  // Hangul: U+1100 U+1161 composes to U+AC00.
  std::string hangul = R"({"normalizer":{"type":"NFC"},"added_tokens":[],"model":{"type":"BPE","unk_token":"u",
    "vocab":{"u":0,"가":1},"merges":[]}})";
  EXPECT_EQ(Tokenizer::fromJson(hangul).encode("\u1100\u1161"), std::vector<int32_t>{1});
}

TEST(TokenizerJson, AddedTokenStripAndSingleWord) {
  // <m> (id 9) with lstrip+rstrip swallows the spaces around it; "w" (id 10) single_word only matches alone.
  std::string json = R"({"added_tokens":[
      {"id":9,"content":"<m>","single_word":false,"lstrip":true,"rstrip":true,"normalized":false,"special":true},
      {"id":10,"content":"w","single_word":true,"lstrip":false,"rstrip":false,"normalized":false,"special":false}],
    "model":{"type":"BPE","unk_token":"u","vocab":{"u":0," ":1,"a":2,"w":3},"merges":[]}})";
  auto tok = Tokenizer::fromJson(json);
  EXPECT_EQ(tok.encode("a  <m>  a"), (std::vector<int32_t>{2, 9, 2}));
  EXPECT_EQ(tok.encode("a w a"), (std::vector<int32_t>{2, 1, 10, 1, 2}));
  EXPECT_EQ(tok.encode("awa"), (std::vector<int32_t>{2, 3, 2}));
  // Plain mode: special <m> is text (each char unknown -> u), non-special "w" still matches.
  EXPECT_EQ(tok.encode("<m> w", {.parseSpecialTokens = false}), (std::vector<int32_t>{0, 0, 0, 1, 10}));
}

TEST(TokenizerJson, ConfigAddBosAddEos) {
  std::string json = R"({"added_tokens":[
      {"id":1,"content":"<s>","normalized":false,"special":true},{"id":2,"content":"</s>","normalized":false,"special":true}],
    "model":{"type":"BPE","vocab":{"a":0,"<s>":1,"</s>":2},"merges":[]}})";
  auto tok = Tokenizer::fromJson(json, R"({"bos_token":"<s>","eos_token":{"content":"</s>"},"add_bos_token":true,
    "add_eos_token":true})");
  EXPECT_EQ(tok.encode("a", {.addSpecialTokens = true}), (std::vector<int32_t>{1, 0, 2}));
  EXPECT_EQ(tok.encode("<s>a", {.addSpecialTokens = true}), (std::vector<int32_t>{1, 0, 2}));
  EXPECT_EQ(tok.encode("a"), std::vector<int32_t>{0});
}


TEST(TokenizerJson, WithConfigReplacesTheConfigAndLeavesTheOriginal) {
  // Template: <s> before the sequence. withConfig starts from that template each time, whatever the tokenizer
  // it is called on had; the tokenizer it is called on, and its copies, keep their own specials.
  std::string json = R"({"added_tokens":[
      {"id":1,"content":"<s>","normalized":false,"special":true},{"id":2,"content":"</s>","normalized":false,"special":true}],
    "model":{"type":"BPE","vocab":{"a":0,"<s>":1,"</s>":2},"merges":[]},
    "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},
      {"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}}})";
  const std::string eosOnly = R"({"bos_token":"<s>","eos_token":"</s>","add_bos_token":false,"add_eos_token":true})";
  const std::string eosName = R"({"eos_token":"</s>"})";
  const auto base = Tokenizer::fromJson(json);
  const std::vector<int32_t> bosA{1, 0}, aEos{0, 2};
  EXPECT_EQ(base.encode("a", {.addSpecialTokens = true}), bosA);
  EXPECT_EQ(base.eosId(), std::nullopt);

  const auto swapped = base.withConfig(eosOnly);
  EXPECT_EQ(swapped.encode("a", {.addSpecialTokens = true}), aEos);
  EXPECT_EQ(swapped.bosId(), 1);
  EXPECT_EQ(swapped.eosId(), 2);
  const auto fromBoth = Tokenizer::fromJson(json, eosOnly);
  EXPECT_EQ(fromBoth.encode("a", {.addSpecialTokens = true}), aEos);
  EXPECT_EQ(fromBoth.eosId(), 2);
  EXPECT_EQ(base.encode("a", {.addSpecialTokens = true}), bosA);  // unchanged

  // A second config replaces the first: only names the EOS, so the template's <s> is back.
  const auto renamed = swapped.withConfig(eosName);
  EXPECT_EQ(renamed.encode("a", {.addSpecialTokens = true}), bosA);
  EXPECT_EQ(renamed.eosId(), 2);
  const Tokenizer copy = swapped;  // NOLINT(performance-unnecessary-copy-initialization): the copy is the test
  EXPECT_EQ(copy.encode("a", {.addSpecialTokens = true}), aEos);

  try {
    (void)base.withConfig(R"({"eos_token":"</x>"})", "m/tokenizer_config.json");
    ADD_FAILURE() << "a token outside the vocabulary was accepted";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("m/tokenizer_config.json: eos_token '</x>' is not in the vocabulary"),
              std::string::npos) << e.what();
  }
}
TEST(TokenizerJson, MetaspaceDecoderAndStrip) {
  // Metaspace (prepend always, split) pre-tokenizer + decoder: "a b" -> "▁a", "▁b" -> "a b".
  std::string json = R"({"added_tokens":[],"pre_tokenizer":{"type":"Metaspace","replacement":"▁",
    "prepend_scheme":"always","split":true},"decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always"},
    "model":{"type":"BPE","vocab":{"▁a":0,"▁b":1,"▁":2,"a":3,"b":4},"merges":[["▁","a"],["▁","b"]]}})";
  auto tok = Tokenizer::fromJson(json);
  EXPECT_EQ(tok.encode("a b"), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(tok.decode(tok.encode("a b")), "a b");
}

}  // namespace
}  // namespace layerscope::core
