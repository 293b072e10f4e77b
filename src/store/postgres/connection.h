// One libpq connection as the store uses it: how it is opened (timeouts
// that keep a hung database from holding a call), the prepared statements
// it has, and how its failures become the store's errors (SQLSTATE to
// ErrorCode; libpq's message, never a password, in the detail only).
#pragma once

#include <libpq-fe.h>

#include <bitset>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/postgres/statements.h"

namespace lrogate::store::postgres {

using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

// Opens one connection: short connect timeout, keepalives and a statement
// timeout, so a database that hangs cannot hold a request for long. The
// user's URL comes last and wins over these defaults. Check PQstatus.
PGconn* connect(const std::string& url, const char* application_name = "lrogate");

// A pooled connection and the statements prepared on it; used by one
// caller at a time (whoever checked it out).
struct Conn {
  PGconn* pg = nullptr;
  std::bitset<kSqlCount> prepared;
  void close() {
    if (pg) PQfinish(pg);
    pg = nullptr;
    prepared.reset();
  }
};

// libpq's own message, one line: it names the host and the failure, never
// the password.
std::string pg_message(PGconn* c);

Error unavailable(std::string detail);

// A failed statement's error: 23505 is kConflict; connection trouble,
// shutdown, overload, timeouts and serialization (08, 53, 57, 40001, 40P01,
// or no SQLSTATE) are kUnavailable; the rest kInternal.
Error fail(const PGresult* r, PGconn* conn, std::string_view what);

}  // namespace lrogate::store::postgres
