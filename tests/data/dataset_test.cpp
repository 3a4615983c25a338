// Task file formats (core/data/dataset.h): round trips, fingerprints, and one test per class of malformed file,
// each asserting DatasetError with the file name and line number in the message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "core/data/dataset.h"
#include "core/base/error.h"
#include "core/base/remove_tree.h"

namespace fs = std::filesystem;
using namespace layerscope;
using namespace layerscope::core;

namespace {

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "layerscope_data_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
                       std::to_string(std::random_device{}());
    for (char& c : name)
      if (c == '/') c = '_';  // parameterised test names contain '/'
    path_ = fs::temp_directory_path() / name;
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    layerscope::core::removeTree(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void writeRaw(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

/// Reads `text` as bad.jsonl and returns the DatasetError message (fails the test if none is thrown).
std::string loadError(const TempDir& dir, const std::string& text) {
  const fs::path p = dir.path() / "bad.jsonl";
  writeRaw(p, text);
  try {
    readTask(p);
  } catch (const DatasetError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DatasetError for:\n" << text;
  return {};
}

const std::string kGoodMc1 = R"({"id": "a", "prompt": "P1 A:", "choices": [" x", " y"], "answer": 0})";
const std::string kGoodMc2 = R"({"id": "b", "prompt": "P2 A:", "choices": [" x", " y", " z"], "answer": 2})";

}  // namespace

// Reference digests: FIPS 180-2 appendix B examples and the SHA-256 of the empty string.
TEST(DataFingerprint, Sha256KnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256Hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(contentFingerprint("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DataFormat, McRoundTrip) {
  TempDir dir;
  Task t;
  t.name = "demo";
  t.items = std::vector<McItem>{{"q1", "Quote \" slash \\ tab\t caf\xC3\xA9 A:", {" 1", " 2", " 3"}, 2},
                                {"q2", "second\nline A:", {" yes", " no"}, 0}};
  const fs::path p = dir.path() / "demo.mc.jsonl";
  const std::string fp = writeTask(p, t);
  const Task back = readTask(p);
  EXPECT_EQ(back.kind(), TaskKind::MultipleChoice);
  EXPECT_EQ(back.mc(), t.mc());
  EXPECT_EQ(back.name, "demo.mc");
  EXPECT_EQ(back.source, p.string());
  EXPECT_EQ(back.fingerprint, fp);
  EXPECT_EQ(fileFingerprint(p), fp);
  // Writing what was read gives the same bytes.
  EXPECT_EQ(toJsonl(back), toJsonl(t));
  // Field order as documented.
  EXPECT_EQ(toJsonl(t).substr(0, 29), R"({"id":"q1","prompt":"Quote \")");
  EXPECT_THROW(back.pairs(), InvalidArgument);
}

TEST(DataFormat, ShortAndPairsRoundTrip) {
  TempDir dir;
  Task s;
  s.items = std::vector<ShortItem>{{"s1", "add: 2+2 A:", " 4"}, {"s2", "copy: ab A:", " ab"}};
  Task p;
  p.items = std::vector<PairItem>{{"p1", "add: 2+2 A:", " 4", " 5"}};
  writeTask(dir.path() / "s.jsonl", s);
  writeTask(dir.path() / "p.jsonl", p);
  const Task sb = readTask(dir.path() / "s.jsonl", TaskKind::ShortAnswer);
  const Task pb = readTask(dir.path() / "p.jsonl", TaskKind::Pairs);
  EXPECT_EQ(sb.shortAnswer(), s.shortAnswer());
  EXPECT_EQ(pb.pairs(), p.pairs());
  EXPECT_EQ(toJsonl(p), "{\"id\":\"p1\",\"prompt\":\"add: 2+2 A:\",\"correct\":\" 4\",\"incorrect\":\" 5\"}\n");
}

TEST(DataFormat, ExpectedKindMismatchIsRefused) {
  TempDir dir;
  writeRaw(dir.path() / "t.jsonl", kGoodMc1 + "\n");
  try {
    readTask(dir.path() / "t.jsonl", TaskKind::Pairs);
    FAIL() << "expected DatasetError";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("t.jsonl"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected a pairs task file, found multiple choice"), std::string::npos);
  }
}

TEST(DataFormat, BlankLinesCrLfAndBomAreAcceptedAndLinesStillCounted) {
  TempDir dir;
  const Task t = [&] {
    writeRaw(dir.path() / "ok.jsonl", "\xEF\xBB\xBF" + kGoodMc1 + "\r\n\r\n" + kGoodMc2 + "\r\n\n");
    return readTask(dir.path() / "ok.jsonl");
  }();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.mc()[1].answer, 2u);
  // A bad item after a blank line is reported at its physical line number (4).
  const std::string msg = loadError(dir, kGoodMc1 + "\n\n" + kGoodMc2 + "\n" + R"({"id": "c", "prompt": "p"})" + "\n");
  EXPECT_NE(msg.find("bad.jsonl:4:"), std::string::npos) << msg;
}

TEST(DataFormat, WriterRefusesInvalidItemsAndLeavesNoFile) {
  TempDir dir;
  Task t;
  t.name = "w";
  t.items = std::vector<McItem>{{"a", "p A:", {" x", " y"}, 5}};
  EXPECT_THROW(writeTask(dir.path() / "w.jsonl", t), DatasetError);
  EXPECT_FALSE(fs::exists(dir.path() / "w.jsonl"));
  t.items = std::vector<McItem>{{"a", "p A:", {" x", " y"}, 0}, {"a", "q A:", {" x", " y"}, 1}};
  EXPECT_THROW(toJsonl(t), DatasetError);
  t.items = std::vector<McItem>{};
  EXPECT_THROW(toJsonl(t), DatasetError);
}

TEST(DataLoaderErrors, MissingFileNamesThePath) {
  TempDir dir;
  try {
    readTask(dir.path() / "nope.jsonl");
    FAIL() << "expected DatasetError";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.jsonl"), std::string::npos) << e.what();
  }
}

TEST(DataLoaderErrors, EmptyFileIsRefused) {
  TempDir dir;
  for (const std::string& text : {std::string(), std::string("\n  \n\n")}) {
    const std::string msg = loadError(dir, text);
    EXPECT_NE(msg.find("bad.jsonl:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("empty task file"), std::string::npos) << msg;
  }
}

/// One malformed third line (after two good multiple-choice lines) and a fragment its message must contain.
struct BadLine {
  const char* label;
  std::string line;
  std::string expect;
};

class DataLoaderBadLine : public ::testing::TestWithParam<BadLine> {};

TEST_P(DataLoaderBadLine, RefusesFileNamingFileAndLine) {
  TempDir dir;
  const BadLine& c = GetParam();
  const std::string msg = loadError(dir, kGoodMc1 + "\n" + kGoodMc2 + "\n" + c.line + "\n" + kGoodMc1 + "x\n");
  EXPECT_NE(msg.find("bad.jsonl:3:"), std::string::npos) << c.label << ": " << msg;
  EXPECT_NE(msg.find(c.expect), std::string::npos) << c.label << ": " << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Classes, DataLoaderBadLine,
    ::testing::Values(
        BadLine{"invalid_json", R"({"id": "c", "prompt": "p", )", "invalid JSON"},
        BadLine{"trailing_garbage", R"({"id": "c"} x)", "invalid JSON"},
        BadLine{"not_object", R"([1, 2])", "expected a JSON object, found array"},
        BadLine{"missing_prompt", R"({"id": "c", "choices": [" x", " y"], "answer": 0})",
                "missing field \"prompt\""},
        BadLine{"missing_answer", R"({"id": "c", "prompt": "p", "choices": [" x", " y"]})",
                "missing field \"answer\""},
        BadLine{"missing_id", R"({"prompt": "p", "choices": [" x", " y"], "answer": 0})", "missing field \"id\""},
        BadLine{"id_wrong_type", R"({"id": 3, "prompt": "p", "choices": [" x", " y"], "answer": 0})",
                "field \"id\": expected a non-empty string, found integer 3"},
        BadLine{"answer_string", R"({"id": "c", "prompt": "p", "choices": [" x", " y"], "answer": "1"})",
                "field \"answer\": expected an integer index into \"choices\", found string \"1\""},
        BadLine{"answer_float", R"({"id": "c", "prompt": "p", "choices": [" x", " y"], "answer": 1.5})",
                "found number 1.5"},
        BadLine{"answer_bool", R"({"id": "c", "prompt": "p", "choices": [" x", " y"], "answer": true})",
                "found boolean true"},
        BadLine{"answer_out_of_range", R"({"id": "c", "prompt": "p", "choices": [" x", " y"], "answer": 2})",
                "expected an index into \"choices\" (0..1), found 2"},
        BadLine{"answer_negative", R"({"id": "c", "prompt": "p", "choices": [" x", " y"], "answer": -1})",
                "(0..1), found -1"},
        BadLine{"choices_not_array", R"({"id": "c", "prompt": "p", "choices": " x", "answer": 0})",
                "field \"choices\": expected an array of at least 2 strings, found string"},
        BadLine{"choice_not_string", R"({"id": "c", "prompt": "p", "choices": [" x", 2], "answer": 0})",
                "field \"choices\"[1]: expected a string, found integer 2"},
        BadLine{"one_choice", R"({"id": "c", "prompt": "p", "choices": [" x"], "answer": 0})",
                "expected at least 2 choices, found 1"},
        BadLine{"duplicate_choice", R"({"id": "c", "prompt": "p", "choices": [" x", " x"], "answer": 0})",
                "expected distinct choices"},
        BadLine{"empty_prompt", R"({"id": "c", "prompt": "", "choices": [" x", " y"], "answer": 0})",
                "field \"prompt\": expected a non-empty string, found \"\""},
        BadLine{"duplicate_id", R"({"id": "a", "prompt": "p", "choices": [" x", " y"], "answer": 0})",
                "duplicate id \"a\" (first used on line 1"},
        BadLine{"mixed_kinds", R"({"id": "c", "prompt": "p", "target": " x"})",
                "mixed kinds: expected a multiple choice item like line 1, found a short answer item"},
        BadLine{"unknown_kind", R"({"id": "c", "prompt": "p", "label": 1})", "cannot tell the item kind"},
        BadLine{"ambiguous_kind", R"({"id": "c", "prompt": "p", "choices": [" x", " y"], "answer": 0, "target": " x"})",
                "ambiguous item"}),
    [](const ::testing::TestParamInfo<BadLine>& p) { return std::string(p.param.label); });

TEST(DataLoaderErrors, ShortAndPairsFieldChecks) {
  TempDir dir;
  const std::string s1 = R"({"id": "a", "prompt": "p", "target": " x"})";
  std::string msg = loadError(dir, s1 + "\n" + R"({"id": "b", "prompt": "p", "target": ""})" + "\n");
  EXPECT_NE(msg.find("bad.jsonl:2: field \"target\": expected a non-empty string"), std::string::npos) << msg;
  msg = loadError(dir, s1 + "\n" + R"({"id": "b", "prompt": "p", "target": [" x"]})" + "\n");
  EXPECT_NE(msg.find("bad.jsonl:2: field \"target\": expected a non-empty string, found array"), std::string::npos)
      << msg;

  const std::string p1 = R"({"id": "a", "prompt": "p", "correct": " x", "incorrect": " y"})";
  msg = loadError(dir, p1 + "\n" + R"({"id": "b", "prompt": "p", "correct": " x"})" + "\n");
  EXPECT_NE(msg.find("bad.jsonl:2: missing field \"incorrect\""), std::string::npos) << msg;
  msg = loadError(dir, p1 + "\n" + R"({"id": "b", "prompt": "p", "correct": " x", "incorrect": " x"})" + "\n");
  EXPECT_NE(msg.find("bad.jsonl:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected different completions"), std::string::npos) << msg;
  msg = loadError(dir, p1 + "\n" + kGoodMc1 + "\n");
  EXPECT_NE(msg.find("bad.jsonl:2: mixed kinds: expected a pairs item"), std::string::npos) << msg;
}
