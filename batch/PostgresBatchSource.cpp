#include "PostgresBatchSource.h"

#include <array>

#include "leafsync/ImageTable.h"
#include "leafsync/PostgresConnection.h"
#include "leafsync/PostgresImageRow.h"

namespace leafsync {
namespace {

using namespace pgtype;

class PostgresBatchSource : public BatchSource {
 public:
  explicit PostgresBatchSource(const std::string& url) : db_(url) {
    for (Plant plant : kAllPlants) {
      const std::string table = imageTable(plant);
      const std::string select = std::string("SELECT ") + kImageColumns + " FROM " + table;
      Statements& s = plants_[plantIndex(plant)];
      s = {"batch_all_" + table, "batch_changed_" + table, "batch_ids_" + table};
      db_.prepare(s.all, select + " WHERE id > $1 ORDER BY id LIMIT $2", {kInt8, kInt8});
      // updated_at is ISO text: compared byte by byte (COLLATE "C"), as SQLite compares it,
      // not by a locale that could weigh its punctuation.
      db_.prepare(s.changed, select + " WHERE id > $1 AND updated_at COLLATE \"C\" > $3 ORDER BY id LIMIT $2",
                  {kInt8, kInt8, kText});
      db_.prepare(s.ids, "SELECT id FROM " + table + " WHERE id > $1 ORDER BY id LIMIT $2", {kInt8, kInt8});
    }
    db_.ensureOpen();  // prepares now: a source without the image tables fails the run here
  }

  ~PostgresBatchSource() override {
    if (in_snapshot_) db_.rollbackQuietly();
  }

  void beginSnapshot() override {
    db_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    in_snapshot_ = true;
  }
  void endSnapshot() override {
    if (!in_snapshot_) return;
    in_snapshot_ = false;
    db_.exec("COMMIT");
  }

  SourcePage rows(Plant plant, std::int64_t after_id, int limit,
                  const std::optional<std::string>& updated_after) override {
    const Statements& s = plants_[plantIndex(plant)];
    PgParams params = PgParams().add(after_id).add(static_cast<std::int64_t>(limit));
    if (updated_after) params.text(*updated_after);
    PgResult result = db_.execPrepared(updated_after ? s.changed : s.all, params);
    SourcePage page;
    page.rows.reserve(static_cast<std::size_t>(result.rows()));
    for (int row = 0; row < result.rows(); ++row) {
      page.rows.push_back(readPostgresImageRow(result, row));
      bytes_ += rowBytes(page.rows.back());
    }
    page.done = result.rows() < limit;
    page.last_id = page.rows.empty() ? after_id : page.rows.back().id;
    return page;
  }

  IdPage ids(Plant plant, std::int64_t after_id, int limit) override {
    PgResult result =
        db_.execPrepared(plants_[plantIndex(plant)].ids, PgParams().add(after_id).add(static_cast<std::int64_t>(limit)));
    IdPage page;
    page.ids.reserve(static_cast<std::size_t>(result.rows()));
    for (int row = 0; row < result.rows(); ++row) page.ids.push_back(result.getInt(row, 0));
    bytes_ += kIdBytes * result.rows();
    page.done = result.rows() < limit;
    return page;
  }

  std::int64_t bytesRead() const override { return bytes_; }

  SourceTransportBytes transportBytes() const override {
    auto bytes = db_.socketBytes();  // nothing over a Unix-domain socket
    return bytes ? SourceTransportBytes{SourceTransportBytes::Kind::Wire, bytes->received, bytes->sent}
                 : SourceTransportBytes{};
  }

 private:
  struct Statements {
    std::string all, changed, ids;
  };

  PostgresConnection db_;
  std::array<Statements, 3> plants_;
  bool in_snapshot_ = false;
  std::int64_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<BatchSource> openPostgresBatchSource(const std::string& url) {
  return std::make_unique<PostgresBatchSource>(url);
}

}  // namespace leafsync
