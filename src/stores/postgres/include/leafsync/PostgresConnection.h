#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// libpq stays out of this header (and out of everything that includes it).
struct pg_conn;
struct pg_result;

namespace leafsync {

// The PostgreSQL type OIDs leafsync binds (pg_type.dat; stable across versions).
namespace pgtype {
inline constexpr unsigned kBool = 16;
inline constexpr unsigned kBytea = 17;
inline constexpr unsigned kInt8 = 20;
inline constexpr unsigned kInt4 = 23;
inline constexpr unsigned kText = 25;
inline constexpr unsigned kFloat8 = 701;
inline constexpr unsigned kBoolArray = 1000;
inline constexpr unsigned kByteaArray = 1001;
inline constexpr unsigned kInt4Array = 1007;
inline constexpr unsigned kTextArray = 1009;
inline constexpr unsigned kInt8Array = 1016;
inline constexpr unsigned kFloat8Array = 1022;
}  // namespace pgtype

// A one-dimensional array parameter in PostgreSQL's binary format: one statement carries a
// whole run of rows (`unnest($1::int8[], $2::bytea[], ...)`), with one prepared plan for any
// number of rows.
class PgArray {
 public:
  explicit PgArray(unsigned element_type) : element_type_(element_type) {}

  PgArray& add(std::int64_t value);
  PgArray& add(std::int32_t value);
  PgArray& add(double value);
  PgArray& add(bool value);
  PgArray& addBytes(std::string_view value);  // text or bytea: the raw bytes
  PgArray& addNull();
  PgArray& addOptional(const std::optional<std::string>& value) {
    return value ? addBytes(*value) : addNull();
  }
  PgArray& addOptional(const std::optional<double>& value) {
    return value ? add(*value) : addNull();
  }

  unsigned elementType() const { return element_type_; }
  unsigned arrayType() const;
  int size() const { return count_; }
  std::string encode() const;  // the binary wire format

 private:
  unsigned element_type_;
  std::string body_;
  int count_ = 0;
  bool has_null_ = false;
};

// The parameters of one statement, all in binary format. Values are copied, so the params
// may outlive what they were built from.
class PgParams {
 public:
  PgParams& add(std::int64_t value);
  PgParams& add(std::int32_t value);
  PgParams& add(double value);
  PgParams& add(bool value);
  PgParams& text(std::string_view value);
  PgParams& bytea(std::string_view value);
  PgParams& null(unsigned type);
  PgParams& array(const PgArray& value);
  PgParams& optional(const std::optional<std::string>& value) {
    return value ? text(*value) : null(pgtype::kText);
  }
  PgParams& optional(const std::optional<double>& value) {
    return value ? add(*value) : null(pgtype::kFloat8);
  }

  int size() const { return static_cast<int>(types_.size()); }
  const std::vector<unsigned>& types() const { return types_; }

 private:
  friend class PostgresConnection;
  PgParams& raw(unsigned type, std::string bytes);

  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<unsigned> types_;
};

// One result (owned; PQclear'd with the object). Values arrive in binary format; the getters
// check the column's size, so a type mismatch is an error rather than garbage.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* result) : result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const;
  std::int64_t affectedRows() const;  // from the command tag (INSERT/UPDATE/DELETE)
  bool isNull(int row, int column) const;
  std::int64_t getInt(int row, int column) const;  // int2, int4 or int8
  double getDouble(int row, int column) const;     // float8
  bool getBool(int row, int column) const;
  std::string getBytes(int row, int column) const;  // text or bytea
  std::optional<std::string> getOptionalBytes(int row, int column) const;
  std::optional<double> getOptionalDouble(int row, int column) const;
  pg_result* get() const { return result_; }

 private:
  const char* cell(int row, int column, int size) const;
  pg_result* result_ = nullptr;
};

// One query of a pipeline: a statement prepared on the connection (by name), or SQL text run
// unnamed, with its parameters.
struct PgQuery {
  const std::string* statement = nullptr;  // prepared statement name
  const std::string* sql = nullptr;        // or: SQL text (no prepare)
  const PgParams* params = nullptr;
};

