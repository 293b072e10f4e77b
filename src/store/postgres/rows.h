// An operation record to and from a PostgreSQL row, by the shared column
// list (store/columns.h): reading the row every whole-record statement
// returns, binding the INSERT's parameters, and the SQL types both need.
// Also the readers of single values the store's other answers use.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/operation_record.h"
#include "store/operation_store.h"
#include "store/postgres/params.h"

namespace lrogate::store::postgres {

// Row `row` of `r`, its columns in columns::kColumns order.
Operation read_row(const PGresult* r, int row);
std::vector<Operation> read_rows(const PGresult* r);

// Row `row` of `r`, a delivery, its columns in deliveries::kNames order.
Delivery read_delivery(const PGresult* r, int row);
std::vector<Delivery> read_deliveries(const PGresult* r);

// Every column of `op`, in list order: the INSERT's $1..$N.
void bind_row(Params& p, const Operation& op);
// "$1::text, $2::text, ...": those parameters, each cast to its column's type.
std::string insert_values();
// The SELECT list of a listing: columns::names(), with a NULL of the
// column's type for each column a listing leaves out.
std::string listing_columns();

// One value; NULL reads as empty, nullopt or 0.
std::string get_text(const PGresult* r, int row, int col);
std::optional<std::int64_t> get_opt(const PGresult* r, int row, int col);
std::int64_t get_num(const PGresult* r, int row, int col);
// A bytea column (text format, hex or escape), unescaped.
std::string get_bytes(const PGresult* r, int row, int col);
// The rows a command touched (PQcmdTuples).
int affected(const PGresult* r);

}  // namespace lrogate::store::postgres
