#include "BatchSynchronizer.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "PostgresBatchSource.h"
#include "leafsync/Log.h"
#include "leafsync/SqliteConnection.h"
#include "leafsync/SqliteImageRow.h"
#include "leafsync/StoreFactory.h"
#include "leafsync/Timestamp.h"

namespace leafsync {

std::string_view strategyName(BatchStrategy strategy) {
  return strategy == BatchStrategy::Full ? "full" : "watermark";
}

std::optional<BatchStrategy> parseStrategy(std::string_view name) {
  if (name == "full") return BatchStrategy::Full;
  if (name == "watermark") return BatchStrategy::Watermark;
  return std::nullopt;
}

std::string_view transportName(SourceTransportBytes::Kind kind) {
  switch (kind) {
    case SourceTransportBytes::Kind::Wire: return "wire";
    case SourceTransportBytes::Kind::File: return "file";
    case SourceTransportBytes::Kind::None: break;
  }
  return "none";
}

std::int64_t rowBytes(const ImageRecord& r) {
  std::int64_t bytes = 7 * 8;  // id, camera_id, latitude, longitude, is_active, is_deleted, version
  bytes += static_cast<std::int64_t>(r.data.size() + r.created_at.size() + r.updated_at.size());
  if (r.disease) bytes += static_cast<std::int64_t>(r.disease->size());
  if (r.percentage) bytes += 8;
  return bytes;
}

namespace {

bool startsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// --- sqlite:PATH: the SQL a db_synchronizer_job runs --------------------------------------

class SqliteBatchSource : public BatchSource {
 public:
  explicit SqliteBatchSource(const std::string& path)
      : db_(existing(path)), begin_(db_.handle(), "BEGIN"), end_(db_.handle(), "COMMIT") {
    SqliteStatement page_size(db_.handle(), "PRAGMA page_size");
    if (page_size.step()) page_size_ = page_size.columnInt(0);
    page_size.reset();
    for (Plant plant : kAllPlants) {
      std::string table = imageTable(plant);
      std::string select = std::string("SELECT ") + kImageColumns + " FROM " + table;
      plants_[plantIndex(plant)] = std::make_unique<PlantSql>(db_.handle(), table, select, watermarkIndex(table));
    }
  }

  ~SqliteBatchSource() override {
    if (!in_snapshot_) return;
    try {
      db_.exec("ROLLBACK");
    } catch (const StoreError&) {
    }
  }

  void beginSnapshot() override {
    begin_.run();
    in_snapshot_ = true;
  }
  void endSnapshot() override {
    if (!in_snapshot_) return;
    end_.run();
    in_snapshot_ = false;
  }

  SourcePage rows(Plant plant, std::int64_t after_id, int limit,
                  const std::optional<std::string>& updated_after) override {
    PlantSql& p = *plants_[plantIndex(plant)];
    SqliteStatement& s = updated_after ? p.changed : p.all;
    s.bind(1, after_id).bind(2, static_cast<std::int64_t>(limit));
    if (updated_after) s.bindText(3, *updated_after);
    SourcePage page;
    try {
      while (s.step()) {
        page.rows.push_back(readImageRow(s));
        bytes_ += rowBytes(page.rows.back());
      }
    } catch (...) {
      s.reset();
      throw;
    }
    s.reset();
    page.done = page.rows.size() < static_cast<std::size_t>(limit);
    page.last_id = page.rows.empty() ? after_id : page.rows.back().id;
    return page;
  }

  IdPage ids(Plant plant, std::int64_t after_id, int limit) override {
    SqliteStatement& s = plants_[plantIndex(plant)]->ids;
    s.bind(1, after_id).bind(2, static_cast<std::int64_t>(limit));
    IdPage page;
    try {
      while (s.step()) {
        page.ids.push_back(s.columnInt(0));
        bytes_ += kIdBytes;
      }
    } catch (...) {
      s.reset();
      throw;
    }
    s.reset();
    page.done = page.ids.size() < static_cast<std::size_t>(limit);
    return page;
  }

  std::int64_t bytesRead() const override { return bytes_; }

  // Every page SQLite did not have in this connection's cache it read from the file, whole (a
  // job that opens its source per run starts cold, as a job on another machine would be).
  SourceTransportBytes transportBytes() const override {
    int misses = 0, highwater = 0;
    sqlite3_db_status(db_.handle(), SQLITE_DBSTATUS_CACHE_MISS, &misses, &highwater, 0);
    return {SourceTransportBytes::Kind::File, static_cast<std::int64_t>(misses) * page_size_, 0};
  }

