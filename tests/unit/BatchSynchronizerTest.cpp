// The batch baseline (db_synchronizer_job): what it copies, what it counts, and the metric
// names and buckets both sides are compared by.

#include "BatchSynchronizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "BatchMetrics.h"
#include "ProducerMetrics.h"
#include "Verifier.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/PostgresSourceStore.h"
#include "leafsync/SqliteConnection.h"
#include "leafsync/SqliteSourceStore.h"
#include "leafsync/StoreFactory.h"
#include "leafsync/Timestamp.h"
#include "support/PostgresTier.h"
#include "support/ScratchPostgres.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

// Passes a source through and adds up, field by field, what actually came out of it.
class RecordingSource : public BatchSource {
 public:
  RecordingSource(std::unique_ptr<BatchSource> inner, std::int64_t& bytes, std::int64_t& rows)
      : inner_(std::move(inner)), bytes_(bytes), rows_(rows) {}
  void beginSnapshot() override { inner_->beginSnapshot(); }
  void endSnapshot() override { inner_->endSnapshot(); }
  SourcePage rows(Plant plant, std::int64_t after_id, int limit, const std::optional<std::string>& after) override {
    SourcePage page = inner_->rows(plant, after_id, limit, after);
    for (const ImageRecord& r : page.rows) {
      bytes_ += sizeof r.id + sizeof r.camera_id + sizeof r.latitude + sizeof r.longitude + sizeof r.version;
      bytes_ += 8 + 8;  // is_active, is_deleted: SQLite integers, read as 64-bit
      bytes_ += static_cast<std::int64_t>(r.data.size() + r.created_at.size() + r.updated_at.size());
      if (r.disease) bytes_ += static_cast<std::int64_t>(r.disease->size());
      if (r.percentage) bytes_ += sizeof *r.percentage;
      ++rows_;
    }
    return page;
  }
  IdPage ids(Plant plant, std::int64_t after_id, int limit) override {
    IdPage page = inner_->ids(plant, after_id, limit);
    bytes_ += static_cast<std::int64_t>(page.ids.size() * sizeof(std::int64_t));
    return page;
  }
  std::int64_t bytesRead() const override { return inner_->bytesRead(); }
  SourceTransportBytes transportBytes() const override { return inner_->transportBytes(); }

 private:
  std::unique_ptr<BatchSource> inner_;
  std::int64_t& bytes_;
  std::int64_t& rows_;
};

class BatchSynchronizerTest : public ::testing::Test {
 protected:
  std::unique_ptr<BatchSynchronizer> job(BatchStrategy strategy, BatchMetrics& metrics, bool detect_deletes = true) {
    BatchOptions options;
    options.strategy = strategy;
    options.page_rows = 3;  // several pages per plant
    options.watermark_overlap = std::chrono::milliseconds(0);
    options.detect_deletes = detect_deletes;
    options.period = std::chrono::milliseconds(50);
    std::string url = "sqlite:" + source_path_;
    return std::make_unique<BatchSynchronizer>(
        [this, url] { return std::make_unique<RecordingSource>(openBatchSource(url), recorded_bytes_, recorded_rows_); },
        openStore("sqlite:" + copy_path_), options, metrics);
  }

  ImageRecord create(Plant plant, std::size_t bytes) {
    return source_.create(plant, NewImage{7, std::string(bytes, '\xab'), 48.2, 16.3});
  }
  void setDisease(Plant plant, std::int64_t id, const std::string& disease, double percentage) {
    ImageChange change;
    change.id = id;
    change.fields = kDisease | kPercentage;
    change.values.disease = disease;
    change.values.percentage = percentage;
    ASSERT_TRUE(source_.update(plant, change));
  }
  // What the source holds, summed by SQLite itself: the bytes a full read must return.
  std::int64_t sourceBytesBySql() {
    SqliteConnection db(source_path_);
    std::int64_t total = 0;
    for (Plant plant : kAllPlants) {
      SqliteStatement sum(db.handle(),
                          "SELECT TOTAL(7 * 8 + length(data) + length(CAST(created_at AS BLOB))"
                          " + length(CAST(updated_at AS BLOB)) + IFNULL(length(CAST(disease AS BLOB)), 0)"
                          " + (CASE WHEN percentage IS NULL THEN 0 ELSE 8 END)) FROM image_" +
                              std::string(plantName(plant)));
      sum.step();
      total += static_cast<std::int64_t>(sum.columnDouble(0));
      sum.reset();
    }
    return total;
  }
  std::int64_t liveRows() {
    std::int64_t n = 0;
    for (Plant plant : kAllPlants) n += source_.count(plant);
    return n;
  }
  static double value(prometheus::Counter& c) { return c.Value(); }
  static std::uint64_t observations(prometheus::Histogram& h) { return h.Collect().histogram.sample_count; }
  bool copyEqualsSource() {
    auto copy = openStore("sqlite:" + copy_path_);
    return identical(compareCopies(source_, *copy));
  }

