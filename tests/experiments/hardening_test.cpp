// Hardening against unseen inputs (docs/hardening.md), the fast part: the analyses refuse non-finite states and
// name the layer; checkpoint selection skips damaged or half-built step directories; results directories are
// staged under a visible name and swapped in whole; a real full file system (a small tmpfs, where this process
// may mount one) gives a clear error and keeps the previous file; `tokenize --text=--help` tokenizes "--help".
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "analysis/finite_states.h"
#include "analysis/pipeline.h"
#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/model/safetensors.h"
#include "core/train/trainer.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"
#include "core/base/remove_tree.h"

using namespace layerscope;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

core::Task mcTask(int n) {
  core::Task t;
  t.name = "t";
  std::vector<core::McItem> items;
  for (int i = 0; i < n; ++i)
    items.push_back({"i" + std::to_string(i), "q " + std::to_string(i * 7 % 31) + ":", {" a", " b", " c"}, size_t(i % 3)});
  t.items = items;
  return t;
}

// A tiny byte-level model whose layer 1 up_proj holds one NaN (and one inf): every state from layer 1 on is NaN.
class NonFiniteModel : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto cfg = test::byteConfig({.hidden = 16, .intermediate = 32, .layers = 3, .heads = 4, .maxPositions = 128});
    core::writeRandomCheckpoint(dir_.path(), cfg, {.seed = 3, .weightStd = 0.3});
    core::writeByteLevelTokenizer(dir_.path());
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    {
      const auto ck = core::Checkpoint::open(dir_.path());
      for (const auto& [name, shape] : core::Checkpoint::expectedTensors(cfg)) tensors.emplace_back(name, ck.tensor(name).clone());
    }
    for (auto& [name, t] : tensors)
      if (name == "model.layers.1.mlp.up_proj.weight") {
        t[0][0] = std::numeric_limits<float>::quiet_NaN();
        t[1][1] = std::numeric_limits<float>::infinity();
      }
    core::writeSafetensors(dir_.path() / "model.safetensors", tensors);
    core::writeTask(dir_.path() / "task.jsonl", mcTask(9));
  }
  test::TempDir dir_;
};

