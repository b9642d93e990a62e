#pragma once

// The batch baseline leafsync replaces: the db_synchronizer_job, which copies the source
// (producer_plant_db) into a copy every period (600 s). It exists to be measured against the
// stream with the same instruments (BatchMetrics), so it behaves as such a job does: it reads the
// source with plain SQL, whole (strategy "full") or only the rows whose updated_at passed the last
// run's high-water mark ("watermark"), and writes what it read into its own copy.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "BatchMetrics.h"
#include "leafsync/SourceStore.h"
#include "leafsync/Store.h"

namespace leafsync {

enum class BatchStrategy { Full, Watermark };
std::string_view strategyName(BatchStrategy strategy);  // "full", "watermark"
std::optional<BatchStrategy> parseStrategy(std::string_view name);

// The bytes of a row's field values as the job receives them from the source: 8 for every
// integer or real (id, camera_id, latitude, longitude, is_active, is_deleted, version, and
// percentage unless NULL), the length of every text and blob (data, created_at, updated_at, and
// disease unless NULL), nothing for a NULL. The database's wire framing is not counted (nor is
// Kafka's on the stream side): both sides count payload.
std::int64_t rowBytes(const ImageRecord& row);
inline constexpr std::int64_t kIdBytes = 8;  // one id read by the delete check


// What reading the source cost below its rows. A database over the network: the bytes its
// connection's socket moved (wire, framing and all). A SQLite file has no wire: the bytes of the
// database pages SQLite had to read from the file (cache misses × page size).
struct SourceTransportBytes {
  enum class Kind { None, Wire, File };
  Kind kind = Kind::None;
  std::int64_t received = 0;  // wire: received from the server; file: read from the file
  std::int64_t sent = 0;      // wire: sent to the server (queries); file: 0
};
std::string_view transportName(SourceTransportBytes::Kind kind);  // "none", "wire", "file"

// One page of rows read from the source.
struct SourcePage {
  std::vector<ImageRecord> rows;  // the rows that matched, ascending id
  std::int64_t last_id = 0;       // the next page starts after this id
  bool done = false;              // no rows after last_id
};

struct IdPage {
  std::vector<std::int64_t> ids;  // ascending
  bool done = false;
};

// What the job reads from producer_plant_db. One instance per run (a batch job connects, reads
// and disconnects); single-threaded.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Everything read between begin and end sees one snapshot of the source, so that pages read
  // at different moments agree (the delete check and the watermark depend on it).
  virtual void beginSnapshot() = 0;
  virtual void endSnapshot() = 0;
  // Up to `limit` rows with id > after_id; with `updated_after`, only the rows whose updated_at
  // is later (the watermark query). Throws StoreError.
  virtual SourcePage rows(Plant plant, std::int64_t after_id, int limit,
                          const std::optional<std::string>& updated_after) = 0;
  // Up to `limit` ids greater than after_id: the cheap id-set read of the delete check.
  virtual IdPage ids(Plant plant, std::int64_t after_id, int limit) = 0;
  // Bytes read from the source so far: every row returned by rows() (rowBytes), every id
  // returned by ids() (kIdBytes), plus whatever a source had to read and then filter out.
  virtual std::int64_t bytesRead() const = 0;
  // The source's transport so far (since it was opened).
  virtual SourceTransportBytes transportBytes() const { return {}; }
};

// How a source URL is reached (what openBatchSource's source reports): File for SQLite, Wire
// for PostgreSQL.
SourceTransportBytes::Kind sourceTransport(const std::string& url);

// sqlite:PATH (or a bare path): SQL against the source's image tables, the watermark as a WHERE
// clause, a read transaction (WAL snapshot) per run; refuses a database that does not exist.
// postgres:// URLs: the same SQL over the wire (openPostgresBatchSource). Other URLs: through
// openSourceStore(url)'s listing, the watermark filtered after reading (so every row's bytes
// are read and counted), no cross-page snapshot.
std::unique_ptr<BatchSource> openBatchSource(const std::string& url);
// The generic reader over any SourceStore (what openBatchSource uses for non-SQLite URLs).
std::unique_ptr<BatchSource> listingBatchSource(std::unique_ptr<SourceStore> store);

