// The SQLite schema: versioned migrations, counted by PRAGMA user_version
// (docs/design.md, "SQLite").
#pragma once

#include <sqlite3.h>

#include "base/result.h"

namespace lrogate::store::sqlite {

// Brings the database on `db` (the writer connection, which the caller
// holds) to the latest schema, each missing migration in its own
// transaction. A schema newer than this build knows is refused
// (kInvalidArgument).
Result<void> migrate(sqlite3* db);

}  // namespace lrogate::store::sqlite
