#include "leafsync/PostgresConnection.h"

#include <endian.h>
#include <libpq-fe.h>
#include <linux/tcp.h>  // not netinet/tcp.h: glibc's tcp_info lacks the byte counters
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "leafsync/Redact.h"
#include "leafsync/Store.h"

namespace leafsync {
namespace {

// "leafsync" in ASCII: the advisory lock that serialises schema migrations of all replicas.
constexpr std::int64_t kMigrationLockKey = 0x6c65616673796e63;

void putInt32(std::string& out, std::int32_t value) {
  std::uint32_t be = htobe32(static_cast<std::uint32_t>(value));
  out.append(reinterpret_cast<const char*>(&be), 4);
}

void putInt64(std::string& out, std::int64_t value) {
  std::uint64_t be = htobe64(static_cast<std::uint64_t>(value));
  out.append(reinterpret_cast<const char*>(&be), 8);
}

void putDouble(std::string& out, double value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  putInt64(out, static_cast<std::int64_t>(bits));
}

// libpq's message on one line (it breaks lines and indents hints with tabs).
std::string trimmed(const char* message) {
  std::string s;
  for (const char* p = message ? message : ""; *p; ++p) {
    if (*p == '\n' || *p == '\t') {
      if (!s.empty() && s.back() != ' ') s.push_back(' ');
    } else {
      s.push_back(*p);
    }
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

void ignoreNotice(void*, const char*) {}

// Pointer views of PgParams for libpq; valid while the params live.
struct ParamPointers {
  explicit ParamPointers(const std::vector<std::string>& values, const std::vector<bool>& nulls) {
    std::size_t n = values.size();
    pointers.resize(n);
    lengths.resize(n);
    formats.assign(n, 1);
    for (std::size_t i = 0; i < n; ++i) {
      pointers[i] = nulls[i] ? nullptr : values[i].data();
      lengths[i] = static_cast<int>(values[i].size());
    }
  }
  std::vector<const char*> pointers;
  std::vector<int> lengths;
  std::vector<int> formats;
};

}  // namespace

// ----------------------------------------------------------------------------- PgArray

unsigned PgArray::arrayType() const {
  switch (element_type_) {
    case pgtype::kBool:
      return pgtype::kBoolArray;
    case pgtype::kBytea:
      return pgtype::kByteaArray;
    case pgtype::kInt8:
      return pgtype::kInt8Array;
    case pgtype::kInt4:
      return pgtype::kInt4Array;
    case pgtype::kText:
      return pgtype::kTextArray;
    case pgtype::kFloat8:
      return pgtype::kFloat8Array;
    default:
      throw std::logic_error("PgArray: unsupported element type " + std::to_string(element_type_));
  }
}

PgArray& PgArray::add(std::int64_t value) {
  putInt32(body_, 8);
  putInt64(body_, value);
  ++count_;
  return *this;
}

PgArray& PgArray::add(std::int32_t value) {
  putInt32(body_, 4);
  putInt32(body_, value);
  ++count_;
  return *this;
}

PgArray& PgArray::add(double value) {
  putInt32(body_, 8);
  putDouble(body_, value);
  ++count_;
  return *this;
}

PgArray& PgArray::add(bool value) {
  putInt32(body_, 1);
  body_.push_back(value ? '\1' : '\0');
  ++count_;
  return *this;
}

PgArray& PgArray::addBytes(std::string_view value) {
  putInt32(body_, static_cast<std::int32_t>(value.size()));
  body_.append(value.data(), value.size());
  ++count_;
  return *this;
}

PgArray& PgArray::addNull() {
  putInt32(body_, -1);
  has_null_ = true;
  ++count_;
  return *this;
}

std::string PgArray::encode() const {
  // ndim, has-null flag, element type, then per dimension: size and lower bound (1).
  std::string out;
  out.reserve(20 + body_.size());
  putInt32(out, count_ == 0 ? 0 : 1);
  putInt32(out, has_null_ ? 1 : 0);
  putInt32(out, static_cast<std::int32_t>(element_type_));
  if (count_ > 0) {
    putInt32(out, count_);
    putInt32(out, 1);
  }
  out += body_;
  return out;
}

// ---------------------------------------------------------------------------- PgParams

PgParams& PgParams::raw(unsigned type, std::string bytes) {
  values_.push_back(std::move(bytes));
  nulls_.push_back(false);
  types_.push_back(type);
  return *this;
}

PgParams& PgParams::add(std::int64_t value) {
  std::string bytes;
  putInt64(bytes, value);
  return raw(pgtype::kInt8, std::move(bytes));
}

PgParams& PgParams::add(std::int32_t value) {
  std::string bytes;
  putInt32(bytes, value);
  return raw(pgtype::kInt4, std::move(bytes));
}

PgParams& PgParams::add(double value) {
  std::string bytes;
  putDouble(bytes, value);
  return raw(pgtype::kFloat8, std::move(bytes));
}

PgParams& PgParams::add(bool value) {
  return raw(pgtype::kBool, std::string(1, value ? '\1' : '\0'));
}

PgParams& PgParams::text(std::string_view value) { return raw(pgtype::kText, std::string(value)); }

PgParams& PgParams::bytea(std::string_view value) {
  return raw(pgtype::kBytea, std::string(value));
}

PgParams& PgParams::null(unsigned type) {
  values_.emplace_back();
  nulls_.push_back(true);
  types_.push_back(type);
  return *this;
}

PgParams& PgParams::array(const PgArray& value) { return raw(value.arrayType(), value.encode()); }

// ---------------------------------------------------------------------------- PgResult

PgResult::~PgResult() { PQclear(result_); }

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

int PgResult::rows() const { return result_ ? PQntuples(result_) : 0; }

std::int64_t PgResult::affectedRows() const {
  const char* tuples = result_ ? PQcmdTuples(result_) : "";
  return *tuples ? std::strtoll(tuples, nullptr, 10) : 0;
}

bool PgResult::isNull(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }

const char* PgResult::cell(int row, int column, int size) const {
  if (row >= rows() || column >= PQnfields(result_)) {
    throw StoreError("PostgreSQL result has no cell (" + std::to_string(row) + ", " +
                     std::to_string(column) + ")");
  }
  if (PQfformat(result_, column) != 1 || (size > 0 && PQgetlength(result_, row, column) != size)) {
    throw StoreError("PostgreSQL result column " + std::to_string(column) +
                     " has an unexpected type");
  }
  return PQgetvalue(result_, row, column);
}

std::int64_t PgResult::getInt(int row, int column) const {
  const char* p = cell(row, column, 0);
  switch (PQgetlength(result_, row, column)) {
    case 8: {
      std::uint64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<std::int64_t>(be64toh(v));
    }
    case 4: {
      std::uint32_t v;
      std::memcpy(&v, p, 4);
      return static_cast<std::int32_t>(be32toh(v));
    }
    case 2: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return static_cast<std::int16_t>(be16toh(v));
    }
    default:
      throw StoreError("PostgreSQL result column " + std::to_string(column) + " is not an integer");
  }
}

double PgResult::getDouble(int row, int column) const {
  const char* p = cell(row, column, 8);
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  v = be64toh(v);
  double d;
  std::memcpy(&d, &v, 8);
  return d;
}

bool PgResult::getBool(int row, int column) const { return *cell(row, column, 1) != 0; }

std::string PgResult::getBytes(int row, int column) const {
  const char* p = cell(row, column, 0);
  return std::string(p, static_cast<std::size_t>(PQgetlength(result_, row, column)));
}

std::optional<std::string> PgResult::getOptionalBytes(int row, int column) const {
  if (isNull(row, column)) return std::nullopt;
  return getBytes(row, column);
}

std::optional<double> PgResult::getOptionalDouble(int row, int column) const {
  if (isNull(row, column)) return std::nullopt;
  return getDouble(row, column);
}

// ------------------------------------------------------------------ PostgresConnection

PostgresConnection::PostgresConnection(std::string url) : url_(std::move(url)) { connect(); }

PostgresConnection::~PostgresConnection() { PQfinish(conn_); }

void PostgresConnection::connect() {
  if (conn_) {
    closed_bytes_ = socketBytes();
    PQfinish(conn_);
    conn_ = nullptr;
  }
  // Later key words override earlier ones, so the URL (dbname, expanded) overrides these.
  // statement_timeout bounds a statement stuck behind a lock held elsewhere: it fails, is
  // retried, and a partition revoked meanwhile can move on (a batch takes well under a second).
  const char* keys[] = {"connect_timeout",  "keepalives",       "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                        "fallback_application_name", "options", "dbname", nullptr};
  const char* values[] = {"10", "1", "10", "5", "3", "30000", "leafsync", "-c statement_timeout=60s", url_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (!conn_) throw StoreError("cannot connect to PostgreSQL: out of memory");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = trimmed(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw StoreError("cannot connect to PostgreSQL at " + redactUrl(url_) + ": " + message);
  }
  PQsetNoticeProcessor(conn_, ignoreNotice, nullptr);
  prepared_count_ = 0;
}

bool PostgresConnection::isOpen() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

int PostgresConnection::backendPid() const { return conn_ ? PQbackendPID(conn_) : 0; }

std::optional<PostgresConnection::SocketBytes> PostgresConnection::socketBytes() const {
  std::optional<SocketBytes> total = closed_bytes_;
  const int fd = conn_ ? PQsocket(conn_) : -1;
  tcp_info info{};
  socklen_t size = sizeof info;
  if (fd >= 0 && ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) == 0 &&
      size >= offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received) {
    if (!total) total.emplace();
    total->sent += static_cast<std::int64_t>(info.tcpi_bytes_acked);
    total->received += static_cast<std::int64_t>(info.tcpi_bytes_received);
  }
  return total;
}

void PostgresConnection::fail(const std::string& what, pg_result* result) const {
  std::string message = result ? trimmed(PQresultErrorMessage(result)) : std::string();
  if (message.empty() && conn_) message = trimmed(PQerrorMessage(conn_));
  std::string state;
  if (result) {
    const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (sqlstate) state = std::string(" (SQLSTATE ") + sqlstate + ")";
  }
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) state += " [connection lost]";
  throw StoreError("PostgreSQL: " + what + ": " + message + state);
}

void PostgresConnection::prepare(std::string name, std::string sql, std::vector<unsigned> types) {
  for (const Prepared& p : prepared_) {
    if (p.name == name) throw std::logic_error("statement '" + name + "' prepared twice");
  }
  prepared_.push_back({std::move(name), std::move(sql), std::move(types)});
}

// The statements not yet prepared on this connection, in one pipeline: one round trip however
// many there are.
void PostgresConnection::prepareAll() {
  if (prepared_count_ == prepared_.size()) return;
  if (PQenterPipelineMode(conn_) != 1) fail("cannot enter pipeline mode");
  for (std::size_t i = prepared_count_; i < prepared_.size(); ++i) {
    const Prepared& p = prepared_[i];
    if (PQsendPrepare(conn_, p.name.c_str(), p.sql.c_str(), static_cast<int>(p.types.size()),
                      p.types.data()) != 1) {
      fail("prepare " + p.name);
    }
  }
  if (PQpipelineSync(conn_) != 1) fail("pipeline sync");
  std::string first_error;
  for (std::size_t i = prepared_count_; i < prepared_.size(); ++i) {
    const Prepared& p = prepared_[i];
    PGresult* r = PQgetResult(conn_);
    if (!r) fail("prepare " + p.name + ": no result");
    if (PQresultStatus(r) != PGRES_COMMAND_OK && first_error.empty()) {
      first_error = "prepare " + p.name + ": " + trimmed(PQresultErrorMessage(r));
    }
    PQclear(r);
    while ((r = PQgetResult(conn_)) != nullptr) PQclear(r);
    if (PQstatus(conn_) != CONNECTION_OK) fail("prepare " + p.name);
  }
  PgResult sync(PQgetResult(conn_));
  if (PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) fail("prepare: pipeline sync", sync.get());
  if (PQexitPipelineMode(conn_) != 1) fail("cannot leave pipeline mode");
  // A statement that does not prepare is a bug, not an outage; the next call tries again.
  if (!first_error.empty()) {
    connect();
    throw StoreError("PostgreSQL: " + first_error);
  }
  prepared_count_ = prepared_.size();
}

void PostgresConnection::ensureOpen() {
  if (isOpen()) {
    if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF) {
      if (PQtransactionStatus(conn_) != PQTRANS_IDLE) rollbackQuietly();
      if (isOpen() && PQtransactionStatus(conn_) == PQTRANS_IDLE) {
        prepareAll();
        return;
      }
    }
    // A pipeline or transaction left half-way by a failure: start over on a fresh connection.
  }
  connect();
  prepareAll();
}

const PostgresConnection::Prepared& PostgresConnection::find(const std::string& name) const {
  for (const Prepared& p : prepared_) {
    if (p.name == name) return p;
  }
  throw std::logic_error("statement '" + name + "' was never prepared");
}

PgResult PostgresConnection::exec(const std::string& sql) {
  if (!isOpen()) fail("not connected");
  PgResult result(PQexec(conn_, sql.c_str()));
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail("query failed", result.get());
  return result;
}

PgResult PostgresConnection::execPrepared(const std::string& name, const PgParams& params) {
  const Prepared& p = find(name);
  if (params.types() != p.types)
    throw std::logic_error("statement '" + name + "': parameter types differ");
  if (!isOpen()) fail(name + ": not connected");
  ParamPointers ptr(params.values_, params.nulls_);
  PgResult result(PQexecPrepared(conn_, p.name.c_str(), params.size(), ptr.pointers.data(),
                                 ptr.lengths.data(), ptr.formats.data(), 1));
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(name, result.get());
  return result;
}

PgResult PostgresConnection::execParams(const std::string& sql, const PgParams& params) {
  if (!isOpen()) fail("not connected");
  ParamPointers ptr(params.values_, params.nulls_);
  PgResult result(PQexecParams(conn_, sql.c_str(), params.size(), params.types().data(),
                               ptr.pointers.data(), ptr.lengths.data(), ptr.formats.data(), 1));
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail("query failed", result.get());
  return result;
}

// Non-blocking until everything is sent, reading results as they come so that neither side
// can fill its socket buffer and wait on the other.
void PostgresConnection::flushNonBlocking() {
  for (;;) {
    int rc = PQflush(conn_);
    if (rc == 0) return;
    if (rc < 0) fail("pipeline send");
    pollfd pfd{PQsocket(conn_), POLLIN | POLLOUT, 0};
    if (::poll(&pfd, 1, 30000) < 0 && errno != EINTR) fail("poll");
    if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) && PQconsumeInput(conn_) != 1)
      fail("pipeline receive");
  }
}

