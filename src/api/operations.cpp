// The native status monitor (Azure REST API guidelines, long-running operations).
#include "api/replies.h"
#include "api/routes.h"
#include "base/ids.h"
#include "base/log.h"

namespace lrogate::api {
namespace {

void get_operation(ApiContext& ctx, const http::Params& params, http::Responder respond) {
  const std::string& id = params.at("id");
  if (!valid_operation_id(id)) {
    respond(error_reply(400, "InvalidOperationId",
                        "the operation id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"));
    return;
  }
  if (Millis wait = ctx.limiter.admit(id); wait > 0) {
    respond(too_many_polls(wait, "too many polls of this operation: the limit is " +
                                     std::to_string(ctx.limiter.rate()) + " per second"));
    return;
  }
  auto found = ctx.service.find(id);
  if (!found) {
    respond(store_unavailable(found.error()));
    return;
  }
  if (!found.value()) {
    respond(error_reply(404, "NotFound", "no operation with this id"));
    return;
  }
  const core::Operation& op = *found.value();
  http::Response res = status_monitor(op, ctx.retry_after_s());
  if (core::is_terminal(op.status)) {
    if (auto r = ctx.service.note_retrieved(op); !r) {
      log::warn("cannot record retrieval", {{"operation_id", id}, {"detail", r.error().detail}});
    }
  }
  respond(std::move(res));
}

}  // namespace

void add_operation_routes(http::Router& router, ApiContext& ctx) {
  router.add("GET", "/operations/{id}", "Status monitor of an operation",
             [&ctx](http::Request&&, const http::Params& p, http::Responder r) {
               get_operation(ctx, p, std::move(r));
             });
}

}  // namespace lrogate::api