struct BatchOptions {
  BatchStrategy strategy = BatchStrategy::Full;
  std::chrono::milliseconds period{600000};
  int page_rows = 500;  // rows per source query and per copy transaction
  // Watermark runs re-read rows this much older than the mark: a writer takes updated_at before
  // it commits, so a row can commit with an updated_at below a mark already taken. Re-read rows
  // are unchanged in the copy (version rule) and cost only their read bytes.
  std::chrono::milliseconds watermark_overlap{2000};
  // Watermark runs cannot see deletes (a deleted row has no updated_at): read the id set (8
  // bytes a row) and delete what the source no longer has. Off = deletes never reach the copy.
  bool detect_deletes = true;
  // After a failed run, retry after min(period, this) instead of a whole period.
  std::chrono::milliseconds retry_after{5000};
};

struct BatchRunResult {
  bool completed = false;  // false: abandoned because a stop was requested
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  double seconds = 0;
  std::int64_t rows_read = 0;
  std::int64_t ids_read = 0;
  std::int64_t bytes_read = 0;
  SourceTransportBytes transport;  // what the run's reads cost below the rows (wire or file)
  std::int64_t rows_written = 0;  // created or changed in the copy
  std::int64_t bytes_written = 0;
  std::int64_t rows_unchanged = 0;  // read, but the copy already had that version
  std::int64_t rows_deleted = 0;
  double max_staleness_s = 0;
};

// The job. The copy is any Store; rows are applied as snapshot events (Op::Snapshot) under the
// same version rule as the stream's, so a row unchanged since the last run is not rewritten and
// is not a staleness observation. The watermark is kept in the copy's offset table (topic
// "db_synchronizer_job.watermark", partition = plant, value = microseconds), committed in the
// same transaction as the plant's last page, as the consumer does with Kafka offsets.
class BatchSynchronizer {
 public:
  using SourceOpener = std::function<std::unique_ptr<BatchSource>()>;

  BatchSynchronizer(SourceOpener open_source, std::unique_ptr<Store> copy, BatchOptions options,
                    BatchMetrics& metrics);
  ~BatchSynchronizer();

  // One run, now, on the calling thread; returns early (completed = false) when `stop` is set.
  // Throws StoreError when the source or the copy fails (the run counts as failed).
  BatchRunResult runOnce(const std::atomic<bool>& stop);

  // A thread running a run at once and then every period until stop().
  void start();
  void stop();    // abandons a run in progress at its next page and joins
  void runNow();  // start the next run now instead of at its time

  std::optional<BatchRunResult> lastRun() const;  // the last completed run
  std::int64_t completedRuns() const;
  const BatchOptions& options() const { return options_; }

  static constexpr const char* kWatermarkTopic = "db_synchronizer_job.watermark";

 private:
  void loop();
  void loadCopyIds();
  void syncPlant(BatchSource& source, Plant plant, const std::atomic<bool>& stop, BatchRunResult& result);
  void deleteMissing(BatchSource& source, Plant plant, const std::vector<std::int64_t>* seen,
                     const std::atomic<bool>& stop, BatchRunResult& result);
  void applyDeletes(Plant plant, const std::vector<std::int64_t>& ids, BatchRunResult& result);
  void noteTransport(const BatchSource& source, BatchRunResult& result);

  SourceOpener open_source_;
  std::unique_ptr<Store> copy_;
  BatchOptions options_;
  BatchMetrics& metrics_;
  bool copy_ids_loaded_ = false;
  std::array<std::set<std::int64_t>, 3> copy_ids_;  // live rows of the copy

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool run_now_ = false;
  std::atomic<bool> stop_{false};
  std::optional<BatchRunResult> last_run_;
  std::int64_t completed_runs_ = 0;
  std::thread thread_;
};

}  // namespace leafsync