void PostgresConnection::sendPipelined(const std::vector<PgQuery>& queries) {
  for (const PgQuery& q : queries) {
    static const PgParams kNone;
    const PgParams& params = q.params ? *q.params : kNone;
    ParamPointers ptr(params.values_, params.nulls_);
    int ok = 0;
    if (q.statement) {
      const Prepared& p = find(*q.statement);
      if (params.types() != p.types) {
        throw std::logic_error("statement '" + p.name + "': parameter types differ");
      }
      ok = PQsendQueryPrepared(conn_, p.name.c_str(), params.size(), ptr.pointers.data(),
                               ptr.lengths.data(), ptr.formats.data(), 1);
    } else {
      ok = PQsendQueryParams(conn_, q.sql->c_str(), params.size(), params.types().data(),
                             ptr.pointers.data(), ptr.lengths.data(), ptr.formats.data(), 1);
    }
    if (ok != 1) fail("pipeline send");
  }
  if (PQpipelineSync(conn_) != 1) fail("pipeline sync");
  flushNonBlocking();
}

std::vector<PgResult> PostgresConnection::pipeline(const std::vector<PgQuery>& queries) {
  if (!isOpen()) fail("not connected");
  if (PQenterPipelineMode(conn_) != 1) fail("cannot enter pipeline mode");
  if (PQsetnonblocking(conn_, 1) != 0) fail("cannot set non-blocking mode");
  try {
    sendPipelined(queries);
  } catch (...) {
    PQsetnonblocking(conn_, 0);
    throw;  // the connection is dropped by the next ensureOpen (pipeline still on)
  }
  PQsetnonblocking(conn_, 0);

  std::vector<PgResult> results;
  results.reserve(queries.size());
  std::string first_error;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    PgResult result(PQgetResult(conn_));
    if (!result.get()) fail("pipeline: result missing");
    ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_FATAL_ERROR) {
      if (PQstatus(conn_) != CONNECTION_OK) fail("pipeline", result.get());
      if (first_error.empty()) {
        try {
          fail(queries[i].statement ? *queries[i].statement : std::string("pipelined query"),
               result.get());
        } catch (const StoreError& e) {
          first_error = e.what();
        }
      }
    } else if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK &&
               status != PGRES_PIPELINE_ABORTED) {
      fail("pipeline: unexpected result " + std::string(PQresStatus(status)), result.get());
    }
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    results.push_back(std::move(result));
  }
  PgResult sync(PQgetResult(conn_));
  if (PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) fail("pipeline sync", sync.get());
  if (PQexitPipelineMode(conn_) != 1) fail("cannot leave pipeline mode");
  if (!first_error.empty()) throw StoreError(first_error);
  return results;
}