  testing::TempDir dir_;
  std::string source_path_ = dir_.file("producer_plant_db.sqlite");
  std::string copy_path_ = dir_.file("batch_copy.sqlite");
  SqliteSourceStore source_{source_path_};
  std::int64_t recorded_bytes_ = 0;
  std::int64_t recorded_rows_ = 0;
  std::atomic<bool> no_stop_{false};
};

TEST_F(BatchSynchronizerTest, RowBytesCountsEveryFieldAsRead) {
  ImageRecord r;
  r.data = std::string(1000, 'x');
  r.created_at = r.updated_at = "2026-11-25T08:39:49.123123";  // 26 bytes
  EXPECT_EQ(rowBytes(r), 7 * 8 + 1000 + 26 + 26);
  r.disease = "Late blight";  // 11 bytes
  r.percentage = 87.5;
  EXPECT_EQ(rowBytes(r), 7 * 8 + 1000 + 26 + 26 + 11 + 8);
}

TEST_F(BatchSynchronizerTest, FullRunCountsExactlyTheBytesItRead) {
  for (int i = 0; i < 7; ++i) create(Plant::Potato, 100 + 37 * static_cast<std::size_t>(i));
  for (int i = 0; i < 4; ++i) create(Plant::Tomato, 5000);
  create(Plant::Pepper, 0);
  setDisease(Plant::Potato, 2, "Early blight", 12.5);
  setDisease(Plant::Tomato, 1, "Bacterial spot", 99);
  source_.remove(Plant::Potato, 5);

  BatchMetrics metrics("full");
  auto sync = job(BatchStrategy::Full, metrics);
  BatchRunResult r = sync->runOnce(no_stop_);
  ASSERT_TRUE(r.completed);

  // The counter equals what came out of the source, and what SQLite says the source holds.
  EXPECT_EQ(static_cast<std::int64_t>(value(metrics.bytes_read)), recorded_bytes_);
  EXPECT_EQ(r.bytes_read, recorded_bytes_);
  EXPECT_EQ(recorded_bytes_, sourceBytesBySql());
  EXPECT_EQ(static_cast<std::int64_t>(value(metrics.rows_read)), recorded_rows_);
  EXPECT_EQ(recorded_rows_, liveRows());
  // All new to the copy: everything read was written, each one a staleness observation.
  EXPECT_EQ(value(metrics.bytes_written), value(metrics.bytes_read));
  EXPECT_EQ(value(metrics.rows_written), static_cast<double>(liveRows()));
  EXPECT_EQ(observations(metrics.staleness), static_cast<std::uint64_t>(liveRows()));
  EXPECT_TRUE(copyEqualsSource());
}

TEST_F(BatchSynchronizerTest, FullRunRereadsEverythingButRewritesOnlyWhatChanged) {
  for (int i = 0; i < 10; ++i) create(kAllPlants[static_cast<std::size_t>(i % 3)], 2000);
  BatchMetrics metrics("full");
  auto sync = job(BatchStrategy::Full, metrics);
  sync->runOnce(no_stop_);
  double read_first = value(metrics.bytes_read);
  std::uint64_t observed_first = observations(metrics.staleness);

  setDisease(Plant::Potato, 1, "Leaf mold", 40);
  recorded_bytes_ = 0;
  BatchRunResult second = sync->runOnce(no_stop_);
  EXPECT_EQ(second.rows_read, 10);
  EXPECT_EQ(second.bytes_read, recorded_bytes_);
  EXPECT_EQ(second.bytes_read, sourceBytesBySql());
  EXPECT_EQ(value(metrics.bytes_read), read_first + static_cast<double>(second.bytes_read));
  EXPECT_EQ(second.rows_written, 1);
  EXPECT_EQ(second.rows_unchanged, 9);
  EXPECT_EQ(second.bytes_written, rowBytes(*source_.find(Plant::Potato, 1)));
  // Unchanged rows are not observations: only the changed one is.
  EXPECT_EQ(observations(metrics.staleness), observed_first + 1);
  EXPECT_TRUE(copyEqualsSource());
}

