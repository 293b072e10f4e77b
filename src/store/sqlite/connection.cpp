#include "store/sqlite/connection.h"

namespace lrogate::store::sqlite {

Error db_error(sqlite3* db, std::string_view what) {
  int code = sqlite3_errcode(db);
  ErrorCode ec = (code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR ||
                  code == SQLITE_FULL || code == SQLITE_CANTOPEN)
                     ? ErrorCode::kUnavailable
                     : ErrorCode::kInternal;
  return make_error(ec, "the operation store failed",
                    std::string(what) + ": " + sqlite3_errmsg(db));
}

Result<void> exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string detail = err ? err : "";
    sqlite3_free(err);
    return make_error(ErrorCode::kUnavailable, "the operation store failed", detail);
  }
  return {};
}

}  // namespace lrogate::store::sqlite