// Runs `layerscope-cli ARGS` with stderr folded into stdout; returns (exit status, output).
std::pair<int, std::string> cli(const std::string& args) {
  FILE* p = ::popen((std::string(LAYERSCOPE_CLI_PATH) + " " + args + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  std::string out;
  std::array<char, 4096> buf{};
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

// `logits` still writes NaN logits (they are what the model computes) but warns.
TEST_F(NonFiniteModel, LogitsWarns) {
  const auto [rc, out] = cli("logits " + dir_.path().string() + " --ids 1,2,3 --out " + (dir_.path() / "l.npy").string());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("warning: the logits contain NaN or inf"), std::string::npos) << out;
}

TEST_F(NonFiniteModel, PreflightNamesTheLayerAndTheTensor) {
  const auto model = core::LlamaModel::load(dir_.path(), torch::kFloat32);
  const auto tok = core::Tokenizer::fromFile(dir_.path());
  const auto prepared = core::prepareTask(tok, core::readTask(dir_.path() / "task.jsonl"));
  try {
    analysis::checkFiniteStates(*model, prepared);
    FAIL() << "non-finite states were accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("after layer 1 contain NaN or inf"), std::string::npos) << msg;
    EXPECT_NE(msg.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << msg;
  }
}

TEST_F(NonFiniteModel, AnalyzeRefusesAndWritesNoResults) {
  analysis::AnalyzeRequest r;
  r.modelDir = dir_.path();
  r.taskFile = dir_.path() / "task.jsonl";
  r.outDir = dir_.path() / "results";
  r.bootstrap = 10;
  try {
    analysis::runAnalysis(r);
    FAIL() << "analysis ran on NaN states";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(r.outDir));
}

TEST(FiniteStates, RequireFiniteLayersNamesTheFirstBadLayer) {
  EXPECT_NO_THROW(analysis::requireFiniteLayers(torch::tensor({true, true}), "x"));
  try {
    analysis::requireFiniteLayers(torch::tensor({true, true, false, false}), "sensitivity");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sensitivity: the hidden states of layer 2 contain NaN or inf"), std::string::npos)
        << e.what();
  }
}

// Checkpoint selection: only complete step-<digits> directories whose files load are ever picked.
TEST(CheckpointPick, SkipsDamagedAndStagingDirectories) {
  test::TempDir d;
  auto make = [&](const std::string& name, int64_t step) {
    const fs::path p = d.path() / name;
    fs::create_directories(p);
    core::writeSafetensors(p / "params.safetensors", {{"w", torch::ones({2, 2})}});
    core::writeSafetensors(p / "optimizer.safetensors", {{"w.exp_avg", torch::zeros({2, 2})}});
    core::writeFileAtomically(p / "manifest.json", nlohmann::json({{"step", step}, {"losses", {1.0}}, {"seed", 0}}).dump());
    return p;
  };
  make("step-00000002", 2);
  EXPECT_EQ(core::Trainer::newestCheckpoint(d.path()).filename(), "step-00000002");
  // Newer, but its tensor file is truncated: skipped.
  const fs::path broken = make("step-00000004", 4);
  const std::string bytes = slurp(broken / "params.safetensors");
  std::ofstream(broken / "params.safetensors", std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  // Newer still, complete, but a staging leftover of a killed run and a pruning leftover: never checkpoints.
  make("step-00000006.incomplete-999999-1", 6);
  make(".pruned-step-00000008", 8);
  make("step-00000010x", 10);
  // A manifest that does not parse.
  const fs::path badManifest = make("step-00000012", 12);
  std::ofstream(badManifest / "manifest.json", std::ios::trunc) << "{\"step\": 12, \"loss";
  EXPECT_EQ(core::Trainer::newestCheckpoint(d.path()).filename(), "step-00000002");
}

TEST(StagingDirectory, VisibleNameCommitAndCleanup) {
  test::TempDir d;
  const fs::path target = d.path() / "results";
  // A leftover of a process that no longer exists (pid 999999 is above the default pid_max) is removed.
  fs::create_directories(d.path() / "results.incomplete-999999-7");
  const fs::path a = core::makeStagingDirectory(target);
  EXPECT_FALSE(fs::exists(d.path() / "results.incomplete-999999-7"));
  EXPECT_EQ(a.filename().string().rfind("results.incomplete-" + std::to_string(::getpid()) + "-", 0), 0u) << a;
  core::writeFileAtomically(a / "f", "one");
  core::commitStagingDirectory(a, target, false);
  EXPECT_EQ(slurp(target / "f"), "one");
  // The staging directory of a live process (this one) is left alone.
  const fs::path b = core::makeStagingDirectory(target);
  const fs::path c = core::makeStagingDirectory(target);
  EXPECT_TRUE(fs::exists(b));
  core::writeFileAtomically(c / "f", "two");
  EXPECT_THROW(core::commitStagingDirectory(c, target, false), InvalidArgument);
  EXPECT_EQ(slurp(target / "f"), "one");
  core::commitStagingDirectory(c, target, true);
  EXPECT_EQ(slurp(target / "f"), "two");
  EXPECT_FALSE(fs::exists(c));  // swapped in, the old contents deleted
  layerscope::core::removeTree(b);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(d.path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

// A real ENOSPC: a 64 KiB tmpfs (needs CAP_SYS_ADMIN; skipped where mounting is not allowed). The crash tests
// (crash_tests) cover the same for whole runs with a file size limit, which needs no privilege.
TEST(DiskFull, TmpfsWriteFailsClearlyAndKeepsThePreviousFile) {
  test::TempDir d;
  const fs::path mnt = d.path() / "mnt";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0) GTEST_SKIP() << "cannot mount a tmpfs here";
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  core::writeFileAtomically(mnt / "scores.json", "previous good");
  try {
    core::writeFileAtomically(mnt / "scores.json", std::string(256 * 1024, 'x'));
    FAIL() << "a write larger than the file system succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("write failed for '" + (mnt / "scores.json").string()), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(slurp(mnt / "scores.json"), "previous good");
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(mnt)) ++entries;
  EXPECT_EQ(entries, 1u);  // no temporary file left behind
  // A whole results directory: the staging copy is removed, the previous directory stays.
  analysis::AnalyzeResult res;
  res.stats = {{"blob", std::string(256 * 1024, 'y')}};
  fs::create_directories(mnt / "results");
  core::writeFileAtomically(mnt / "results" / "stats.json", "old");
  EXPECT_THROW(analysis::writeResultsDirectory(res, mnt / "results", true), Error);
  EXPECT_EQ(slurp(mnt / "results" / "stats.json"), "old");
  entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(mnt)) ++entries;
  EXPECT_EQ(entries, 2u);
}

// Option values that look like options: the `=` form takes the value literally (tokenize runs without a model).
TEST(CliArgs, EqualsFormTakesAnOptionLookingValue) {
  test::TempDir d;
  core::writeByteLevelTokenizer(d.path());
  const auto [rc, out] = cli("tokenize --tokenizer " + d.path().string() + " --text=--help");
  ASSERT_EQ(rc, 0) << out;
  // The byte-level ids of "--help": each byte is its own token (core/text/byte_tokenizer.h).
  const auto tok = core::Tokenizer::fromFile(d.path());
  const auto ids = tok.encode("--help", {.addSpecialTokens = false});
  ASSERT_EQ(ids.size(), 6u);
  const auto j = nlohmann::json::parse(out.substr(out.find('[')));
  std::vector<int64_t> got = j.get<std::vector<int64_t>>();
  std::vector<int64_t> want(ids.begin(), ids.end());
  // Whether tokenize adds BOS by default is its own business: the ids of "--help" must be the tail.
  ASSERT_GE(got.size(), want.size()) << out;
  EXPECT_TRUE(std::equal(want.begin(), want.end(), got.end() - long(want.size()))) << out;
  EXPECT_EQ(out.find("usage:"), std::string::npos) << out;
}

// `--batch auto|N`: auto (0 inside the request) and positive integers; 0, negatives and other words are refused with
// a message naming both forms, before any file is opened.
TEST(CliArgs, BatchTakesAutoOrAPositiveInteger) {
  for (const std::string bad : {"0", "-3", "many", "8x"}) {
    const auto [rc, out] = cli("analyze --model /nonexistent --task /nonexistent --dry-run --batch " + bad);
    EXPECT_NE(rc, 0) << bad;
    EXPECT_NE(out.find("option --batch expects auto or an integer of at least 1, got '" + bad + "'"), std::string::npos)
        << out;
  }
}