void PostgresConnection::rollbackQuietly() noexcept {
  if (!isOpen() || PQpipelineStatus(conn_) != PQ_PIPELINE_OFF) return;
  PGTransactionStatusType state = PQtransactionStatus(conn_);
  if (state == PQTRANS_INTRANS || state == PQTRANS_INERROR) PQclear(PQexec(conn_, "ROLLBACK"));
}

std::string PostgresConnection::escapeIdentifier(std::string_view identifier) {
  if (!isOpen()) fail("not connected");
  char* escaped = PQescapeIdentifier(conn_, identifier.data(), identifier.size());
  if (!escaped) fail("escape identifier");
  std::string result(escaped);
  PQfreemem(escaped);
  return result;
}

// ---------------------------------------------------------------------------- migrations

namespace {

// The newest migration of `component` recorded in schema_migrations (0 when none or no
// table); throws StoreError when the database holds `other_component`'s schema.
std::int64_t appliedVersion(PostgresConnection& db, const std::string& component,
                            const std::string& other_component) {
  PgResult exists =
      db.execParams("SELECT to_regclass('schema_migrations') IS NOT NULL", PgParams());
  if (!exists.getBool(0, 0)) return 0;
  PgResult other = db.execParams("SELECT 1 FROM schema_migrations WHERE component = $1 LIMIT 1",
                                 PgParams().text(other_component));
  if (other.rows() > 0) {
    throw StoreError("PostgreSQL database " + redactUrl(db.url()) + " holds leafsync's " +
                     other_component + " schema; the " + component +
                     " needs a database of its own (same table names)");
  }
  PgResult current =
      db.execParams("SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = $1",
                    PgParams().text(component));
  return current.getInt(0, 0);
}

}  // namespace

