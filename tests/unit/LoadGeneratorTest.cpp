// The load generator (`leafsync-producer load`): the mix it is given is the mix it writes, over
// any window, so a short benchmark run measures the workload it names.

#include "LoadGenerator.h"

#include <gtest/gtest.h>

#include "leafsync/SqliteSourceStore.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

LoadResult writeOnce(double duration_s, std::uint64_t seed) {
  testing::TempDir dir;
  SqliteSourceStore store(dir.file("producer_plant_db.sqlite"));
  // Seeded, as bench/experiment.sh seeds its source: a write to an empty plant must be a create.
  for (Plant plant : kAllPlants) {
    for (int i = 0; i < 10; ++i) store.create(plant, NewImage{1, std::string(16, 'x'), 48.2, 16.3});
  }
  LoadOptions options;
  options.rate = 1000;
  options.duration_s = duration_s;
  options.mix_create = 10;
  options.mix_update = 85;
  options.mix_delete = 5;
  options.image_bytes = 16;
  options.seed = seed;
  options.progress = nullptr;
  std::atomic<bool> stop{false};
  return runLoad(store, options, [] {}, stop);
}

TEST(LoadGeneratorTest, ThirtyWritesAtTenToEightyFiveToFiveAreThreeCreatesWhateverTheSeed) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    LoadResult r = writeOnce(0.03, seed);
    ASSERT_EQ(r.writes(), 30) << "seed " << seed;
    EXPECT_EQ(r.creates, 3) << "seed " << seed;
    EXPECT_LE(r.deletes, 2) << "seed " << seed;
  }
}

}  // namespace
}  // namespace leafsync
