#include <gtest/gtest.h>

#include <cstdint>
#include <string>

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

TEST(Timestamp, RejectsMonthThirteen) { EXPECT_FALSE(isIsoTimestamp("2023-13-01T00:00:00")); }

TEST(Timestamp, RejectsMonthZero) { EXPECT_FALSE(isIsoTimestamp("2023-00-10T00:00:00")); }

TEST(Timestamp, RejectsDayZero) { EXPECT_FALSE(isIsoTimestamp("2023-01-00T00:00:00")); }

TEST(Timestamp, RejectsADayPastTheEndOfItsMonth) {
  EXPECT_FALSE(isIsoTimestamp("2023-02-30T10:00:00"));
  EXPECT_FALSE(isIsoTimestamp("2023-04-31T10:00:00"));
  EXPECT_FALSE(isIsoTimestamp("2023-12-32T10:00:00"));
}

TEST(Timestamp, AcceptsTheLastDayOfEachMonth) {
  for (const char* day : {"2023-01-31", "2023-02-28", "2023-03-31", "2023-04-30", "2023-05-31",
                          "2023-06-30", "2023-07-31", "2023-08-31", "2023-09-30", "2023-10-31",
                          "2023-11-30", "2023-12-31"}) {
    EXPECT_TRUE(isIsoTimestamp(std::string(day) + "T23:59:59")) << day;
  }
}

TEST(Timestamp, AcceptsFebruary29InLeapYears) {
  EXPECT_TRUE(isIsoTimestamp("2024-02-29T12:00:00"));
  EXPECT_TRUE(isIsoTimestamp("2000-02-29T12:00:00"));  // divisible by 400
}

TEST(Timestamp, RejectsFebruary29InCommonYears) {
  EXPECT_FALSE(isIsoTimestamp("2023-02-29T12:00:00"));
  EXPECT_FALSE(isIsoTimestamp("1900-02-29T12:00:00"));  // divisible by 100, not by 400
}

TEST(Timestamp, RejectsYearZero) { EXPECT_FALSE(isIsoTimestamp("0000-01-01T00:00:00")); }

TEST(Timestamp, RejectsAllZeroDate) { EXPECT_FALSE(isIsoTimestamp("0000-00-00T00:00:00")); }

TEST(Timestamp, RejectsHour24) { EXPECT_FALSE(isIsoTimestamp("2023-10-08T24:00:00")); }

TEST(Timestamp, RejectsMinute60) { EXPECT_FALSE(isIsoTimestamp("2023-10-08T15:60:00")); }

TEST(Timestamp, RejectsSecond60) { EXPECT_FALSE(isIsoTimestamp("2023-10-08T15:39:60")); }

TEST(Timestamp, RejectsAllNinesTime) { EXPECT_FALSE(isIsoTimestamp("2023-10-08T99:99:99")); }

TEST(Timestamp, RejectsOffsetHourAbove23) { EXPECT_FALSE(isIsoTimestamp("2023-10-08T15:39:49+24:00")); }

TEST(Timestamp, RejectsOffsetMinuteAbove59) { EXPECT_FALSE(isIsoTimestamp("2023-10-08T15:39:49-05:60")); }

TEST(Timestamp, AcceptsTheWidestRealOffsets) {
  EXPECT_TRUE(isIsoTimestamp("2023-10-08T15:39:49+14:00"));
  EXPECT_TRUE(isIsoTimestamp("2023-10-08T15:39:49-12:00"));
}

TEST(Timestamp, EpochMillisRangeIsTheEpochToTheEndOfYear9999) {
  EXPECT_TRUE(isEpochMillisInRange(0));
  EXPECT_TRUE(isEpochMillisInRange(253402300799999));  // 9999-12-31T23:59:59.999Z
  EXPECT_FALSE(isEpochMillisInRange(253402300800000));
  EXPECT_FALSE(isEpochMillisInRange(-1));
  EXPECT_FALSE(isEpochMillisInRange(INT64_MAX));
}

TEST(Timestamp, ParseIsoMicrosReadsTheSourceFormat) {
  EXPECT_EQ(parseIsoMicros("1970-01-01T00:00:01.5"), 1500000);
  EXPECT_EQ(parseIsoMicros("2023-10-08T15:39:49.123123"), std::int64_t{1696779589123123});
  EXPECT_EQ(parseIsoMicros("2023-10-08T17:39:49.123123+02:00"), std::int64_t{1696779589123123});
  EXPECT_EQ(parseIsoMicros(isoTimestamp(1764059989123456)), 1764059989123456);
  EXPECT_FALSE(parseIsoMicros("yesterday"));
}

}  // namespace
}  // namespace leafsync
