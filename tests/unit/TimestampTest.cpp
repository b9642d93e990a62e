#include <gtest/gtest.h>

#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

TEST(Timestamp, FormatsMicrosecondsLikeTheSeed) {
  EXPECT_EQ(isoTimestamp(1696779589123123), "2023-10-08T15:39:49.123123");
}

TEST(Timestamp, AcceptsIsoFormsTheSourcesEmit) {
  EXPECT_TRUE(isIsoTimestamp("2023-10-08T15:39:49.123123"));
  EXPECT_TRUE(isIsoTimestamp("2023-10-08T15:39:49"));
  EXPECT_TRUE(isIsoTimestamp("2023-10-08T15:39:49Z"));
  EXPECT_TRUE(isIsoTimestamp("2023-10-08T15:39:49.1+02:00"));
}

TEST(Timestamp, RejectsWhatIsNotATimestamp) {
  EXPECT_FALSE(isIsoTimestamp(""));
  EXPECT_FALSE(isIsoTimestamp("yesterday"));
  EXPECT_FALSE(isIsoTimestamp("2023-10-08"));
  EXPECT_FALSE(isIsoTimestamp("2023-10-08T15:39:49."));
  EXPECT_FALSE(isIsoTimestamp("2023-10-08T15:39:49+0200"));
}

}  // namespace
}  // namespace leafsync