 private:
  // The source's (id, updated_at) index (SqliteSourceStore's schema 2), or "" in an older file.
  std::string watermarkIndex(const std::string& table) {
    SqliteStatement find(db_.handle(), "SELECT name FROM sqlite_master WHERE type = 'index' AND name = ?1");
    const std::string index = table + "_id_updated_at";  // bound without a copy: outlives step()
    find.bindText(1, index);
    std::string name = find.step() ? find.columnText(0) : "";
    find.reset();
    return name;
  }

  struct PlantSql {
    // With the index, the changed rows are found in it and only they are read from the table
    // (SQLite's planner would walk the table by rowid, reading every image to test updated_at).
    PlantSql(sqlite3* db, const std::string& table, const std::string& select, const std::string& index)
        : all(db, select + " WHERE id > ?1 ORDER BY id LIMIT ?2"),
          changed(db, select + (index.empty() ? "" : " INDEXED BY " + index) +
                          " WHERE id > ?1 AND updated_at > ?3 ORDER BY id LIMIT ?2"),
          ids(db, "SELECT id FROM " + table + " WHERE id > ?1 ORDER BY id LIMIT ?2") {}
    SqliteStatement all;
    SqliteStatement changed;
    SqliteStatement ids;
  };

  // A batch job must not create the database it reads from.
  static const std::string& existing(const std::string& path) {
    struct stat info{};
    if (::stat(path.c_str(), &info) != 0) throw StoreError("source database '" + path + "' does not exist");
    return path;
  }

  SqliteConnection db_;
  SqliteStatement begin_;
  SqliteStatement end_;
  std::array<std::unique_ptr<PlantSql>, 3> plants_;
  bool in_snapshot_ = false;
  std::int64_t bytes_ = 0;
  std::int64_t page_size_ = 4096;
};

// --- any other source: through SourceStore's listing -------------------------------------

class ListingBatchSource : public BatchSource {
 public:
  using Transport = std::function<SourceTransportBytes()>;
  ListingBatchSource(std::unique_ptr<SourceStore> store, Transport transport)
      : store_(std::move(store)), transport_(std::move(transport)) {}

  void beginSnapshot() override {
    for (auto& ids : listed_ids_) ids.clear();
    listed_all_ = {false, false, false};
  }
  void endSnapshot() override {}

  SourcePage rows(Plant plant, std::int64_t after_id, int limit,
                  const std::optional<std::string>& updated_after) override {
    std::vector<ImageRecord> listed = store_->list(plant, after_id, limit);
    SourcePage page;
    page.done = listed.size() < static_cast<std::size_t>(limit);
    page.last_id = listed.empty() ? after_id : listed.back().id;
    auto& ids = listed_ids_[plantIndex(plant)];
    if (after_id == 0) ids.clear();
    for (ImageRecord& row : listed) {
      bytes_ += rowBytes(row);  // read whole, filtered here
      ids.push_back(row.id);
      if (!updated_after || row.updated_at > *updated_after) page.rows.push_back(std::move(row));
    }
    listed_all_[plantIndex(plant)] = page.done;
    return page;
  }

  // The listing already read every row of this run: its ids cost nothing more.
  IdPage ids(Plant plant, std::int64_t after_id, int limit) override {
    IdPage page;
    if (listed_all_[plantIndex(plant)]) {
      const auto& ids = listed_ids_[plantIndex(plant)];
      auto it = std::upper_bound(ids.begin(), ids.end(), after_id);
      for (; it != ids.end() && page.ids.size() < static_cast<std::size_t>(limit); ++it) page.ids.push_back(*it);
      page.done = it == ids.end();
      return page;
    }
    std::vector<ImageRecord> listed = store_->list(plant, after_id, limit);
    for (const ImageRecord& row : listed) {
      bytes_ += rowBytes(row);
      page.ids.push_back(row.id);
    }
    page.done = listed.size() < static_cast<std::size_t>(limit);
    return page;
  }

  std::int64_t bytesRead() const override { return bytes_; }
  SourceTransportBytes transportBytes() const override { return transport_ ? transport_() : SourceTransportBytes{}; }

