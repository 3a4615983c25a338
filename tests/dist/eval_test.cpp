// Data-parallel `eval` with real processes over 127.0.0.1 on the bundled demo model: every rank scores its share
// of the items and rank 0 writes items.jsonl, which must equal the single-process file line for line. With
// --batch 1 each item goes through the same float32 forward alone whichever process scores it, so the files are
// byte-identical (measured on the 200-item demo tasks too); with larger batches the padding of a batch differs
// between shards (measured: log-likelihoods within 8.6e-6 relative, the same predictions), which is not tested.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/dist/processes.h"
#include "core/base/remove_tree.h"

namespace fs = std::filesystem;
using namespace layerscope::test;
using Ms = std::chrono::milliseconds;

namespace {

const std::string kCli = LAYERSCOPE_CLI;
const std::string kModel = std::string(LAYERSCOPE_SOURCE_DIR) + "/resources/models/demo";

class DistEval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("layerscope-dist-eval-" + std::to_string(::getpid()));
    layerscope::core::removeTree(dir_);
    fs::create_directories(dir_);
    // 13 items: 7 + 6 over 2 ranks, 5 + 4 + 4 over 3
    std::vector<Proc> p{start({kCli, "make-tasks", "--out", (dir_ / "tasks").string(), "--n", "13", "--families", "add",
                               "--forms", "mc,short,pairs"}, {}, dir_, "make-tasks")};
    ASSERT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(20000)));
    ASSERT_EQ(p[0].status, 0) << p[0].stderrText();
  }
  static void TearDownTestSuite() { layerscope::core::removeTree(dir_); }

  /// `eval` of tasks/add.<form>.jsonl in one process or `n` ranks through launch; returns items.jsonl's text.
  static std::string eval(int n, const std::string& form, std::string* out = nullptr) {
    const fs::path items = dir_ / (form + "-" + std::to_string(n) + ".jsonl");
    std::vector<std::string> argv{kCli};
    if (n > 1) argv.insert(argv.end(), {"launch", "--nproc", std::to_string(n), "--timeout", "30", "--"});
    for (const auto& a : {"eval", "--model", kModel.c_str(), "--batch", "1"}) argv.push_back(a);
    argv.insert(argv.end(), {"--task", (dir_ / "tasks" / ("add." + form + ".jsonl")).string(), "--out", items.string()});
    std::vector<Proc> p{start(argv, {}, dir_, items.stem().string())};
    EXPECT_TRUE(waitAll(p, std::chrono::steady_clock::now(), Ms(120000)));
    EXPECT_EQ(p[0].status, 0) << p[0].stderrText();
    if (out) *out = p[0].stdoutText();
    return Proc::read(items);
  }
  static inline fs::path dir_;
};

}  // namespace

TEST_F(DistEval, RanksWriteTheSingleProcessItemsAndAccuracy) {
  for (const std::string form : {"mc", "short", "pairs"}) {
    std::string summary1, summaryN;
    const std::string one = eval(1, form, &summary1);
    ASSERT_EQ(std::count(one.begin(), one.end(), '\n'), 13) << form;
    for (int n : form == "mc" ? std::vector<int>{2, 3} : std::vector<int>{2}) {
      EXPECT_EQ(eval(n, form, &summaryN), one) << form << ", " << n << " ranks";
      // The printed accuracy (before the timing) is the whole task's, printed once, by rank 0.
      const auto cut = [](const std::string& s) { return s.substr(0, s.find(" (")); };
      EXPECT_EQ(cut(summaryN), "[rank 0] " + cut(summary1)) << form << ", " << n << " ranks";
    }
  }
}
