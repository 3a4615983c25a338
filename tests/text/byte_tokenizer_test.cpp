// The byte-level tokenizer.json loads through the regular tokenizer and maps bytes to ids 0-255.
#include <gtest/gtest.h>

#include "core/text/byte_tokenizer.h"
#include "core/text/tokenizer.h"
#include "tests/common/test_util.h"

using namespace layerscope::core;

TEST(ByteTokenizer, OneTokenPerByteWithBos) {
  layerscope::test::TempDir dir;
  writeByteLevelTokenizer(dir.path());
  auto tok = Tokenizer::fromFile(dir.path());
  EXPECT_EQ(tok.vocabSize(), kByteVocabSize);
  EXPECT_EQ(tok.bosId(), kByteBos);
  EXPECT_EQ(tok.eosId(), kByteEos);
  const std::string text = "K3: 7 9\n A: é 🙂 \t<|eos|>";
  auto ids = tok.encode(text, {.addSpecialTokens = true, .parseSpecialTokens = false});
  ASSERT_EQ(ids.size(), text.size() + 1);
  EXPECT_EQ(ids[0], kByteBos);
  for (size_t i = 0; i < text.size(); ++i) EXPECT_EQ(ids[i + 1], int(static_cast<unsigned char>(text[i])));
  EXPECT_EQ(tok.decode(ids, /*skipSpecial=*/true), text);
  auto withSpecial = tok.encode("a<|eos|>", {.addSpecialTokens = false, .parseSpecialTokens = true});
  EXPECT_EQ(withSpecial, (std::vector<int32_t>{'a', kByteEos}));
}
