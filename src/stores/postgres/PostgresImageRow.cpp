#include "leafsync/PostgresImageRow.h"

namespace leafsync {

ImageRecord readPostgresImageRow(const PgResult& s, int row) {
  ImageRecord r;
  r.id = s.getInt(row, 0);
  r.camera_id = s.getInt(row, 1);
  r.data = s.getBytes(row, 2);
  r.latitude = s.getDouble(row, 3);
  r.longitude = s.getDouble(row, 4);
  r.created_at = s.getBytes(row, 5);
  r.updated_at = s.getBytes(row, 6);
  r.is_active = s.getBool(row, 7);
  r.is_deleted = s.getBool(row, 8);
  r.disease = s.getOptionalBytes(row, 9);
  r.percentage = s.getOptionalDouble(row, 10);
  r.version = s.getInt(row, 11);
  return r;
}

std::optional<ImageRecord> findPostgresImage(PostgresConnection& db, const std::string& find, std::int64_t id) {
  db.ensureOpen();
  PgResult r = db.execPrepared(find, PgParams().add(id));
  if (r.rows() == 0) return std::nullopt;
  return readPostgresImageRow(r, 0);
}

std::int64_t countPostgresImages(PostgresConnection& db, const std::string& count) {
  db.ensureOpen();
  return db.execPrepared(count, PgParams()).getInt(0, 0);
}

std::vector<ImageRecord> listPostgresImages(PostgresConnection& db, const std::string& list, std::int64_t after_id,
                                            int limit) {
  db.ensureOpen();
  PgResult r = db.execPrepared(list, PgParams().add(after_id).add(static_cast<std::int64_t>(limit)));
  std::vector<ImageRecord> result;
  result.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) result.push_back(readPostgresImageRow(r, row));
  return result;
}

}  // namespace leafsync
