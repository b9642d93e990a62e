#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace leafsync {

// One prepared statement, finalized with its owner. Binds are 1-based as in SQLite; text and
// blobs are bound without copying, so they must outlive the step.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& bind(int index, std::int64_t value);
  SqliteStatement& bind(int index, double value);
  SqliteStatement& bindText(int index, std::string_view value);
  SqliteStatement& bindBlob(int index, std::string_view value);
  SqliteStatement& bindNull(int index);
  SqliteStatement& bindOptional(int index, const std::optional<std::string>& value);
  SqliteStatement& bindOptional(int index, const std::optional<double>& value);

  bool step();  // true while a row is available; throws StoreError on failure
  void run();   // step to completion, then reset
  void reset();

  std::int64_t columnInt(int index) const;
  double columnDouble(int index) const;
  std::string columnText(int index) const;
  std::string columnBlob(int index) const;
  bool columnIsNull(int index) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// The schema one kind of store keeps in its file, so that a file of the other kind (the
// producer's source given to a consumer as its copy, say) is refused with a clear error.
struct SqliteSchema {
  std::int32_t application_id;          // PRAGMA application_id of its files
  int version;                          // PRAGMA user_version once `statements` have run
  std::vector<std::string> statements;  // idempotent (CREATE ... IF NOT EXISTS)
  std::string marker_table;             // a table only this schema has (files made before the id)
  std::string name;                     // for errors, e.g. "a consumer copy"
};

// Whether the existing SQLite file at `path` holds the schema marked by `application_id` (or,
// in a file made before files were marked, has `marker_table`). Opens it read-only: never
// creates or changes a file. Throws StoreError when there is no such file or it is not SQLite.
bool sqliteFileHolds(const std::string& path, std::int32_t application_id, const std::string& marker_table);

// Group commit for one file: SQLite has one writer, so the connections of this process that
// want to write at once let one of them write for all. A caller queues its request; the caller
// that finds no group transaction running becomes the leader and writes every request queued
// at that moment (its own included) in one transaction on its own connection, while the others
// wait for the outcome. What arrives during a transaction is the next one's group, so groups
// grow with the load by themselves and a lone request goes out at once. A group transaction
// that fails is rolled back whole and its requests are written again at once, one transaction
// each: a request the database refuses fails alone (its caller retries it), the others commit.
// Nothing is committed twice: each request is in exactly one transaction that committed.
class SqliteGroupCommit {
 public:
  struct Request {
    bool done = false;
    std::exception_ptr error;  // why the transaction that carried it failed
  };
  // How the leader writes a group in one transaction (all or nothing); throws on failure.
  using Writer = std::function<void(const std::vector<Request*>& group)>;

  // Returns once `request` is committed (by this caller or another); rethrows why its own
  // transaction failed.
  void commit(Request& request, const Writer& write);
  // Transactions written and requests they carried since the file was opened in this process.
  std::uint64_t transactions() const;
  std::uint64_t requests() const;
  // Whether a group is being written, and the requests waiting for the next transaction.
  bool writing() const;
  std::size_t queued() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable finished_;
  std::vector<Request*> queue_;
  bool leading_ = false;  // a leader is writing a group
  std::uint64_t transactions_ = 0;
  std::uint64_t requests_ = 0;
};

// One SQLite connection in WAL mode.
//
// SQLite lets one connection write a file at a time. writer() is a mutex shared by every
// connection of this process to the same file: holding it around a write transaction makes
// this process's writers queue for the lock instead of polling for it in the busy handler
// (which, with a writer per partition, burned more CPU than the writes themselves). Other
// processes' writers still meet the busy handler.
class SqliteConnection {
 public:
  explicit SqliteConnection(const std::string& path);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  void exec(const std::string& sql);
  // Brings the file to `schema` in one write transaction: runs its statements when the file is
  // older, marks the file with its application id. Connections opening one file at once take
  // the write lock in turn, so only the first runs them. Throws StoreError, also for a file
  // that holds another schema.
  void migrate(const SqliteSchema& schema);
  int changes() const;
  // Pages this connection read into its page cache so far (SQLITE_DBSTATUS_CACHE_MISS).
  std::int64_t pagesRead() const;
  std::int64_t lastInsertRowid() const;
  sqlite3* handle() const { return db_; }
  std::mutex& writer() const;
  // Shared like writer(): every connection of this process to the file queues in it.
  SqliteGroupCommit& groupCommit() const;

  struct SharedFile;  // what the connections to one file share (defined with the registry)

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  std::shared_ptr<SharedFile> shared_;
};

}  // namespace leafsync
