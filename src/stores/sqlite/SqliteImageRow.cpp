#include "leafsync/SqliteImageRow.h"

namespace leafsync {

ImageRecord readImageRow(const SqliteStatement& s) {
  ImageRecord r;
  r.id = s.columnInt(0);
  r.camera_id = s.columnInt(1);
  r.data = s.columnBlob(2);
  r.latitude = s.columnDouble(3);
  r.longitude = s.columnDouble(4);
  r.created_at = s.columnText(5);
  r.updated_at = s.columnText(6);
  r.is_active = s.columnInt(7) != 0;
  r.is_deleted = s.columnInt(8) != 0;
  if (!s.columnIsNull(9)) r.disease = s.columnText(9);
  if (!s.columnIsNull(10)) r.percentage = s.columnDouble(10);
  r.version = s.columnInt(11);
  return r;
}

std::optional<ImageRecord> findImage(SqliteStatement& find, std::int64_t id) {
  find.bind(1, id);
  std::optional<ImageRecord> result;
  if (find.step()) result = readImageRow(find);
  find.reset();
  return result;
}

std::int64_t countImages(SqliteStatement& count) {
  count.step();
  std::int64_t n = count.columnInt(0);
  count.reset();
  return n;
}

std::vector<ImageRecord> listImages(SqliteStatement& list, std::int64_t after_id, int limit) {
  list.bind(1, after_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<ImageRecord> result;
  while (list.step()) result.push_back(readImageRow(list));
  list.reset();
  return result;
}

}  // namespace leafsync