TEST_F(BatchSynchronizerTest, FullRunDeletesWhatTheSourceNoLongerHas) {
  for (int i = 0; i < 8; ++i) create(Plant::Pepper, 300);
  BatchMetrics metrics("full");
  auto sync = job(BatchStrategy::Full, metrics);
  sync->runOnce(no_stop_);
  source_.remove(Plant::Pepper, 3);
  source_.remove(Plant::Pepper, 8);
  BatchRunResult r = sync->runOnce(no_stop_);
  EXPECT_EQ(r.rows_deleted, 2);
  EXPECT_EQ(value(metrics.rows_deleted), 2);
  EXPECT_TRUE(copyEqualsSource());
  auto copy = openStore("sqlite:" + copy_path_);
  EXPECT_FALSE(copy->find(Plant::Pepper, 3));
  EXPECT_EQ(copy->count(Plant::Pepper), 6);
}

TEST_F(BatchSynchronizerTest, WatermarkRunReadsOnlyChangedRowsPlusTheIdSet) {
  for (int i = 0; i < 9; ++i) create(kAllPlants[static_cast<std::size_t>(i % 3)], 4000);
  BatchMetrics metrics("watermark");
  auto sync = job(BatchStrategy::Watermark, metrics);
  BatchRunResult first = sync->runOnce(no_stop_);
  EXPECT_EQ(first.rows_read, 9);
  EXPECT_EQ(first.ids_read, 9);
  EXPECT_EQ(first.bytes_read, sourceBytesBySql() + 9 * kIdBytes);
  EXPECT_EQ(first.bytes_read, recorded_bytes_);

  setDisease(Plant::Tomato, 2, "Healthy", 1);
  source_.remove(Plant::Pepper, 1);
  recorded_bytes_ = 0;
  BatchRunResult second = sync->runOnce(no_stop_);
  EXPECT_EQ(second.rows_read, 1);  // only the changed row, image bytes and all
  EXPECT_EQ(second.ids_read, 8);   // the delete check: 8 bytes a row
  EXPECT_EQ(second.bytes_read, rowBytes(*source_.find(Plant::Tomato, 2)) + 8 * kIdBytes);
  EXPECT_EQ(second.bytes_read, recorded_bytes_);
  EXPECT_EQ(static_cast<std::int64_t>(value(metrics.bytes_read)), first.bytes_read + second.bytes_read);
  EXPECT_EQ(second.rows_written, 1);
  EXPECT_EQ(second.rows_deleted, 1);
  EXPECT_TRUE(copyEqualsSource());

  // Nothing changed: nothing but the id set is read.
  BatchRunResult third = sync->runOnce(no_stop_);
  EXPECT_EQ(third.rows_read, 0);
  EXPECT_EQ(third.bytes_read, 8 * kIdBytes);
}

TEST_F(BatchSynchronizerTest, WatermarkSurvivesARestartOfTheJob) {
  for (int i = 0; i < 4; ++i) create(Plant::Potato, 100);
  {
    BatchMetrics metrics("watermark");
    job(BatchStrategy::Watermark, metrics)->runOnce(no_stop_);
  }
  setDisease(Plant::Potato, 4, "Leaf mold", 3);
  BatchMetrics metrics("watermark");
  BatchRunResult r = job(BatchStrategy::Watermark, metrics)->runOnce(no_stop_);
  EXPECT_EQ(r.rows_read, 1);
  EXPECT_TRUE(copyEqualsSource());
}

