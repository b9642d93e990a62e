#include "leafsync/SqliteConnection.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "leafsync/Store.h"

namespace leafsync {
namespace {

// SQLite's own busy handler backs off in steps up to 100 ms, so a writer that meets a held
// lock often sleeps far longer than the lock is held: the stream's staleness grew a tail of
// seconds with three consumer threads (or a second process) writing. Retry every 250 µs
// instead, for up to 10 s.
int retryQuickly(void*, int attempts) {
  constexpr int kMaxAttempts = 40000;
  if (attempts >= kMaxAttempts) return 0;
  ::usleep(250);
  return 1;
}

[[noreturn]] void fail(sqlite3* db, std::string_view what) {
  throw StoreError(std::string(what) + ": " + sqlite3_errmsg(db));
}

}  // namespace

SqliteStatement::SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt_, nullptr) != SQLITE_OK) {
    fail(db, "prepare failed");
  }
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

SqliteStatement& SqliteStatement::bindText(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  return *this;
}

SqliteStatement& SqliteStatement::bindBlob(int index, std::string_view value) {
  sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  return *this;
}

SqliteStatement& SqliteStatement::bindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

SqliteStatement& SqliteStatement::bindOptional(int index, const std::optional<std::string>& value) {
  return value ? bindText(index, *value) : bindNull(index);
}

SqliteStatement& SqliteStatement::bindOptional(int index, const std::optional<double>& value) {
  return value ? bind(index, *value) : bindNull(index);
}

bool SqliteStatement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  fail(db_, "statement failed");
}

void SqliteStatement::run() {
  while (step()) {
  }
  reset();
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t SqliteStatement::columnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
double SqliteStatement::columnDouble(int i) const { return sqlite3_column_double(stmt_, i); }
bool SqliteStatement::columnIsNull(int i) const {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

std::string SqliteStatement::columnText(int i) const {
  auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  return text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)))
              : std::string();
}

std::string SqliteStatement::columnBlob(int i) const {
  auto* blob = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
  return blob ? std::string(blob, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)))
              : std::string();
}

// What the connections of this process to one file share.
struct SqliteConnection::SharedFile {
  std::mutex writer;
  SqliteGroupCommit group;
};

namespace {

// A file's shared state, kept while any connection of this process has the file open.
std::shared_ptr<SqliteConnection::SharedFile> sharedFileOf(const std::string& path) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<SqliteConnection::SharedFile>> registry;
  std::error_code error;
  std::string key = std::filesystem::weakly_canonical(path, error).string();
  if (error) key = path;
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::shared_ptr<SqliteConnection::SharedFile> shared = registry[key].lock();
  if (!shared) {
    shared = std::make_shared<SqliteConnection::SharedFile>();
    registry[key] = shared;
  }
  return shared;
}

}  // namespace

void SqliteGroupCommit::commit(Request& request, const Writer& write) {
  std::unique_lock<std::mutex> lock(mutex_);
  queue_.push_back(&request);
  while (!request.done) {
    if (leading_) {
      finished_.wait(lock);
      continue;
    }
    // No group is being written: this caller writes the queue, its own request in it.
    std::vector<Request*> group;
    group.swap(queue_);
    leading_ = true;
    lock.unlock();
    std::uint64_t written = 0;
    try {
      write(group);
      written = 1;
    } catch (...) {
      // Rolled back, so none of it is committed. The database may refuse one batch only (a
      // constraint, a value too big): each is tried again at once in a transaction of its
      // own, so that batch fails alone instead of holding back every partition it meets.
      std::exception_ptr error = std::current_exception();
      if (group.size() == 1) {
        group[0]->error = error;
      } else {
        for (Request* r : group) {
          try {
            write({r});
            ++written;
          } catch (...) {
            r->error = std::current_exception();
          }
        }
      }
    }
    lock.lock();
    leading_ = false;
    transactions_ += written;
    for (Request* r : group) {
      if (!r->error) ++requests_;
      r->done = true;
    }
    finished_.notify_all();
  }
  if (request.error) std::rethrow_exception(request.error);
}

std::uint64_t SqliteGroupCommit::transactions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return transactions_;
}

std::uint64_t SqliteGroupCommit::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

