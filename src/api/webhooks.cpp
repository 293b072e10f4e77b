// The webhook outbox as its tenants see it (docs/design.md, "Completion
// webhooks"): the caller's deliveries, newest first, filtered by status
// (the dead letters are ?status=failed), one of them with its attempts, and
// an operator's redelivery of a failed one. Every route reads the store:
// on store_work.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <variant>

#include "api/replies.h"
#include "api/routes.h"
#include "base/ids.h"
#include "base/json_util.h"
#include "base/strings.h"

namespace lrogate::api {
namespace {

// Delivery ids are "msg_" + an operation id: the same characters.
// "msg_" + an operation id, then for a tenant's endpoint "~" + 12 hex
// digits (core::OperationService::set_events).
bool valid_delivery_id(std::string_view id) {
  if (id.size() <= 4 || id.substr(0, 4) != "msg_") return false;
  std::string_view op = id.substr(4);
  if (auto tilde = op.find('~'); tilde != std::string_view::npos) {
    std::string_view hex = op.substr(tilde + 1);
    if (hex.size() != 12 || hex.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
      return false;
    }
    op = op.substr(0, tilde);
  }
  return valid_operation_id(std::string(op));
}

boost::json::object delivery_json(const store::Delivery& d) {
  boost::json::object o{{"id", d.id},
                        {"operationId", d.operation_id},
                        {"url", d.url},
                        {"status", store::delivery_status_name(d.status)},
                        {"attempts", d.attempts},
                        {"createdDateTime", json::iso8601(d.created_at)},
                        {"lastUpdatedDateTime", json::iso8601(d.updated_at)}};
  if (d.status == store::DeliveryStatus::kPending) {
    o["nextAttemptDateTime"] = json::iso8601(d.next_attempt_at);
  }
  if (d.last_status != 0) o["lastResponseStatus"] = d.last_status;
  if (!d.last_error.empty()) o["lastError"] = d.last_error;
  return o;
}

http::Response no_delivery() {
  return error_reply(404, "NotFound", "no webhook delivery with this id");
}

void list_deliveries(ApiContext& ctx, const http::Request& req, http::Responder respond) {
  auto query = read_listing_query(
      req.query, [](std::string_view v) { return store::parse_delivery_status(v).has_value(); },
      "pending, delivered or failed");
  if (auto* bad = std::get_if<http::Response>(&query)) return respond(std::move(*bad));
  const auto& q = std::get<ListingQuery>(query);
  std::optional<store::DeliveryStatus> status;
  if (!q.status.empty()) status = store::parse_delivery_status(q.status);
  auto page = ctx.service.list_deliveries(req.principal, status, q.top, q.skip_token);
  if (!page) {
    if (page.error().code == ErrorCode::kInvalidArgument) {
      return respond(error_reply(page.error(), "InvalidSkipToken"));
    }
    return respond(store_unavailable(page.error()));
  }
  boost::json::array value;
  for (const auto& d : page->items) value.push_back(delivery_json(d));
  boost::json::object body{{"value", std::move(value)}};
  if (!page->next_token.empty()) {
    body["nextLink"] =
        next_link(ctx.config.public_base_url, "/webhooks/deliveries", q,
                  status ? store::delivery_status_name(*status) : "", page->next_token);
  }
  respond(http::json_response(200, boost::json::serialize(body)));
}

// The caller's delivery `id`, or the answer to give instead.
std::variant<store::Delivery, http::Response> own_delivery(ApiContext& ctx,
                                                           const http::Request& req,
                                                           const std::string& id) {
  if (!valid_delivery_id(id)) {
    return error_reply(400, "InvalidDeliveryId",
                       "a delivery id is msg_ and an operation id, for a tenant's endpoint then ~ "
                       "and 12 hex digits");
  }
  auto d = ctx.service.find_delivery(id);
  if (!d) return store_unavailable(d.error());
  if (!d.value() || d.value()->tenant != req.principal) return no_delivery();
  return std::move(*d.value());
}

void get_delivery(ApiContext& ctx, const http::Request& req, const std::string& id,
                  http::Responder respond) {
  auto d = own_delivery(ctx, req, id);
  if (auto* r = std::get_if<http::Response>(&d)) return respond(std::move(*r));
  respond(http::json_response(200,
                              boost::json::serialize(delivery_json(std::get<store::Delivery>(d)))));
}

void redeliver(ApiContext& ctx, const http::Request& req, const std::string& id,
               http::Responder respond) {
  auto d = own_delivery(ctx, req, id);
  if (auto* r = std::get_if<http::Response>(&d)) return respond(std::move(*r));
  auto done = ctx.service.redeliver(id);
  if (!done) return respond(store_unavailable(done.error()));
  if (!done.value()) {
    return respond(error_reply(
        409, "DeliveryNotFailed",
        "only a failed delivery can be redelivered; this one is " +
            std::string(store::delivery_status_name(std::get<store::Delivery>(d).status))));
  }
  auto now = ctx.service.find_delivery(id);
  if (!now || !now.value()) return respond(no_delivery());
  http::Response res =
      http::json_response(202, boost::json::serialize(delivery_json(*now.value())));
  respond(std::move(res));
}

}  // namespace

void add_webhook_routes(http::Router& router, ApiContext& ctx) {
  router.add("GET", "/webhooks/deliveries",
             "The caller's webhook deliveries, newest first (status=failed: the dead letters)",
             [&ctx](http::Request&& req, const http::Params&, http::Responder r) {
               auto shared = std::make_shared<http::Request>(std::move(req));
               with_store(ctx, r, [&ctx, shared, r] { list_deliveries(ctx, *shared, r); });
             });
  router.add("GET", "/webhooks/deliveries/{id}", "One webhook delivery and its last attempt",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               auto shared = std::make_shared<http::Request>(std::move(req));
               with_store(ctx, r, [&ctx, shared, id = p.at("id"), r] {
                 get_delivery(ctx, *shared, id, r);
               });
             });
  router.add("POST", "/webhooks/deliveries/{id}:redeliver",
             "Send a failed webhook delivery again (its receiver enabled again)",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               auto shared = std::make_shared<http::Request>(std::move(req));
               with_store(ctx, r,
                          [&ctx, shared, id = p.at("id"), r] { redeliver(ctx, *shared, id, r); });
             });
}

}  // namespace lrogate::api