TEST_F(BatchSynchronizerTest, WatermarkWithoutTheIdCheckNeverSeesDeletes) {
  for (int i = 0; i < 3; ++i) create(Plant::Potato, 100);
  BatchMetrics metrics("watermark");
  auto sync = job(BatchStrategy::Watermark, metrics, /*detect_deletes=*/false);
  sync->runOnce(no_stop_);
  source_.remove(Plant::Potato, 2);
  BatchRunResult r = sync->runOnce(no_stop_);
  EXPECT_EQ(r.rows_deleted, 0);
  EXPECT_EQ(r.ids_read, 0);
  EXPECT_FALSE(copyEqualsSource());  // the documented limitation
}

TEST_F(BatchSynchronizerTest, TheGenericListingReaderCountsEveryRowItHadToRead) {
  // A source without SQL access (any SourceStore) lists whole rows: a watermark run filters
  // them after reading, so it pays for every row, and its id check costs nothing more.
  for (int i = 0; i < 7; ++i) create(kAllPlants[static_cast<std::size_t>(i % 3)], 700);
  BatchMetrics metrics("watermark");
  BatchOptions options;
  options.strategy = BatchStrategy::Watermark;
  options.page_rows = 2;
  options.watermark_overlap = std::chrono::milliseconds(0);
  BatchSynchronizer sync(
      [this] {
        return std::make_unique<RecordingSource>(
            listingBatchSource(std::make_unique<SqliteSourceStore>(source_path_)), recorded_bytes_, recorded_rows_);
      },
      openStore("sqlite:" + copy_path_), options, metrics);
  sync.runOnce(no_stop_);
  setDisease(Plant::Potato, 1, "Healthy", 2);
  source_.remove(Plant::Tomato, 2);
  BatchRunResult r = sync.runOnce(no_stop_);
  EXPECT_EQ(r.rows_read, 1);
  EXPECT_EQ(r.bytes_read, sourceBytesBySql());  // every live row, read whole
  EXPECT_EQ(r.rows_deleted, 1);
  EXPECT_TRUE(copyEqualsSource());
}

TEST_F(BatchSynchronizerTest, ASqliteSourceHasNoWireAndCountsThePagesItReadFromTheFile) {
  for (int i = 0; i < 30; ++i) create(kAllPlants[static_cast<std::size_t>(i % 3)], 16384);
  BatchMetrics metrics("full", transportName(sourceTransport("sqlite:" + source_path_)));
  EXPECT_EQ(metrics.wire_received, nullptr) << "a file is not a wire";
  ASSERT_NE(metrics.file_read, nullptr);
  auto sync = job(BatchStrategy::Full, metrics);
  BatchRunResult r = sync->runOnce(no_stop_);
  EXPECT_EQ(r.transport.kind, SourceTransportBytes::Kind::File);
  // Every row's page(s) came from the file: at least the row bytes, and the counter says so.
  EXPECT_GE(r.transport.received, r.bytes_read);
  EXPECT_EQ(static_cast<std::int64_t>(value(*metrics.file_read)), r.transport.received);
}

TEST_F(BatchSynchronizerTest, AWatermarkRunReadsFromTheFileTheChangedImagesNotEveryImage) {
  for (int i = 0; i < 30; ++i) create(kAllPlants[static_cast<std::size_t>(i % 3)], 16384);
  BatchMetrics full_metrics("full", "file");
  BatchRunResult full = job(BatchStrategy::Full, full_metrics)->runOnce(no_stop_);
  BatchMetrics metrics("watermark", "file");
  auto sync = job(BatchStrategy::Watermark, metrics);
  sync->runOnce(no_stop_);
  setDisease(Plant::Tomato, 2, "Healthy", 1);
  BatchRunResult second = sync->runOnce(no_stop_);
  ASSERT_EQ(second.rows_read, 1);
  ASSERT_EQ(second.ids_read, 30);
  // One image and the index's pages, not the 30 images a scan of the table would read to test
  // each row's updated_at (or to list its ids).
  EXPECT_LT(second.transport.received, full.transport.received / 5)
      << "watermark " << second.transport.received << " B, full " << full.transport.received << " B";
  EXPECT_TRUE(copyEqualsSource());
}

