#include "store/postgres/connection.h"

namespace lrogate::store::postgres {

PGconn* connect(const std::string& url, const char* application_name) {
  const char* keys[] = {
      "connect_timeout", "keepalives", "keepalives_idle", "application_name", "options",
      "dbname",          nullptr};
  const char* values[] = {"3",         "1",    "10", application_name, "-c statement_timeout=10000",
                          url.c_str(), nullptr};
  return PQconnectdbParams(keys, values, 1);
}

std::string pg_message(PGconn* c) {
  std::string m = c ? PQerrorMessage(c) : "out of memory";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  for (char& ch : m) {
    if (ch == '\n') ch = ' ';
  }
  return m;
}

Error unavailable(std::string detail) {
  return make_error(ErrorCode::kUnavailable, "the operation store is unavailable",
                    std::move(detail));
}

Error fail(const PGresult* r, PGconn* conn, std::string_view what) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  std::string detail = std::string(what) + ": " + (sqlstate.empty() ? "" : sqlstate + " ") +
                       (r ? PQresultErrorMessage(r) : pg_message(conn));
  while (!detail.empty() && detail.back() == '\n') detail.pop_back();
  if (sqlstate == "23505") return make_error(ErrorCode::kConflict, "duplicate", detail);
  // Connection trouble, shutdown, overload, timeouts, serialization: retry later.
  bool transient = sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("53", 0) == 0 ||
                   sqlstate.rfind("57", 0) == 0 || sqlstate == "40001" || sqlstate == "40P01" ||
                   sqlstate.empty();
  if (transient) return unavailable(detail);
  return make_error(ErrorCode::kInternal, "the operation store failed", detail);
}

}  // namespace lrogate::store::postgres
