// Long-poll (RFC 7240 `Prefer: wait=N`) for any status GET: the answer comes
// as soon as the operation reaches a final state, or after N seconds (capped
// by --max-wait-header). A waiter costs a map entry and a timer, no thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "api/routes.h"
#include "core/operation.h"
#include "http/message.h"

namespace lrogate::api {

// The N of `Prefer: wait=N` capped at `cap`; nullopt when not asked.
std::optional<std::chrono::milliseconds> prefer_wait(const http::Request& req,
                                                     std::chrono::milliseconds cap);

// Reads the operation now, or later as described above, and calls answer once
// with what it read (null: unknown; the read cache's record is shared, not
// copied), the wait it applied, if any, and `respond`. A store failure
// answers 503 through `respond` instead. The read comes from the read cache
// when it holds the record, else from ctx.store_work: `answer` may run on an
// I/O thread or a store thread, so it must not block on the store itself
// (store_later for writes).
using Applied = std::optional<std::chrono::milliseconds>;
using Found = std::shared_ptr<const core::Operation>;
using LongPollAnswer = std::function<void(Found, Applied, http::Responder)>;

// Adds Preference-Applied: wait=N when a wait was applied (RFC 7240).
http::Responder with_preference_applied(http::Responder respond, Applied applied);
void read_or_wait(ApiContext& ctx, const http::Request& req, const std::string& id,
                  http::Responder respond, LongPollAnswer answer);

}  // namespace lrogate::api
