#include <gtest/gtest.h>

#include "leafsync/Redact.h"

namespace leafsync {
namespace {

TEST(RedactUrl, MasksThePasswordOfAUrl) {
  EXPECT_EQ(redactUrl("postgresql://leafsync:s3cret@db:5432/consumer_plant_db"),
            "postgresql://leafsync:***@db:5432/consumer_plant_db");
}

TEST(RedactUrl, MasksAPasswordHoldingAnAt) {
  EXPECT_EQ(redactUrl("postgres://leafsync:p@ss@db/x"), "postgres://leafsync:***@db/x");
}

TEST(RedactUrl, KeepsAUrlWithoutAPassword) {
  EXPECT_EQ(redactUrl("postgresql://leafsync@db:5432/x"), "postgresql://leafsync@db:5432/x");
  EXPECT_EQ(redactUrl("postgresql://db:5432/x"), "postgresql://db:5432/x");
}

TEST(RedactUrl, KeepsASqliteUrl) {
  EXPECT_EQ(redactUrl("sqlite:var/consumer_plant_db.sqlite"), "sqlite:var/consumer_plant_db.sqlite");
}

TEST(RedactUrl, MasksAPasswordQueryParameter) {
  EXPECT_EQ(redactUrl("postgresql://db/x?user=u&password=s3cret&sslmode=require"),
            "postgresql://db/x?user=u&password=***&sslmode=require");
}

TEST(RedactUrl, MasksAConninfoPassword) {
  EXPECT_EQ(redactUrl("host=db user=u password=s3cret dbname=x"), "host=db user=u password=*** dbname=x");
}

TEST(RedactUrl, MasksAQuotedConninfoPassword) {
  EXPECT_EQ(redactUrl(R"(host=db password = 'se cr\'et' dbname=x)"), "host=db password = *** dbname=x");
}

TEST(RedactUrl, MasksAConninfoPasswordAtTheStart) {
  EXPECT_EQ(redactUrl("password=s3cret host=db"), "password=*** host=db");
}

TEST(RedactAuthorization, KeepsTheSchemeAndMasksTheCredentials) {
  EXPECT_EQ(redactAuthorization("Bearer abc.def.ghi"), "Bearer ***");
}

TEST(RedactAuthorization, MasksAValueWithoutAScheme) {
  EXPECT_EQ(redactAuthorization("abc.def.ghi"), "***");
}

}  // namespace
}  // namespace leafsync