TEST(BatchWireBytesTest, APostgresSourceCountsTheSocketBytesOfAnUncompressedRead) {
  const std::string admin_url = testing::postgresTestUrl();
  LEAFSYNC_POSTGRES_OR_SKIP(admin_url.empty());
  testing::ScratchPostgres scratch(admin_url);
  {
    PostgresSourceStore source(scratch.url());
    for (int i = 0; i < 40; ++i) {
      source.create(kAllPlants[static_cast<std::size_t>(i % 3)], NewImage{7, std::string(16384, '\xcd'), 48.2, 16.3});
    }
  }
  testing::TempDir dir;
  const std::string url = scratch.url();  // libpq over TCP: no compression, no TLS on loopback here
  BatchMetrics metrics("full", transportName(sourceTransport(url)));
  ASSERT_NE(metrics.wire_received, nullptr);
  EXPECT_EQ(metrics.file_read, nullptr);
  BatchOptions options;
  options.page_rows = 7;
  BatchSynchronizer sync([url] { return openBatchSource(url); }, openStore("sqlite:" + dir.file("copy.sqlite")),
                         options, metrics);
  std::atomic<bool> no_stop{false};
  BatchRunResult first = sync.runOnce(no_stop);
  ASSERT_TRUE(first.completed);
  EXPECT_EQ(first.transport.kind, SourceTransportBytes::Kind::Wire);
  EXPECT_EQ(first.rows_read, 40);
  // The wire carries the row bytes plus the protocol around them (framing, row descriptions,
  // start-up): never less than the payload when nothing compresses it.
  EXPECT_GE(first.transport.received, first.bytes_read);
  EXPECT_GT(first.transport.sent, 0) << "the queries went out";
  EXPECT_EQ(static_cast<std::int64_t>(metrics.wire_received->Value()), first.transport.received);

  // A second run opens a new connection: the counter keeps moving by that run's bytes.
  BatchRunResult second = sync.runOnce(no_stop);
  EXPECT_GE(second.transport.received, second.bytes_read);
  EXPECT_EQ(static_cast<std::int64_t>(metrics.wire_received->Value()),
            first.transport.received + second.transport.received);
}

TEST(BatchWireBytesTest, APostgresWatermarkRunReceivesOnlyTheChangedRowsAndTheIdSet) {
  const std::string admin_url = testing::postgresTestUrl();
  LEAFSYNC_POSTGRES_OR_SKIP(admin_url.empty());
  testing::ScratchPostgres scratch(admin_url);
  PostgresSourceStore source(scratch.url());
  for (int i = 0; i < 30; ++i) {
    source.create(kAllPlants[static_cast<std::size_t>(i % 3)], NewImage{7, std::string(16384, '\xcd'), 48.2, 16.3});
  }
  testing::TempDir dir;
  const std::string url = scratch.url();
  BatchMetrics metrics("watermark", transportName(sourceTransport(url)));
  BatchOptions options;
  options.strategy = BatchStrategy::Watermark;
  options.page_rows = 4;
  options.watermark_overlap = std::chrono::milliseconds(0);
  const std::string copy_url = "sqlite:" + dir.file("copy.sqlite");
  BatchSynchronizer sync([url] { return openBatchSource(url); }, openStore(copy_url), options, metrics);
  std::atomic<bool> no_stop{false};
  ASSERT_EQ(sync.runOnce(no_stop).rows_read, 30);

  ImageChange change;
  change.id = 2;
  change.fields = kDisease | kPercentage;
  change.values.disease = "Healthy";
  change.values.percentage = 1;
  ASSERT_TRUE(source.update(Plant::Tomato, change));
  source.remove(Plant::Pepper, 3);
  BatchRunResult second = sync.runOnce(no_stop);
  EXPECT_EQ(second.rows_read, 1);
  EXPECT_EQ(second.bytes_read, rowBytes(*source.find(Plant::Tomato, 2)) + 29 * kIdBytes);
  // The other 28 images (16 KiB each) stayed in the database: the wire carried one image, the
  // ids and the protocol around them.
  EXPECT_GE(second.transport.received, second.bytes_read);
  EXPECT_LT(second.transport.received, 2 * 16384);
  EXPECT_EQ(second.rows_deleted, 1);
  auto copy = openStore(copy_url);
  EXPECT_TRUE(identical(compareCopies(source, *copy)));
}