void migrateSchema(PostgresConnection& db, const std::string& component,
                   const std::vector<PgMigration>& migrations, const std::string& other_component) {
  db.ensureOpen();
  // The common case, every start after the first: up to date, no lock and no DDL (so a role
  // without CREATE rights can run once the schema exists).
  int newest = 0;
  for (const PgMigration& m : migrations) newest = std::max(newest, m.version);
  if (appliedVersion(db, component, other_component) >= newest) return;

  db.exec("BEGIN");
  try {
    db.execParams("SELECT pg_advisory_xact_lock($1)", PgParams().add(kMigrationLockKey));
    db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (component text NOT NULL,"
        " version integer NOT NULL, description text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))");
    std::int64_t version = appliedVersion(db, component, other_component);  // again, under the lock
    for (const PgMigration& m : migrations) {
      if (m.version <= version) continue;
      db.exec(m.sql);
      db.execParams(
          "INSERT INTO schema_migrations (component, version, description) VALUES ($1, $2, $3)",
          PgParams().text(component).add(std::int32_t{m.version}).text(m.description));
    }
    db.exec("COMMIT");
  } catch (...) {
    db.rollbackQuietly();
    throw;
  }
}

std::int64_t installedSchemaVersion(PostgresConnection& db, const std::string& component) {
  db.ensureOpen();
  PgResult exists = db.execParams("SELECT to_regclass('schema_migrations') IS NOT NULL", PgParams());
  if (!exists.getBool(0, 0)) return 0;
  PgResult current =
      db.execParams("SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = $1",
                    PgParams().text(component));
  return current.getInt(0, 0);
}

std::string postgresUrlWithDatabase(const std::string& url, const std::string& database) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) throw std::invalid_argument("not a postgresql:// URL: " + url);
  std::size_t query = url.find('?', scheme + 3);
  std::size_t path = url.find('/', scheme + 3);
  if (path != std::string::npos && query != std::string::npos && path > query)
    path = std::string::npos;
  std::size_t end = query == std::string::npos ? url.size() : query;
  std::size_t start = path == std::string::npos ? end : path;
  return url.substr(0, start) + "/" + database + url.substr(end);
}

}  // namespace leafsync
