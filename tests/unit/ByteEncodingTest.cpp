#include <gtest/gtest.h>

#include "leafsync/ByteEncoding.h"

namespace leafsync {
namespace {

TEST(ByteEncoding, HexRoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(hexDecode(hexEncode(all)), all);
  EXPECT_EQ(hexEncode("\xff\xd8\xff\xe0"), "ffd8ffe0");
}

TEST(ByteEncoding, HexRejectsOddLengthAndNonHexDigits) {
  EXPECT_FALSE(hexDecode("abc"));
  EXPECT_FALSE(hexDecode("zz"));
  EXPECT_EQ(hexDecode("ABcd"), std::string("\xab\xcd"));
}

TEST(ByteEncoding, Base64RoundTripsAllPaddingLengths) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\xd8\xff\xe0\x00\x10"}) {
    EXPECT_EQ(base64Decode(base64Encode(s)), s) << s;
  }
  EXPECT_EQ(base64Encode("\xff\xd8\xff\xe0"), "/9j/4A==");
}

TEST(ByteEncoding, Base64RejectsBadLengthAlphabetAndInnerPadding) {
  EXPECT_FALSE(base64Decode("abc"));
  EXPECT_FALSE(base64Decode("ab!d"));
  EXPECT_FALSE(base64Decode("a=bc"));
  EXPECT_FALSE(base64Decode("ab==abcd"));
}

}  // namespace
}  // namespace leafsync