TEST_F(BatchSynchronizerTest, StaleRowsAreObservedWithTheirAgeAtTheMomentTheyBecomeVisible) {
  create(Plant::Potato, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BatchMetrics metrics("full");
  BatchRunResult r = job(BatchStrategy::Full, metrics)->runOnce(no_stop_);
  EXPECT_GE(r.max_staleness_s, 0.3);
  EXPECT_LT(r.max_staleness_s, 30);
  auto h = metrics.staleness.Collect().histogram;
  EXPECT_EQ(h.sample_count, 1u);
  EXPECT_GE(h.sample_sum, 0.3);
}

TEST_F(BatchSynchronizerTest, AStopRequestAbandonsTheRun) {
  for (int i = 0; i < 20; ++i) create(Plant::Potato, 10);
  BatchMetrics metrics("full");
  std::atomic<bool> stop{true};
  BatchRunResult r = job(BatchStrategy::Full, metrics)->runOnce(stop);
  EXPECT_FALSE(r.completed);
}

TEST_F(BatchSynchronizerTest, AMissingSourceFailsTheRunWithoutCreatingIt) {
  BatchMetrics metrics("full");
  BatchOptions options;
  std::string missing = dir_.file("nope.sqlite");
  BatchSynchronizer sync([missing] { return openBatchSource("sqlite:" + missing); }, openStore("sqlite:" + copy_path_),
                         options, metrics);
  EXPECT_THROW(sync.runOnce(no_stop_), StoreError);
  EXPECT_NE(::access(missing.c_str(), F_OK), 0);
}

TEST_F(BatchSynchronizerTest, RunsEveryPeriodUntilStopped) {
  create(Plant::Tomato, 10);
  BatchMetrics metrics("full");
  auto sync = job(BatchStrategy::Full, metrics);
  sync->start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sync->completedRuns() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto stopping = std::chrono::steady_clock::now();
  sync->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(2));
  EXPECT_GE(sync->completedRuns(), 3);
  EXPECT_EQ(value(metrics.runs_succeeded), static_cast<double>(sync->completedRuns()));
  EXPECT_EQ(metrics.period.Value(), 0.05);
}

// --- metric names and buckets, all three services ------------------------------------------

struct Family {
  std::string type;
  std::set<std::string> label_names;
  std::set<std::string> modes;
  std::vector<std::string> le;  // bucket bounds of the first series, as exposed
};

// Reads the text exposition: families by name, their label names, mode values and buckets.
std::map<std::string, Family> families(const std::string& text) {
  std::map<std::string, Family> result;
  std::istringstream in(text);
  std::string line;
  static const std::regex type_line(R"(# TYPE (\S+) (\S+))");
  static const std::regex sample(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? \S+)");
  static const std::regex label(R"(([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)\")");
  std::map<std::string, std::string> first_series;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, type_line)) {
      result[m[1]].type = m[2];
      continue;
    }
    if (line.empty() || line[0] == '#' || !std::regex_match(line, m, sample)) continue;
    std::string name = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
          result.count(name.substr(0, name.size() - s.size())) &&
          result[name.substr(0, name.size() - s.size())].type == "histogram") {
        name = name.substr(0, name.size() - s.size());
      }
    }
    Family& f = result[name];
    std::string labels = m[3];
    std::string series_key;
    for (std::sregex_iterator it(labels.begin(), labels.end(), label), end; it != end; ++it) {
      std::string key = (*it)[1], val = (*it)[2];
      if (key == "le") continue;
      f.label_names.insert(key);
      if (key == "mode") f.modes.insert(val);
      series_key += key + "=" + val + ",";
    }
    if (f.type == "histogram") {
      auto [pos, inserted] = first_series.emplace(name, series_key);
      std::smatch le;
      static const std::regex le_re(R"(le="([^"]*)\")");
      if (pos->second == series_key && std::regex_search(labels, le, le_re)) f.le.push_back(le[1]);
    }
  }
  return result;
}

