#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

// Where no PostgreSQL is configured a PostgreSQL test is skipped, so `ctest -L unit` runs on a
// laptop without one. The postgres tier (`ctest -L postgres`) and the test command set
// LEAFSYNC_TEST_REQUIRE_POSTGRES=1: there a missing server fails the test, so a tier that was
// meant to run against PostgreSQL can never pass by skipping.
#define LEAFSYNC_POSTGRES_OR_SKIP(missing)                                                        \
  if (missing) {                                                                                  \
    const char* require_ = std::getenv("LEAFSYNC_TEST_REQUIRE_POSTGRES");                         \
    if (require_ && std::strcmp(require_, "1") == 0) {                                            \
      FAIL() << "LEAFSYNC_TEST_POSTGRES_URL is not set, and this run requires PostgreSQL "        \
                "(LEAFSYNC_TEST_REQUIRE_POSTGRES=1)";                                             \
    }                                                                                             \
    GTEST_SKIP() << "LEAFSYNC_TEST_POSTGRES_URL is not set, so the PostgreSQL tests are skipped " \
                    "(start one: scripts/postgres.sh start; export LEAFSYNC_TEST_POSTGRES_URL="   \
                    "$(scripts/postgres.sh url))";                                                \
  }
