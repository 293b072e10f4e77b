// The SQLite C API as the store uses it: a prepared statement being bound
// and stepped (Stmt), a script run whole (exec), a column read, and the
// store's error for what a connection reports. No locking here: whoever
// holds the connection's lock calls these.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace lrogate::store::sqlite {

// The connection's last failure as the store's error: kUnavailable for what
// may pass (busy, locked, I/O, disk full, cannot open), kInternal for the rest.
Error db_error(sqlite3* db, std::string_view what);

// Runs `sql` (one or more statements, no results); kUnavailable on failure.
Result<void> exec(sqlite3* db, const char* sql);

// A prepared statement the store keeps (prepared once, SQLITE_PREPARE_PERSISTENT),
// lent to one call: bound, stepped, and reset with its bindings cleared
// when the Stmt goes.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  // Text; the empty string is NULL, as the PostgreSQL store binds it.
  Stmt& bind(int i, std::string_view v) {
    if (v.empty())
      sqlite3_bind_null(s_, i);
    else
      sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Text as given, the empty string too (bind() makes it NULL).
  Stmt& bind_text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_blob(int i, std::string_view v) {
    if (v.empty())
      sqlite3_bind_null(s_, i);
    else
      sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, std::optional<std::int64_t> v) {
    if (v)
      sqlite3_bind_int64(s_, i, *v);
    else
      sqlite3_bind_null(s_, i);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  sqlite3_stmt* raw() { return s_; }
  sqlite3* db() { return db_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

// A column's bytes, text or blob alike; valid until the statement steps or
// resets. Empty for NULL.
inline std::string_view column_view(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string_view();
}

inline std::string column_text(sqlite3_stmt* s, int i) { return std::string(column_view(s, i)); }

inline std::optional<std::int64_t> column_opt(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(s, i);
}

}  // namespace lrogate::store::sqlite