std::string allMetrics() {
  BatchMetrics batch("full");
  BatchMetrics batch_over_network("watermark", "wire");
  ConsumerMetrics consumer({"potato", "tomato"});
  consumer.setLag("potato", 0, 3);
  ProducerMetrics producer;
  return batch.serialize() + batch_over_network.serialize() + consumer.serialize() + producer.serialize();
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(MetricNamingTest, EveryNameFollowsPrometheusConventions) {
  // Existing stream names that put the unit before the verb; Prometheus would spell them
  // leafsync_consumed_bytes_total / leafsync_published_bytes_total. Kept: dashboards use them.
  const std::set<std::string> legacy_byte_counters = {"leafsync_bytes_consumed_total", "leafsync_bytes_published_total"};
  auto all = families(allMetrics());
  ASSERT_GT(all.size(), 20u);
  // Ours are leafsync_*; the process_* families keep the names every Prometheus client exports.
  static const std::regex snake("(leafsync|process)_[a-z][a-z0-9_]*[a-z]");
  for (const auto& [name, f] : all) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(std::regex_match(name, snake));
    EXPECT_FALSE(f.type.empty()) << "no # TYPE line";
    if (f.type == "counter") {
      EXPECT_TRUE(endsWith(name, "_total"));
      if (name.find("bytes") != std::string::npos && !legacy_byte_counters.count(name)) {
        EXPECT_TRUE(endsWith(name, "_bytes_total"));
      }
    } else {
      EXPECT_FALSE(endsWith(name, "_total")) << "only counters end in _total";
    }
    if (f.type == "histogram") {
      EXPECT_TRUE(endsWith(name, "_seconds") || endsWith(name, "_bytes"));
    }
    if (name.find("timestamp") != std::string::npos || name.find("duration") != std::string::npos ||
        name.find("period") != std::string::npos || name.find("latency") != std::string::npos ||
        name.find("staleness") != std::string::npos) {
      EXPECT_TRUE(endsWith(name, "_seconds")) << "a time is in seconds";
    }
    // Bounded labels only: never an id, an offset or a key.
    for (const std::string& l : f.label_names) {
      EXPECT_TRUE(l != "id" && l != "offset" && l != "key" && l != "image_id") << l;
    }
  }
}

TEST(MetricNamingTest, StreamAndBatchShareNamesAndAreToldApartByMode) {
  auto all = families(allMetrics());
  ASSERT_TRUE(all.count("leafsync_staleness_seconds"));
  EXPECT_EQ(all["leafsync_staleness_seconds"].modes, (std::set<std::string>{"stream", "batch"}));
  EXPECT_EQ(all["leafsync_sync_bytes_total"].modes, std::set<std::string>{"batch"});
  EXPECT_EQ(all["leafsync_sync_rows_total"].modes, std::set<std::string>{"batch"});
  EXPECT_EQ(all["leafsync_bytes_consumed_total"].modes, std::set<std::string>{"stream"});
  EXPECT_EQ(all["leafsync_bytes_published_total"].modes, std::set<std::string>{"stream"});
  for (const char* name : {"leafsync_batch_runs_total", "leafsync_batch_run_duration_seconds",
                           "leafsync_batch_last_run_timestamp_seconds", "leafsync_batch_period_seconds",
                           "leafsync_consumer_lag", "leafsync_dead_letter_events_total", "leafsync_db_errors_total",
                           "leafsync_events_applied_total", "leafsync_outbox_depth",
                           "leafsync_publish_latency_seconds"}) {
    EXPECT_TRUE(all.count(name)) << name;
  }
}

TEST(MetricBucketsTest, StalenessBucketsSpanMillisecondsToTwiceTheBatchPeriod) {
  const auto& b = stalenessBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  EXPECT_EQ(std::adjacent_find(b.begin(), b.end()), b.end()) << "bounds must be strictly increasing";
  EXPECT_LE(b.front(), 0.001);
  EXPECT_EQ(b.back(), 1200);
  EXPECT_NE(std::find(b.begin(), b.end(), 600.0), b.end()) << "one bucket ends at the batch period";
}

TEST(MetricBucketsTest, StreamAndBatchStalenessUseTheSameBuckets) {
  BatchMetrics batch("watermark");
  ConsumerMetrics consumer({"potato"});
  auto b = families(batch.serialize())["leafsync_staleness_seconds"].le;
  auto c = families(consumer.serialize())["leafsync_staleness_seconds"].le;
  ASSERT_EQ(b.size(), stalenessBuckets().size() + 1);
  EXPECT_EQ(b, c);
  EXPECT_EQ(b.back(), "+Inf");
  EXPECT_EQ(std::stod(b[b.size() - 2]), 1200.0);
}

}  // namespace
}  // namespace leafsync
