// The results-directory reader on malformed files (fuzz_results findings; reproducers in fuzz/corpus/results/):
// a wrong type, an out-of-range integer or a bad CSV cell is a ResultsError naming the file and the key, never a
// JSON library exception or std::invalid_argument reaching the user as "internal error".
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "results/reader.h"
#include "tests/common/test_util.h"

using namespace layerscope;

namespace {

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

// The ResultsError message for a directory holding `name` = `text` ("" when it reads).
std::string dirError(const std::string& name, const std::string& text) {
  test::TempDir d;
  write(d / name, text);
  try {
    results::readResultsDir(d.path());
  } catch (const results::ResultsError& e) {
    return e.what();
  }
  return "";
}

void expectError(const std::string& name, const std::string& text, const std::string& part) {
  const std::string msg = dirError(name, text);
  EXPECT_NE(msg.find(name), std::string::npos) << msg;
  EXPECT_NE(msg.find(part), std::string::npos) << "expected '" << part << "' in: " << msg;
}

const std::string kDrop = R"({"format": "layerscope.drop/1", "dropped": DROPPED})";
std::string drop(const std::string& dropped) { return std::string(kDrop).replace(kDrop.find("DROPPED"), 7, dropped); }

}  // namespace

TEST(ResultsReader, ValidDirectoryReads) {
  test::TempDir d;
  write(d / "layers.csv", "layer,x,y\n0,0.5,\n1,nan,2\n");
  write(d / "drop.json", drop(R"([{"layer": 1, "module": "mlp"}])"));
  const auto b = results::readResultsDir(d.path());
  ASSERT_TRUE(b.layers && b.drop);
  EXPECT_EQ(b.layers->rows.size(), 2u);
  EXPECT_EQ(b.drop->dropped.at(0).layer, 1);
}

TEST(ResultsReader, NumberTooLargeForADoubleIsAResultsError) {
  // Found by fuzz_results: out_of_range.406 ("number overflow parsing '11e3088...'") is not a parse_error.
  expectError("manipulation.json", R"({"format": "layerscope.manipulation/1", "k": [1e400]})", "is not valid JSON");
}

TEST(ResultsReader, CsvLayerCellThatIsNotANumberIsAResultsError) {
  // Was std::invalid_argument from std::stoi ("internal error: stoi").
  expectError("layers.csv", "layer,x\nzero,1\n", "expected layer 0, found 'zero'");
  expectError("layers.csv", "layer,x\n99999999999999999999,1\n", "expected layer 0");
}

TEST(ResultsReader, DropListThatIsNotAnArrayIsAResultsError) {
  expectError("drop.json", drop(R"({"layer": 1})"), "key 'dropped': expected an array, found object");
  expectError("drop.json", drop(R"([{"layer": 4294967296, "module": "attn"}])"), "key 'dropped.0.layer': integer 4294967296 is out of range");
}

TEST(ResultsReader, AblationFieldsWithWrongTypesNameTheKey) {
  expectError("report.json", R"({"format": "layerscope.ablation/1", "arms": [{"name": 3, "accuracy": {}}]})",
              "key 'arms.0.name': expected a string, found number");
  expectError("report.json", R"({"format": "layerscope.ablation/1", "arms": {}})", "key 'arms': expected an array");
  expectError("report.json",
              R"({"format": "layerscope.ablation/1", "arms": [{"name": "a", "trainable_parameters": -1, "accuracy": {}}]})",
              "key 'arms.0.trainable_parameters': expected a non-negative integer");
  expectError("report.json", R"({"format": "layerscope.ablation/1", "arms": [], "tasks": [1]})",
              "key 'tasks.0': expected a string");
}

TEST(ResultsReader, ManipulationAndStatsWithWrongTypesNameTheKey) {
  expectError("manipulation.json", R"({"format": "layerscope.manipulation/1", "k": [0], "curves": [1]})",
              "key 'curves': expected an object, found array");
  expectError("manipulation.json", R"({"format": "layerscope.manipulation/1", "k": [0], "mode": 1, "accuracy": [1]})",
              "key 'mode': expected a string, found number");
  expectError("stats.json", R"({"format": "layerscope.stats/1", "profiles": {"rope": 1}})",
              "key 'profiles.rope': expected a string");
  expectError("stats.json", R"({"format": "layerscope.stats/1", "top_k": {"k_sens": 1.5}})",
              "key 'top_k.k_sens': expected an integer, found number");
  expectError("scores.json", R"({"format": "layerscope.scores/1", "num_layers": 4294967297, "layer_scores": {}})",
              "key 'num_layers': integer 4294967297 is out of range");
}