 private:
  std::unique_ptr<SourceStore> store_;
  Transport transport_;
  std::int64_t bytes_ = 0;
  std::array<std::vector<std::int64_t>, 3> listed_ids_;
  std::array<bool, 3> listed_all_ = {false, false, false};
};

// Ends the source's snapshot however the run is left.
class SnapshotScope {
 public:
  explicit SnapshotScope(BatchSource& source) : source_(source) { source_.beginSnapshot(); }
  ~SnapshotScope() {
    try {
      source_.endSnapshot();
    } catch (const StoreError&) {
    }
  }

 private:
  BatchSource& source_;
};

double seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

}  // namespace

std::unique_ptr<BatchSource> openBatchSource(const std::string& url) {
  if (isPostgresUrl(url)) return openPostgresBatchSource(url);
  if (startsWith(url, "sqlite://")) return std::make_unique<SqliteBatchSource>(url.substr(9));
  if (startsWith(url, "sqlite:")) return std::make_unique<SqliteBatchSource>(url.substr(7));
  if (url.find("://") == std::string::npos && !startsWith(url, "postgres")) {
    return std::make_unique<SqliteBatchSource>(url);
  }
  return listingBatchSource(openSourceStore(url));
}

std::unique_ptr<BatchSource> listingBatchSource(std::unique_ptr<SourceStore> store) {
  return std::make_unique<ListingBatchSource>(std::move(store), nullptr);
}

SourceTransportBytes::Kind sourceTransport(const std::string& url) {
  return isPostgresUrl(url) ? SourceTransportBytes::Kind::Wire : SourceTransportBytes::Kind::File;
}

// --- the job -------------------------------------------------------------------------------

BatchSynchronizer::BatchSynchronizer(SourceOpener open_source, std::unique_ptr<Store> copy, BatchOptions options,
                                     BatchMetrics& metrics)
    : open_source_(std::move(open_source)), copy_(std::move(copy)), options_(options), metrics_(metrics) {
  if (options_.page_rows < 1) throw std::invalid_argument("page_rows must be at least 1");
  if (options_.period.count() < 1) throw std::invalid_argument("the period must be positive");
  metrics_.period.Set(seconds(options_.period.count()));
}

BatchSynchronizer::~BatchSynchronizer() { stop(); }

void BatchSynchronizer::loadCopyIds() {
  if (copy_ids_loaded_) return;
  for (Plant plant : kAllPlants) {
    auto& ids = copy_ids_[plantIndex(plant)];
    ids.clear();
    for (std::int64_t after = 0;;) {
      std::vector<ImageRecord> page = copy_->list(plant, after, 1000);
      for (const ImageRecord& row : page) ids.insert(row.id);
      if (page.size() < 1000) break;
      after = page.back().id;
    }
  }
  copy_ids_loaded_ = true;
}

BatchRunResult BatchSynchronizer::runOnce(const std::atomic<bool>& stop) {
  BatchRunResult result;
  auto started = std::chrono::steady_clock::now();
  result.started_ms = nowMillis();
  metrics_.running.Set(1);
  struct Idle {
    BatchMetrics& m;
    ~Idle() { m.running.Set(0); }
  } idle{metrics_};

  std::unique_ptr<BatchSource> source = open_source_();
  try {
    loadCopyIds();
    {
      SnapshotScope snapshot(*source);
      for (Plant plant : kAllPlants) {
        if (stop) break;
        syncPlant(*source, plant, stop, result);
      }
    }
    noteTransport(*source, result);  // the snapshot's end too
    result.completed = !stop;
  } catch (const StoreError&) {
    copy_ids_loaded_ = false;  // the copy may hold more than we noted: reload next run
    throw;
  }
  result.finished_ms = nowMillis();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!result.completed) return result;

  metrics_.run_duration.Observe(result.seconds);
  metrics_.last_run_duration.Set(result.seconds);
  metrics_.last_run_start.Set(seconds(result.started_ms));
  metrics_.last_run_end.Set(seconds(result.finished_ms));
  metrics_.last_run_bytes_read.Set(static_cast<double>(result.bytes_read));
  metrics_.last_run_bytes_written.Set(static_cast<double>(result.bytes_written));
  metrics_.last_run_rows_read.Set(static_cast<double>(result.rows_read));
  metrics_.last_run_rows_written.Set(static_cast<double>(result.rows_written));
  metrics_.last_run_rows_deleted.Set(static_cast<double>(result.rows_deleted));
  return result;
}

