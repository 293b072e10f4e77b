#include "store/postgres/rows.h"

#include <charconv>
#include <cstring>

#include "store/columns.h"
#include "store/delivery_columns.h"

namespace lrogate::store::postgres {
namespace {

std::string_view get_view(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return {};
  return std::string_view(PQgetvalue(r, row, col),
                          static_cast<std::size_t>(PQgetlength(r, row, col)));
}

// One reader, one binder and one SQL type per member type of columns::Column.
void read(const PGresult* r, int row, int i, const columns::Column<std::string>& c,
          std::string& out) {
  out = c.bytes() ? get_bytes(r, row, i) : get_text(r, row, i);
}
void read(const PGresult* r, int row, int i, const columns::Column<int>&, int& out) {
  out = static_cast<int>(get_num(r, row, i));
}
void read(const PGresult* r, int row, int i, const columns::Column<std::int64_t>&,
          std::int64_t& out) {
  out = get_num(r, row, i);
}
void read(const PGresult* r, int row, int i, const columns::Column<std::optional<std::int64_t>>&,
          std::optional<std::int64_t>& out) {
  out = get_opt(r, row, i);
}
void read(const PGresult* r, int row, int i, const columns::Column<Status>&, Status& out) {
  out = columns::status_from(get_view(r, row, i));
}
void read(const PGresult* r, int row, int i, const columns::Column<Kind>&, Kind& out) {
  out = columns::kind_from(get_view(r, row, i));
}

void bind(Params& p, const columns::Column<std::string>& c, const std::string& v) {
  if (c.bytes())
    p.bytes(v);
  else
    p.text(v);
}
void bind(Params& p, const columns::Column<int>&, int v) { p.num(std::int64_t{v}); }
void bind(Params& p, const columns::Column<std::int64_t>&, std::int64_t v) { p.num(v); }
void bind(Params& p, const columns::Column<std::optional<std::int64_t>>&,
          std::optional<std::int64_t> v) {
  p.num(v);
}
void bind(Params& p, const columns::Column<Status>&, Status v) { p.text(status_name(v)); }
void bind(Params& p, const columns::Column<Kind>&, Kind v) { p.text(kind_name(v)); }

const char* sql_type(const columns::Column<std::string>& c) { return c.bytes() ? "bytea" : "text"; }
const char* sql_type(const columns::Column<int>&) { return "int"; }
const char* sql_type(const columns::Column<std::int64_t>&) { return "bigint"; }
const char* sql_type(const columns::Column<std::optional<std::int64_t>>&) { return "bigint"; }
const char* sql_type(const columns::Column<Status>&) { return "text"; }
const char* sql_type(const columns::Column<Kind>&) { return "text"; }

}  // namespace

Operation read_row(const PGresult* r, int row) {
  Operation op;
  columns::for_each([&](int i, const auto& c) { read(r, row, i, c, op.*c.member); });
  return op;
}

std::vector<Operation> read_rows(const PGresult* r) {
  std::vector<Operation> out;
  out.reserve(static_cast<std::size_t>(PQntuples(r)));
  for (int i = 0; i < PQntuples(r); ++i) out.push_back(read_row(r, i));
  return out;
}

Delivery read_delivery(const PGresult* r, int row) {
  namespace d = deliveries;
  Delivery out;
  out.id = get_text(r, row, d::kId);
  out.operation_id = get_text(r, row, d::kOperationId);
  out.tenant = get_text(r, row, d::kTenant);
  out.url = get_text(r, row, d::kUrl);
  out.body = get_bytes(r, row, d::kBody);
  out.status = d::status_from(get_view(r, row, d::kStatus));
  out.attempts = static_cast<int>(get_num(r, row, d::kAttempts));
  out.created_at = get_num(r, row, d::kCreatedAt);
  out.updated_at = get_num(r, row, d::kUpdatedAt);
  out.next_attempt_at = get_num(r, row, d::kNextAttemptAt);
  out.lease_owner = get_text(r, row, d::kLeaseOwner);
  out.lease_until = get_opt(r, row, d::kLeaseUntil);
  out.fence = get_num(r, row, d::kFence);
  out.last_status = static_cast<int>(get_num(r, row, d::kLastStatus));
  out.last_error = get_text(r, row, d::kLastError);
  return out;
}

std::vector<Delivery> read_deliveries(const PGresult* r) {
  std::vector<Delivery> out;
  out.reserve(static_cast<std::size_t>(PQntuples(r)));
  for (int i = 0; i < PQntuples(r); ++i) out.push_back(read_delivery(r, i));
  return out;
}

void bind_row(Params& p, const Operation& op) {
  columns::for_each([&](int, const auto& c) { bind(p, c, op.*c.member); });
}

std::string insert_values() {
  std::string out;
  columns::for_each([&](int i, const auto& c) {
    if (i) out += ", ";
    out += '$' + std::to_string(i + 1) + "::" + sql_type(c);
  });
  return out;
}

std::string listing_columns() {
  return columns::listing_names([](const auto& c) { return std::string("NULL::") + sql_type(c); });
}

std::string get_text(const PGresult* r, int row, int col) {
  return std::string(get_view(r, row, col));
}

std::optional<std::int64_t> get_opt(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  const char* v = PQgetvalue(r, row, col);
  std::int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r, row, col), out);
  return out;
}

std::int64_t get_num(const PGresult* r, int row, int col) {
  return get_opt(r, row, col).value_or(0);
}

std::string get_bytes(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return {};
  std::size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col)), &n);
  if (!raw) return {};
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

int affected(const PGresult* r) {
  const char* n = PQcmdTuples(const_cast<PGresult*>(r));
  int out = 0;
  if (n) std::from_chars(n, n + std::strlen(n), out);
  return out;
}

}  // namespace lrogate::store::postgres
