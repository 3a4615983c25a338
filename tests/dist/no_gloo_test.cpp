// core/dist built as on a LibTorch without Gloo's headers (LAYERSCOPE_NO_GLOO, PyTorch's wheels; docs/distributed.md):
// a world of one process works, a larger world is refused before anything listens, with a message that says why.
#include <gtest/gtest.h>

#include <string>

#include "core/dist/world.h"

namespace ld = layerscope::core::dist;

TEST(NoGloo, OneProcessRunsAndALargerWorldIsRefusedWithTheReason) {
  ld::WorldOptions one;
  one.worldSize = 1;
  const ld::World w = ld::World::join(one);
  EXPECT_EQ(w.size(), 1);

  ld::WorldOptions two;
  two.worldSize = 2;
  two.rank = 0;
  two.masterAddr = "127.0.0.1";
  two.masterPort = 1;  // never reached: the refusal comes first
  try {
    (void)ld::World::join(two);
    FAIL() << "a world of 2 joined without Gloo";
  } catch (const ld::DistributedError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("needs Gloo"), std::string::npos) << what;
    EXPECT_NE(what.find("2 processes"), std::string::npos) << what;
  }
}
