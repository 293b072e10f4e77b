// An operation record to and from a SQLite row, by the shared column list
// (store/columns.h): the row every whole-record statement reads, and the
// INSERT's parameters.
#pragma once

#include <sqlite3.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/operation_record.h"
#include "store/operation_store.h"
#include "store/sqlite/connection.h"

namespace lrogate::store::sqlite {

// The row `s` stands on, its columns in columns::kColumns order.
Operation read_row(sqlite3_stmt* s);

// Steps `st` to its end: every row it yields, read as a record; a failure
// is db_error(`what`).
Result<std::vector<Operation>> read_rows(Stmt& st, std::string_view what);

// Steps a `DELETE ... RETURNING status` to its end: how many rows of each
// status it deleted, their sum added to *total.
Result<std::map<std::string, int>> read_statuses(Stmt& st, std::string_view what, int* total);

// The delivery row `s` stands on, its columns in deliveries::kNames order;
// and every row `st` yields, read so (a failure is db_error(`what`)).
Delivery read_delivery(sqlite3_stmt* s);
Result<std::vector<Delivery>> read_deliveries(Stmt& st, std::string_view what);

// Binds every column of `op` to the INSERT's parameters ?1..?N.
void bind_row(Stmt& s, const Operation& op);

}  // namespace lrogate::store::sqlite
