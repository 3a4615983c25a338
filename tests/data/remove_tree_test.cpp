// core::removeTree (core/base/remove_tree.h): std::filesystem::remove_all's contract on POSIX calls.
#include <gtest/gtest.h>

#include <fstream>

#include "core/base/remove_tree.h"
#include "tests/common/test_util.h"

namespace fs = std::filesystem;
using layerscope::core::removeTree;

TEST(RemoveTree, RemovesANestedTreeAndCountsItsEntries) {
  layerscope::test::TempDir tmp;
  const fs::path root = tmp.path() / "tree";
  fs::create_directories(root / "a" / "b");
  fs::create_directories(root / "empty");
  for (const auto& f : {root / "x.txt", root / "a" / "y.bin", root / "a" / "b" / "z"}) std::ofstream(f) << "data";
  std::error_code ec;
  EXPECT_EQ(removeTree(root, ec), 7u);  // 3 files + a, a/b, empty + root
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(fs::exists(root));
}

TEST(RemoveTree, RemovesLinksWithoutFollowingThem) {
  layerscope::test::TempDir tmp;
  fs::create_directories(tmp.path() / "outside");
  std::ofstream(tmp.path() / "outside" / "keep.txt") << "keep";
  fs::create_directories(tmp.path() / "tree");
  fs::create_directory_symlink(tmp.path() / "outside", tmp.path() / "tree" / "link");
  EXPECT_EQ(removeTree(tmp.path() / "tree"), 2u);
  EXPECT_TRUE(fs::exists(tmp.path() / "outside" / "keep.txt"));
}

TEST(RemoveTree, AMissingPathIsNoErrorAndAFileIsRemoved) {
  layerscope::test::TempDir tmp;
  std::error_code ec;
  EXPECT_EQ(removeTree(tmp.path() / "absent", ec), 0u);
  EXPECT_FALSE(ec);
  std::ofstream(tmp.path() / "f") << "x";
  EXPECT_EQ(removeTree(tmp.path() / "f"), 1u);
  EXPECT_FALSE(fs::exists(tmp.path() / "f"));
  // A path under a regular file cannot be read: an error, not a crash.
  std::ofstream(tmp.path() / "g") << "x";
  EXPECT_EQ(removeTree(tmp.path() / "g" / "child", ec), 0u);
  EXPECT_TRUE(ec);
  EXPECT_THROW(removeTree(tmp.path() / "g" / "child"), fs::filesystem_error);
}
