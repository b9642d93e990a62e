#pragma once

#include <array>
#include <memory>
#include <string>

#include "leafsync/SourceStore.h"
#include "leafsync/SqliteConnection.h"

namespace leafsync {

// producer_plant_db in SQLite (WAL): one table per plant with AUTOINCREMENT ids, and the
// outbox table the relay publishes from.
class SqliteSourceStore : public SourceStore {
 public:
  explicit SqliteSourceStore(const std::string& path);
  ~SqliteSourceStore() override;
  // Whether the existing file at `path` is a producer source; reads only (StoreFactory).
  static bool holdsSource(const std::string& path);

  // Reads, which never wait for a writer (WAL).
  std::optional<ImageRecord> find(Plant plant, std::int64_t id) override;
  std::int64_t count(Plant plant) override;
  std::vector<ImageRecord> list(Plant plant, std::int64_t after_id, int limit) override;
  void ping() override;

  // Writes, each one BEGIN IMMEDIATE transaction with its outbox row; the process's writers of
  // the file take turns (SqliteConnection::writer), so seq order is commit order.
  ImageRecord create(Plant plant, const NewImage& image) override;
  std::optional<ImageRecord> update(Plant plant, const ImageChange& change) override;
  std::optional<std::int64_t> remove(Plant plant, std::int64_t id) override;
  std::vector<std::int64_t> enqueueSnapshot(Plant plant, std::int64_t after_id, int limit) override;
  void enqueueSnapshotEnd(Plant plant, std::int64_t rows) override;

  // The relay's side of the outbox.
  std::vector<OutboxEntry> pendingEventsAfter(std::int64_t after_seq, std::size_t max) override;
  void markPublished(std::int64_t up_to_seq) override;
  std::int64_t pendingCount() override;

 private:
  struct PlantStatements;
  class Transaction;
  void migrate();
  void enqueue(const ChangeEvent& event);
  void enqueueValue(Plant plant, std::int64_t image_id, const std::string& value, std::int64_t ts_ms);

  SqliteConnection db_;
  std::array<std::unique_ptr<PlantStatements>, 3> plants_;
  SqliteStatement begin_;
  SqliteStatement commit_;
  SqliteStatement rollback_;
  SqliteStatement insert_outbox_;
  SqliteStatement read_outbox_;
  SqliteStatement delete_outbox_;
  SqliteStatement count_outbox_;
};

}  // namespace leafsync