bool SqliteGroupCommit::writing() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return leading_;
}

std::size_t SqliteGroupCommit::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

SqliteConnection::SqliteConnection(const std::string& path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StoreError("cannot open SQLite database '" + path + "': " + message);
  }
  sqlite3_busy_handler(db_, retryQuickly, nullptr);
  path_ = path;
  shared_ = sharedFileOf(path);
  try {
    // Rows carry ~1 KiB images: 16 KiB pages hold a dozen instead of three, so a batch dirties
    // (and the WAL and checkpoints write) far fewer pages: ~2x the apply rate measured by
    // bench/apply_bench. Takes effect only on a new, empty file.
    exec("PRAGMA page_size=16384");
    // Another process opening the same new file at the same moment (two consumers, a producer
    // and its load generator) can hold the lock the switch to WAL needs, and SQLite reports
    // that as SQLITE_BUSY without asking the busy handler: retry for up to 10 s.
    for (int attempt = 0; sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr) != SQLITE_OK; ++attempt) {
      if (sqlite3_errcode(db_) != SQLITE_BUSY || attempt == 400) fail(db_, "cannot switch to WAL");
      ::usleep(25000);
    }
    // NORMAL in WAL mode survives a process crash; a power loss can drop the last transactions,
    // which is safe here because the offsets live in the same transactions and are replayed.
    exec("PRAGMA synchronous=NORMAL");
  } catch (...) {
    sqlite3_close_v2(db_);  // the destructor does not run for a constructor that throws
    throw;
  }
}

SqliteConnection::~SqliteConnection() { sqlite3_close_v2(db_); }

bool sqliteFileHolds(const std::string& path, std::int32_t application_id, const std::string& marker_table) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) throw StoreError("no such SQLite file '" + path + "'");
  sqlite3* db = nullptr;
  int opened = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> owner(db, sqlite3_close_v2);
  if (opened != SQLITE_OK) {
    throw StoreError("cannot open SQLite database '" + path + "': " + (db ? sqlite3_errmsg(db) : "out of memory"));
  }
  try {
    SqliteStatement id(db, "PRAGMA application_id");
    id.step();
    std::int64_t found = id.columnInt(0);
    if (found != 0) return found == application_id;
    SqliteStatement table(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    table.bindText(1, marker_table);
    return table.step();
  } catch (const StoreError& e) {
    throw StoreError("SQLite file '" + path + "': " + e.what());
  }
}

void SqliteConnection::exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    throw StoreError("SQLite: " + message);
  }
}

void SqliteConnection::migrate(const SqliteSchema& schema) {
  std::lock_guard<std::mutex> lock(writer());
  exec("BEGIN IMMEDIATE");
  try {
    auto pragma = [this](const char* name) {
      SqliteStatement read(db_, std::string("PRAGMA ") + name);
      read.step();
      return read.columnInt(0);
    };
    std::int64_t id = pragma("application_id");
    if (id != 0 && id != schema.application_id) {
      throw StoreError("SQLite file '" + path_ + "' is not " + schema.name + " (it holds another leafsync schema)");
    }
    if (pragma("user_version") < schema.version) {
      for (const std::string& sql : schema.statements) exec(sql);
      exec("PRAGMA user_version = " + std::to_string(schema.version));
    }
    if (id == 0) {
      // New, or made before files were marked: it must hold this schema's tables.
      SqliteStatement table(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
      table.bindText(1, schema.marker_table);
      bool found = table.step();
      table.reset();
      if (!found) {
        throw StoreError("SQLite file '" + path_ + "' is not " + schema.name + " (it has no " + schema.marker_table + " table)");
      }
      exec("PRAGMA application_id = " + std::to_string(schema.application_id));
    }
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

std::mutex& SqliteConnection::writer() const { return shared_->writer; }

SqliteGroupCommit& SqliteConnection::groupCommit() const { return shared_->group; }

int SqliteConnection::changes() const { return sqlite3_changes(db_); }

std::int64_t SqliteConnection::pagesRead() const {
  int current = 0;
  int highwater = 0;
  sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_MISS, &current, &highwater, 0);
  return current;
}

std::int64_t SqliteConnection::lastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

}  // namespace leafsync
