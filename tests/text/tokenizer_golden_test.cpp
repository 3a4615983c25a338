// Parity with the reference implementation (Hugging Face tokenizers 0.22.2 via npm @anush008/tokenizers):
// every golden string of tests/reference/tokenizer/generate_goldens.js must give exactly the reference ids,
// decode to the reference's text, and round-trip (decode(encode(s)) == s) where the reference does.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/text/tokenizer.h"

namespace layerscope::core {
namespace {

std::filesystem::path dataDir(const std::string& name) {
  return std::filesystem::path(LAYERSCOPE_TOKENIZER_DATA_DIR) / name;
}

nlohmann::json loadGoldens(const std::string& name) {
  std::ifstream in(dataDir(name) / "goldens.json");
  EXPECT_TRUE(in) << "missing goldens for " << name << " (re-run cmake to extract the archives)";
  return nlohmann::json::parse(in);
}

std::string excerpt(const std::string& s) {
  if (s.size() <= 120) return s;
  size_t cut = 120;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // keep whole characters
  return s.substr(0, cut) + "... (" + std::to_string(s.size()) + " bytes)";
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, EveryCaseMatchesTheReference) {
  const std::string name = GetParam();
  const Tokenizer tok = Tokenizer::fromFile(dataDir(name));  // a model directory, as the CLI accepts
  const nlohmann::json goldens = loadGoldens(name);
  const auto& cases = goldens.at("cases");
  ASSERT_GE(goldens.at("strings").get<int>(), 500);
  size_t mismatches = 0, roundTrips = 0;
  for (const auto& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    EncodeOptions opt;
    opt.addSpecialTokens = c.at("addSpecial").get<bool>();
    opt.parseSpecialTokens = !c.at("plainSpecial").get<bool>();
    const std::vector<int32_t> want = c.at("ids").get<std::vector<int32_t>>();
    const std::vector<int32_t> got = tok.encode(text, opt);
    if (got != want && ++mismatches <= 10) {
      ADD_FAILURE() << name << ": ids differ for " << nlohmann::json(excerpt(text)).dump()
                    << " addSpecial=" << opt.addSpecialTokens << " plainSpecial=" << !opt.parseSpecialTokens
                    << "\n want " << nlohmann::json(want).dump().substr(0, 300)
                    << "\n got  " << nlohmann::json(got).dump().substr(0, 300);
    }
    const std::string wantDecoded = c.contains("decoded") ? c.at("decoded").get<std::string>() : text;
    EXPECT_EQ(tok.decode(want), wantDecoded) << name << ": decode of " << nlohmann::json(excerpt(text)).dump();
    if (!opt.addSpecialTokens && !opt.parseSpecialTokens) {
      // Plain-text mode is what user input gets: it must always round-trip.
      EXPECT_EQ(tok.decode(got), text) << name << ": round trip of " << nlohmann::json(excerpt(text)).dump();
      ++roundTrips;
    } else if (!c.contains("decoded")) {
      ++roundTrips;
    }
  }
  EXPECT_EQ(mismatches, 0u) << name << ": " << mismatches << " of " << cases.size() << " cases differ";
  std::cout << "[ golden   ] " << name << ": " << cases.size() << " cases over " << goldens.at("strings")
            << " strings, " << mismatches << " mismatches, " << roundTrips << " checked round trips\n";
}

TEST_P(GoldenTest, PlainTextModeRoundTripsEveryString) {
  const std::string name = GetParam();
  const Tokenizer tok = Tokenizer::fromFile(dataDir(name) / "tokenizer.json");
  const nlohmann::json goldens = loadGoldens(name);
  for (const auto& c : goldens.at("cases")) {
    if (c.at("addSpecial").get<bool>() || c.at("plainSpecial").get<bool>()) continue;
    const std::string text = c.at("text").get<std::string>();
    EXPECT_EQ(tok.decode(tok.encode(text, {.addSpecialTokens = false, .parseSpecialTokens = false})), text)
        << name << ": " << nlohmann::json(excerpt(text)).dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, GoldenTest, ::testing::Values("llama3_1", "llama2"));

}  // namespace
}  // namespace layerscope::core