void BatchSynchronizer::syncPlant(BatchSource& source, Plant plant, const std::atomic<bool>& stop,
                                  BatchRunResult& result) {
  const bool watermark = options_.strategy == BatchStrategy::Watermark;
  const std::int32_t partition = static_cast<std::int32_t>(plantIndex(plant));
  std::optional<std::int64_t> mark = watermark ? copy_->nextOffset(kWatermarkTopic, partition) : std::nullopt;
  std::optional<std::string> updated_after;
  if (mark) updated_after = isoTimestamp(*mark - options_.watermark_overlap.count() * 1000);
  std::int64_t new_mark = mark.value_or(0);

  std::vector<std::int64_t> seen;  // full runs see every id: the delete check is free
  auto& copy_ids = copy_ids_[plantIndex(plant)];
  for (std::int64_t after = 0;;) {
    if (stop) return;
    std::int64_t bytes_before = source.bytesRead();
    SourcePage page = source.rows(plant, after, options_.page_rows, updated_after);
    std::int64_t read = source.bytesRead() - bytes_before;
    result.bytes_read += read;
    result.rows_read += static_cast<std::int64_t>(page.rows.size());
    metrics_.bytes_read.Increment(static_cast<double>(read));
    metrics_.rows_read.Increment(static_cast<double>(page.rows.size()));
    noteTransport(source, result);

    std::vector<ChangeEvent> events;
    events.reserve(page.rows.size());
    for (ImageRecord& row : page.rows) {
      if (!watermark) seen.push_back(row.id);
      ChangeEvent e;
      e.op = Op::Snapshot;
      e.plant = plant;
      e.fields = kAllFields;
      std::optional<std::int64_t> changed_us = parseIsoMicros(row.updated_at);
      e.source_ts_ms = changed_us ? *changed_us / 1000 : 0;
      if (changed_us) new_mark = std::max(new_mark, *changed_us);
      e.image = std::move(row);
      events.push_back(std::move(e));
    }
    std::vector<PartitionOffset> offsets;
    if (watermark && page.done && new_mark > mark.value_or(0)) offsets.push_back({kWatermarkTopic, partition, new_mark});
    if (!events.empty() || !offsets.empty()) {
      ApplyCounts counts = copy_->applyBatch(events, offsets);
      std::int64_t visible_ms = nowMillis();
      std::int64_t written_bytes = 0, written_rows = 0;
      for (std::size_t i = 0; i < events.size(); ++i) {
        if (counts.outcomes[i] != ApplyOutcome::Applied) {
          ++result.rows_unchanged;
          continue;
        }
        ++written_rows;
        written_bytes += rowBytes(events[i].image);
        copy_ids.insert(events[i].image.id);
        if (events[i].source_ts_ms > 0) {
          double staleness = std::max(0.0, seconds(visible_ms - events[i].source_ts_ms));
          metrics_.staleness.Observe(staleness);
          result.max_staleness_s = std::max(result.max_staleness_s, staleness);
        }
      }
      result.rows_written += written_rows;
      result.bytes_written += written_bytes;
      metrics_.rows_written.Increment(static_cast<double>(written_rows));
      metrics_.bytes_written.Increment(static_cast<double>(written_bytes));
    }
    if (page.done) break;
    after = page.last_id;
  }
  if (stop) return;
  if (!watermark) {
    deleteMissing(source, plant, &seen, stop, result);
  } else if (options_.detect_deletes) {
    deleteMissing(source, plant, nullptr, stop, result);
  }
}

void BatchSynchronizer::deleteMissing(BatchSource& source, Plant plant, const std::vector<std::int64_t>* seen,
                                      const std::atomic<bool>& stop, BatchRunResult& result) {
  std::vector<std::int64_t> read_ids;
  if (!seen) {
    for (std::int64_t after = 0;;) {
      if (stop) return;
      std::int64_t bytes_before = source.bytesRead();
      IdPage page = source.ids(plant, after, options_.page_rows * 20);
      std::int64_t read = source.bytesRead() - bytes_before;
      result.bytes_read += read;
      result.ids_read += static_cast<std::int64_t>(page.ids.size());
      metrics_.bytes_read.Increment(static_cast<double>(read));
      noteTransport(source, result);
      read_ids.insert(read_ids.end(), page.ids.begin(), page.ids.end());
      if (page.done || page.ids.empty()) break;
      after = page.ids.back();
    }
    seen = &read_ids;
  }
  // Both ascending: what the copy has and the source's snapshot does not, was deleted.
  std::vector<std::int64_t> gone;
  const auto& copy_ids = copy_ids_[plantIndex(plant)];
  std::set_difference(copy_ids.begin(), copy_ids.end(), seen->begin(), seen->end(), std::back_inserter(gone));
  if (!gone.empty()) applyDeletes(plant, gone, result);
}

