// The PostgreSQL schema: versioned migrations, counted in
// lrogate_schema.version (docs/design.md, "PostgreSQL").
#pragma once

#include <libpq-fe.h>

#include "base/result.h"

namespace lrogate::store::postgres {

// Brings the database on `conn` (an open connection the caller holds) to
// the latest schema, each missing migration in its own transaction, under
// an advisory lock so replicas starting together wait for each other
// instead of racing. A schema newer than this build knows is refused
// (kInvalidArgument).
Result<void> migrate(PGconn* conn);

}  // namespace lrogate::store::postgres
