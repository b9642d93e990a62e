#pragma once

#include <array>
#include <string>

#include "leafsync/PostgresConnection.h"
#include "leafsync/SourceStore.h"

namespace leafsync {

// producer_plant_db in PostgreSQL: one table per plant whose ids come from an identity column
// (per plant, from 1, never reused), and the outbox the relay publishes from. Each write
// commits its row and its event in one transaction, like SqliteSourceStore.
//
// Concurrency (several API threads or producer replicas on one database):
// - update and remove lock the row (SELECT … FOR UPDATE), so two writers of one image get
//   consecutive versions instead of both computing the same next version;
// - outbox rows are inserted under a transaction-scoped advisory lock held until commit, so
//   outbox.seq order is commit order. Without it a later seq could commit first, the relay
//   could publish it and markPublished(seq) would delete the earlier, still invisible event.
//   The lock covers only the outbox insert and the commit.
class PostgresSourceStore : public SourceStore {
 public:
  // url: postgresql://user@host:port/db (or postgres://). Creates or migrates the schema.
  // Throws StoreError when the server cannot be reached.
  explicit PostgresSourceStore(const std::string& url);
  ~PostgresSourceStore() override;

  // Writes: the row locked (SELECT … FOR UPDATE), its outbox row inserted under the advisory
  // lock, both in one transaction.
  ImageRecord create(Plant plant, const NewImage& image) override;
  std::optional<ImageRecord> update(Plant plant, const ImageChange& change) override;
  std::optional<std::int64_t> remove(Plant plant, std::int64_t id) override;
  std::vector<std::int64_t> enqueueSnapshot(Plant plant, std::int64_t after_id, int limit) override;
  void enqueueSnapshotEnd(Plant plant, std::int64_t rows) override;

  // The relay's side of the outbox: seq order is commit order (the advisory lock).
  std::vector<OutboxEntry> pendingEventsAfter(std::int64_t after_seq, std::size_t max) override;
  void markPublished(std::int64_t up_to_seq) override;
  std::int64_t pendingCount() override;

  // Reads (the image-api's GETs), on the same connection: a replica reads its own writes.
  std::optional<ImageRecord> find(Plant plant, std::int64_t id) override;
  std::int64_t count(Plant plant) override;
  std::vector<ImageRecord> list(Plant plant, std::int64_t after_id, int limit) override;
  void ping() override;

  int backendPid() const { return db_.backendPid(); }
  std::optional<PostgresConnection::SocketBytes> socketBytes() const { return db_.socketBytes(); }

 private:
  struct Statements {
    std::string insert, find, find_for_update, update, remove, count, list;
  };
  class Transaction;

  PostgresConnection db_;
  std::array<Statements, 3> plants_;
};

}  // namespace leafsync
