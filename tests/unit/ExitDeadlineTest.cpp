#include "leafsync/ExitDeadline.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

namespace leafsync {
namespace {

using namespace std::chrono_literals;

class ExitDeadlineTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(ExitDeadlineTest, ATeardownThatOverrunsItsGraceExitsWithTheStatusTheServiceStoppedWith) {
  EXPECT_EXIT(
      {
        ExitDeadline teardown;
        teardown.arm(3, 100ms);
        std::this_thread::sleep_for(30s);  // a destructor that never returns
      },
      ::testing::ExitedWithCode(3), "event=teardown_stuck after_ms=100 exit_code=3");
}

TEST_F(ExitDeadlineTest, ATeardownWithinItsGraceEndsAsItWould) {
  EXPECT_EXIT(
      {
        {
          ExitDeadline teardown;
          teardown.arm(3, 10s);
          std::this_thread::sleep_for(20ms);
        }
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "^$");
}

}  // namespace
}  // namespace leafsync
