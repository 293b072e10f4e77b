// The PostgreSQL backend (libpq), for several replicas sharing one state.
//
// A small pool of connections serves the calls; each statement is prepared
// once per connection. A connection lost (server restart, network) is
// reopened on next use and the statement tried once more; while the server
// cannot be reached every call fails with kUnavailable. Claims use
// `FOR UPDATE SKIP LOCKED`, so replicas never claim the same record; every
// completion NOTIFYs its id, and a listener connection turns those
// notifications (from every replica) into Change calls; progress,
// retrievals and deletions notify on a second channel for the read caches.
#pragma once

#include <memory>
#include <string>

#include "store/operation_store.h"

namespace lrogate::store::postgres {

// `url`: a libpq connection URI, postgresql://user[:password]@host:port/db.
// Applies the schema migrations (under an advisory lock, so replicas that
// start together migrate once).
Result<std::unique_ptr<OperationStore>> open(const std::string& url);

}  // namespace lrogate::store::postgres
