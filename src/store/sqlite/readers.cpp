#include "store/sqlite/readers.h"

#include "store/sqlite/connection.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/statements.h"

namespace lrogate::store::sqlite {

Result<void> Readers::open(const std::string& path) {
  for (auto& r : readers_) {
    MutexLock lock(r.mu);
    if (sqlite3_open_v2(path.c_str(), &r.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      return make_error(ErrorCode::kUnavailable, "cannot open the SQLite store " + path,
                        r.db ? sqlite3_errmsg(r.db) : "");
    }
    sqlite3_busy_timeout(r.db, 5000);
  }
  return {};
}

Result<void> Readers::prepare() {
  const std::string sql = statement_text(kGet);
  for (auto& r : readers_) {
    MutexLock lock(r.mu);
    if (sqlite3_prepare_v3(r.db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &r.get, nullptr) !=
        SQLITE_OK) {
      return db_error(r.db, "prepare");
    }
  }
  return {};
}

void Readers::close() {
  for (auto& r : readers_) {
    MutexLock lock(r.mu);
    if (r.get) sqlite3_finalize(r.get);
    if (r.db) sqlite3_close(r.db);
    r.get = nullptr;
    r.db = nullptr;
  }
}

Result<std::optional<Operation>> Readers::get(std::string_view id) {
  unsigned start = next_.fetch_add(1, std::memory_order_relaxed);
  for (unsigned i = 0; i < kReaders; ++i) {
    Reader& cand = readers_[(start + i) % kReaders];
    if (cand.mu.try_lock()) {
      MutexLock lock(cand.mu, kAdoptLock);
      return read_one(cand, id);
    }
  }
  Reader& r = readers_[start % kReaders];
  MutexLock lock(r.mu);
  return read_one(r, id);
}

Result<std::optional<Operation>> Readers::read_one(Reader& r, std::string_view id) {
  sqlite3_stmt* s = r.get;
  sqlite3_bind_text(s, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
  int rc = sqlite3_step(s);
  Result<std::optional<Operation>> out = std::optional<Operation>();
  if (rc == SQLITE_ROW)
    out = std::optional<Operation>(read_row(s));
  else if (rc != SQLITE_DONE)
    out = db_error(r.db, "get");
  sqlite3_reset(s);
  return out;
}

}  // namespace lrogate::store::sqlite