// A libpq connection (RAII) with the statements prepared on it. Parameters are always bound,
// never spliced into SQL; identifiers (table, database names) are leafsync's own or escaped.
//
// Reconnection: a failure throws StoreError and never reconnects by itself (that could run
// the rest of a transaction outside it). The owner calls ensureOpen() at the start of each
// operation: a lost connection is then replaced by a new one, the registered statements are
// prepared again, and the operation goes on — so a consumer retrying after StoreError
// recovers without a restart once the server is back.
class PostgresConnection {
 public:
  // url: a libpq URL (postgresql://user@host:port/db?...) or key=value conninfo. Defaults
  // that the URL may override: connect_timeout=10, TCP keepalives after 10 s idle,
  // tcp_user_timeout=30 s, application_name=leafsync, statement_timeout=60 s (options).
  // Throws StoreError.
  explicit PostgresConnection(std::string url);
  ~PostgresConnection();
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  // Registers a statement, prepared by the next ensureOpen() and after every reconnect.
  // `types` are the parameter types (pgtype::*), which the PgParams of each execution must
  // match.
  void prepare(std::string name, std::string sql, std::vector<unsigned> types);

  // Call first in every operation: reconnects (and re-prepares) when the connection was lost,
  // rolls back a transaction a failed operation left open, prepares statements registered
  // since. Throws StoreError when the server cannot be reached.
  void ensureOpen();

  PgResult exec(const std::string& sql);  // simple protocol, no parameters: DDL, BEGIN, ...
  PgResult execPrepared(const std::string& name, const PgParams& params);
  PgResult execParams(const std::string& sql, const PgParams& params);

  // Sends all queries in one pipeline (one round trip), then one sync, and returns their
  // results in order. Throws StoreError at the first failed query, after the pipeline is
  // drained: a transaction it was part of is then in the failed state (see rollbackQuietly).
  std::vector<PgResult> pipeline(const std::vector<PgQuery>& queries);

  // ROLLBACK if a transaction is open; never throws (the connection may be gone).
  void rollbackQuietly() noexcept;

  std::string escapeIdentifier(std::string_view identifier);
  bool isOpen() const;
  int backendPid() const;
  const std::string& url() const { return url_; }

  // What this connection moved over its TCP socket, as the kernel counts it (tcp_info's
  // tcpi_bytes_received / tcpi_bytes_acked): every protocol message with its framing, the
  // start-up and authentication included — what crosses the network, beside the row bytes a
  // caller counts. Summed over reconnects. Nothing over a Unix-domain socket (no network, no
  // such counter) or before the first connection.
  struct SocketBytes {
    std::int64_t sent = 0, received = 0;
  };
  std::optional<SocketBytes> socketBytes() const;
  pg_conn* handle() const { return conn_; }

 private:
  struct Prepared {
    std::string name;
    std::string sql;
    std::vector<unsigned> types;
  };
  void connect();
  void prepareAll();
  const Prepared& find(const std::string& name) const;
  void sendPipelined(const std::vector<PgQuery>& queries);
  void flushNonBlocking();
  [[noreturn]] void fail(const std::string& what, pg_result* result = nullptr) const;

  std::string url_;
  pg_conn* conn_ = nullptr;
  std::vector<Prepared> prepared_;
  std::size_t prepared_count_ = 0;  // how many of prepared_ exist on this connection
  std::optional<SocketBytes> closed_bytes_;  // of the connections this one replaced
};

// A schema migration: statements run once, in order of version, in one transaction.
struct PgMigration {
  int version;
  std::string description;
  std::string sql;  // one or more statements, no parameters
};

// Brings `component`'s schema up to its newest migration: in one transaction under a
// transaction-scoped advisory lock (so replicas starting together do not race), creating
// schema_migrations when missing and running each migration not yet recorded there.
// Refuses (StoreError) a database that holds `other_component`'s schema, whose tables would
// have the same names. Idempotent.
void migrateSchema(PostgresConnection& db, const std::string& component,
                   const std::vector<PgMigration>& migrations, const std::string& other_component);

// The newest migration of `component` ("copy", "source") that the database holds; 0 for a
// database without leafsync's tables. Reads only.
std::int64_t installedSchemaVersion(PostgresConnection& db, const std::string& component);

// `url` with its database replaced by `database` (URL form only): for tests and tools that
// create databases beside the one they were given.
std::string postgresUrlWithDatabase(const std::string& url, const std::string& database);

}  // namespace leafsync
