// Store calls off the event loops (docs/design.md, "Threads"): handlers and
// client callbacks hand them to ctx.store_work and answer from there.
#include "api/replies.h"
#include "api/routes.h"
#include "base/log.h"

namespace lrogate::api {

void with_store(ApiContext& ctx, const http::Responder& respond, std::function<void()> work) {
  if (!ctx.store_work) return work();
  if (ctx.store_work->try_post(std::move(work))) return;
  http::Response r =
      error_reply(503, "ServerBusy", "too many store calls are waiting; retry shortly");
  r.set("Retry-After", "1");
  respond(std::move(r));
}

void store_later(ApiContext& ctx, const char* what, std::function<void()> work) {
  if (!ctx.store_work) return work();
  if (!ctx.store_work->try_post(std::move(work))) {
    log::warn("store call dropped: too many waiting", {{"call", what}});
  }
}

void store_must(ApiContext& ctx, const char* what, std::function<void()> work) {
  if (!ctx.store_work) return work();
  // Past the queue's bound too: these are bounded by the submits in flight.
  auto copy = work;  // post drops what it refuses
  if (ctx.store_work->post(std::move(work))) return;
  // Only once store_work has stopped (the end of a drain): nothing else
  // would record what the upstream accepted.
  log::warn("store work stopped: running a store call in place", {{"call", what}});
  copy();
}

void respond_retrieved(ApiContext& ctx, const core::Operation& op, http::Response res,
                       const http::Responder& respond) {
  if (!core::is_terminal(op.status) || op.retrieved_at) return respond(std::move(res));
  with_store(ctx, respond, [&ctx, op, res = std::move(res), respond]() mutable {
    if (auto r = ctx.service.note_retrieved(op); !r) {
      log::warn("cannot record retrieval", {{"operation_id", op.id}, {"detail", r.error().detail}});
    }
    respond(std::move(res));
  });
}

}  // namespace lrogate::api
