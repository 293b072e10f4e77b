// The operation record's columns: one list, shared by the SQLite and the
// PostgreSQL store, of the `operations` table's columns with the Operation
// member each one holds. Each store builds from it the column list of every
// statement that reads or writes a whole row (its SELECTs, `RETURNING`s and
// its INSERT) and reads a row by walking it (`sqlite/rows.cpp`,
// `postgres/rows.cpp`), so the statements and the readers cannot disagree
// on the order.
//
// A new column needs:
//   1. its member in `Operation` (store/operation_record.h);
//   2. a migration on each backend that adds it, with a default for the
//      rows already stored (sqlite/migrations.cpp, postgres/migrations.cpp);
//   3. its line in kColumns below (the position is free: it is the order of
//      the statements' column lists, not of the table).
// A member of a C++ type no column has yet also needs its reader and binder
// in each backend's rows.cpp (the compiler points there). The UPDATEs that
// change a column after its insert are each store's own statements.
// `EveryColumnRoundTrips` and `Columns.*SchemaHasExactlyTheListedColumns` in
// tests/unit/store/store_contract_test.cpp check both backends against the list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "base/result.h"
#include "store/operation_record.h"

namespace lrogate::store::columns {

// How a column is kept, beyond its member's type (flags, or-ed).
enum Flags : unsigned {
  kBytes = 1u << 0,      // a body kept byte for byte (BLOB, bytea), not text
  kNotListed = 1u << 1,  // list() leaves it out: it reads as NULL (empty) there
};

// One column: its name in the table and the member of Operation it holds.
// Members are std::string (text; empty is NULL), int, std::int64_t (Millis
// included), std::optional<std::int64_t> (unset is NULL), Status or Kind
// (kept as their names).
template <class T>
struct Column {
  constexpr Column(const char* n, T Operation::*m, unsigned f = 0) : name(n), member(m), flags(f) {}
  const char* name;
  T Operation::*member;
  unsigned flags;
  constexpr bool bytes() const { return (flags & kBytes) != 0; }
  constexpr bool listed() const { return (flags & kNotListed) == 0; }
};

inline constexpr std::tuple kColumns{
    Column{"id", &Operation::id},
    Column{"tenant", &Operation::tenant},
    Column{"analyzer_id", &Operation::analyzer_id},
    Column{"upstream_url", &Operation::upstream_url},
    Column{"status", &Operation::status},
    Column{"created_at", &Operation::created_at},
    Column{"updated_at", &Operation::updated_at},
    Column{"next_poll_at", &Operation::next_poll_at},
    Column{"poll_count", &Operation::poll_count},
    Column{"attempts", &Operation::attempts},
    Column{"lease_owner", &Operation::lease_owner},
    Column{"lease_until", &Operation::lease_until},
    Column{"result", &Operation::result, kBytes | kNotListed},
    Column{"result_type", &Operation::result_type},
    Column{"error_code", &Operation::error_code},
    Column{"error_message", &Operation::error_message},
    Column{"retrieved_at", &Operation::retrieved_at},
    Column{"expires_at", &Operation::expires_at},
    Column{"idempotency_key", &Operation::idempotency_key},
    Column{"fence", &Operation::fence},
    Column{"kind", &Operation::kind},
    Column{"resource", &Operation::resource},
    Column{"size_band", &Operation::size_band},
    Column{"callback_url", &Operation::callback_url},
    Column{"request_bytes", &Operation::request_bytes},
    Column{"reuse_key", &Operation::reuse_key},
};

inline constexpr int kCount = static_cast<int>(std::tuple_size_v<decltype(kColumns)>);

namespace detail {
template <class Fn, std::size_t... I>
constexpr void for_each_at(Fn& fn, std::index_sequence<I...>) {
  (fn(static_cast<int>(I), std::get<I>(kColumns)), ...);
}
}  // namespace detail

// Calls fn(i, column) for every column in list order, i counting from 0
// (the column's place in a SELECT list; its INSERT parameter is i + 1).
// Unrolled at compile time: a row reader is as direct as one written out.
template <class Fn>
constexpr void for_each(Fn&& fn) {
  detail::for_each_at(fn, std::make_index_sequence<std::tuple_size_v<decltype(kColumns)>>{});
}

// "id, tenant, ...": every column's name, in list order (a SELECT list, a
// RETURNING list, an INSERT's column list).
inline std::string names() {
  std::string out;
  for_each([&](int i, const auto& c) {
    if (i) out += ", ";
    out += c.name;
  });
  return out;
}

// The same for a listing: a column that list() leaves out is
// `null_of(column)` instead of its name (a NULL of the column's type in the
// backend's dialect), so a listing's rows read like any other.
template <class NullOf>
std::string listing_names(NullOf&& null_of) {
  std::string out;
  for_each([&](int i, const auto& c) {
    if (i) out += ", ";
    out += c.listed() ? std::string(c.name) : std::string(null_of(c));
  });
  return out;
}

// What a stored status or kind reads as; one the store does not know (a
// row written by a newer lrogate) reads as Running, or as an analysis.
inline Status status_from(std::string_view name) {
  return parse_status(name).value_or(Status::kRunning);
}
inline Kind kind_from(std::string_view name) { return parse_kind(name).value_or(Kind::kAnalysis); }

// Both stores' answer to an insert without its resource (`resource` is NOT
// NULL, and the empty string is bound as NULL: the constraint would read as
// a conflict).
inline Error no_resource(const Operation& op) {
  return make_error(ErrorCode::kInvalidArgument, "an operation needs the resource that accepted it",
                    op.id);
}

}  // namespace lrogate::store::columns
