#include "store/sqlite/rows.h"

#include "store/columns.h"
#include "store/delivery_columns.h"

namespace lrogate::store::sqlite {
namespace {

// One reader and one binder per member type of columns::Column.
void read(sqlite3_stmt* s, int i, std::string& out) {
  std::string_view v = column_view(s, i);
  out.assign(v.data(), v.size());
}
void read(sqlite3_stmt* s, int i, int& out) { out = sqlite3_column_int(s, i); }
void read(sqlite3_stmt* s, int i, std::int64_t& out) { out = sqlite3_column_int64(s, i); }
void read(sqlite3_stmt* s, int i, std::optional<std::int64_t>& out) { out = column_opt(s, i); }
void read(sqlite3_stmt* s, int i, Status& out) { out = columns::status_from(column_view(s, i)); }
void read(sqlite3_stmt* s, int i, Kind& out) { out = columns::kind_from(column_view(s, i)); }

void bind(Stmt& s, int i, const columns::Column<std::string>& c, const std::string& v) {
  if (c.bytes())
    s.bind_blob(i, v);
  else
    s.bind(i, std::string_view(v));
}
void bind(Stmt& s, int i, const columns::Column<int>&, int v) { s.bind(i, std::int64_t{v}); }
void bind(Stmt& s, int i, const columns::Column<std::int64_t>&, std::int64_t v) { s.bind(i, v); }
void bind(Stmt& s, int i, const columns::Column<std::optional<std::int64_t>>&,
          std::optional<std::int64_t> v) {
  s.bind(i, v);
}
void bind(Stmt& s, int i, const columns::Column<Status>&, Status v) {
  s.bind(i, std::string_view(status_name(v)));
}
void bind(Stmt& s, int i, const columns::Column<Kind>&, Kind v) {
  s.bind(i, std::string_view(kind_name(v)));
}

}  // namespace

Operation read_row(sqlite3_stmt* s) {
  Operation op;
  columns::for_each([&](int i, const auto& c) { read(s, i, op.*c.member); });
  return op;
}

Result<std::vector<Operation>> read_rows(Stmt& st, std::string_view what) {
  std::vector<Operation> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_row(st.raw()));
  if (rc != SQLITE_DONE) return db_error(st.db(), what);
  return out;
}

Result<std::map<std::string, int>> read_statuses(Stmt& st, std::string_view what, int* total) {
  std::map<std::string, int> gone;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    ++gone[column_text(st.raw(), 0)];
    ++*total;
  }
  if (rc != SQLITE_DONE) return db_error(st.db(), what);
  return gone;
}

Delivery read_delivery(sqlite3_stmt* s) {
  namespace d = deliveries;
  Delivery out;
  out.id = column_text(s, d::kId);
  out.operation_id = column_text(s, d::kOperationId);
  out.tenant = column_text(s, d::kTenant);
  out.url = column_text(s, d::kUrl);
  out.body = column_text(s, d::kBody);
  out.status = d::status_from(column_view(s, d::kStatus));
  out.attempts = sqlite3_column_int(s, d::kAttempts);
  out.created_at = sqlite3_column_int64(s, d::kCreatedAt);
  out.updated_at = sqlite3_column_int64(s, d::kUpdatedAt);
  out.next_attempt_at = sqlite3_column_int64(s, d::kNextAttemptAt);
  out.lease_owner = column_text(s, d::kLeaseOwner);
  out.lease_until = column_opt(s, d::kLeaseUntil);
  out.fence = sqlite3_column_int64(s, d::kFence);
  out.last_status = sqlite3_column_int(s, d::kLastStatus);
  out.last_error = column_text(s, d::kLastError);
  return out;
}

Result<std::vector<Delivery>> read_deliveries(Stmt& st, std::string_view what) {
  std::vector<Delivery> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_delivery(st.raw()));
  if (rc != SQLITE_DONE) return db_error(st.db(), what);
  return out;
}

void bind_row(Stmt& s, const Operation& op) {
  columns::for_each([&](int i, const auto& c) { bind(s, i + 1, c, op.*c.member); });
}

}  // namespace lrogate::store::sqlite