// The source's transport counters are its own since it was opened (once per run): the run's
// figure is the last reading, the metric moves by what is new since the one before.
void BatchSynchronizer::noteTransport(const BatchSource& source, BatchRunResult& result) {
  SourceTransportBytes now = source.transportBytes();
  metrics_.addTransport(transportName(now.kind),
                        static_cast<double>(std::max<std::int64_t>(0, now.received - result.transport.received)),
                        static_cast<double>(std::max<std::int64_t>(0, now.sent - result.transport.sent)));
  result.transport = now;
}

void BatchSynchronizer::applyDeletes(Plant plant, const std::vector<std::int64_t>& ids, BatchRunResult& result) {
  std::int64_t now_ms = nowMillis();
  for (std::size_t begin = 0; begin < ids.size(); begin += static_cast<std::size_t>(options_.page_rows)) {
    std::size_t end = std::min(ids.size(), begin + static_cast<std::size_t>(options_.page_rows));
    std::vector<ChangeEvent> events;
    for (std::size_t i = begin; i < end; ++i) {
      ChangeEvent e;
      e.op = Op::Delete;
      e.plant = plant;
      // The source's delete time is gone with its row: not a staleness observation.
      e.source_ts_ms = now_ms;
      e.image.id = ids[i];
      e.image.version = copy_->versionOf(plant, ids[i]) + 1;
      events.push_back(std::move(e));
    }
    ApplyCounts counts = copy_->applyBatch(events, {});
    std::int64_t deleted = counts.applied[static_cast<int>(Op::Delete)];
    for (std::size_t i = begin; i < end; ++i) copy_ids_[plantIndex(plant)].erase(ids[i]);
    result.rows_deleted += deleted;
    result.bytes_written += deleted * kIdBytes;
    metrics_.rows_deleted.Increment(static_cast<double>(deleted));
    metrics_.bytes_written.Increment(static_cast<double>(deleted * kIdBytes));
  }
}

// --- scheduling ----------------------------------------------------------------------------

void BatchSynchronizer::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void BatchSynchronizer::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BatchSynchronizer::runNow() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    run_now_ = true;
  }
  wake_.notify_all();
}

std::optional<BatchRunResult> BatchSynchronizer::lastRun() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_run_;
}

std::int64_t BatchSynchronizer::completedRuns() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return completed_runs_;
}

void BatchSynchronizer::loop() {
  const std::string strategy(strategyName(options_.strategy));
  while (!stop_) {
    auto started = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      run_now_ = false;
    }
    auto next = started + options_.period;
    try {
      BatchRunResult r = runOnce(stop_);
      if (!r.completed) {
        metrics_.runs_abandoned.Increment();
        logEvent(LogLevel::Info, "batch_run_abandoned",
                 {{"strategy", strategy}, {"rows_read", r.rows_read}, {"seconds", r.seconds}});
        break;
      }
      metrics_.runs_succeeded.Increment();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        last_run_ = r;
        ++completed_runs_;
      }
      logEvent(LogLevel::Info, "batch_run_finished",
               {{"strategy", strategy}, {"seconds", r.seconds}, {"rows_read", r.rows_read},
                {"ids_read", r.ids_read}, {"bytes_read", r.bytes_read},
                {std::string(transportName(r.transport.kind)) + "_bytes_received", r.transport.received},
                {"rows_written", r.rows_written},
                {"bytes_written", r.bytes_written}, {"rows_unchanged", r.rows_unchanged},
                {"rows_deleted", r.rows_deleted}, {"max_staleness_s", r.max_staleness_s}});
    } catch (const std::exception& e) {
      metrics_.runs_failed.Increment();
      logEvent(LogLevel::Error, "batch_run_failed", {{"strategy", strategy}, {"error", e.what()}});
      next = started + std::min(options_.period, options_.retry_after);
    }
    auto wall_next = std::chrono::system_clock::now() + (next - std::chrono::steady_clock::now());
    metrics_.next_run.Set(std::chrono::duration<double>(wall_next.time_since_epoch()).count());
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_until(lock, next, [this] { return stop_.load() || run_now_; });
  }
}

}  // namespace leafsync
