// The native long-running-operation API (Azure REST API guidelines: status
// monitor, list, cancel; RFC 7240 long-poll; idempotent submits).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/long_poll.h"
#include "api/replies.h"
#include "api/routes.h"
#include "api/submit.h"
#include "base/ids.h"
#include "base/json_check.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "http/router.h"

namespace lrogate::api {
namespace {

bool valid_document_url(const std::string& url) {
  return url.size() <= 8192 && http::http_origin(url).has_value();
}

std::optional<http::Response> check_id(const std::string& id) {
  if (valid_operation_id(id)) return std::nullopt;
  return invalid_operation_id();
}

void get_operation(ApiContext& ctx, http::Request&& req, const http::Params& params,
                   http::Responder respond) {
  const std::string& id = params.at("id");
  if (auto bad = check_id(id)) return respond(std::move(*bad));
  if (ctx.limiter.rate() > 0) {
    if (auto limited = admit_poll(ctx.limiter, poll_key(req.principal, id))) {
      return respond(std::move(*limited));
    }
  }
  read_or_wait(
      ctx, req, id, std::move(respond),
      [&ctx, id, tenant = req.principal](Found op, Applied applied, http::Responder respond) {
        auto reply = with_preference_applied(std::move(respond), applied);
        if (!op || op->tenant != tenant) {
          return reply(error_reply(404, "NotFound", "no operation with this id"));
        }
        http::Response res = status_monitor(*op, ctx.retry_after_s());
        res.log_operation_id = id;
        respond_retrieved(ctx, *op, std::move(res), reply);
      });
}

// Runs on store_work (both this and delete_operation read and write the store).
void list_operations(ApiContext& ctx, http::Request&& req, const http::Params&,
                     http::Responder respond) {
  auto query = read_listing_query(
      req.query, [](std::string_view v) { return core::parse_status(v).has_value(); },
      "NotStarted, Running, Succeeded, Failed or Canceled");
  if (auto* bad = std::get_if<http::Response>(&query)) return respond(std::move(*bad));
  const auto& q = std::get<ListingQuery>(query);
  std::optional<core::Status> status;
  if (!q.status.empty()) status = core::parse_status(q.status);
  auto page = ctx.service.list(req.principal, status, q.top, q.skip_token);
  if (!page) {
    if (page.error().code == ErrorCode::kInvalidArgument) {
      return respond(error_reply(page.error(), "InvalidSkipToken"));
    }
    return respond(store_unavailable(page.error()));
  }
  boost::json::array value;
  for (const auto& op : page->items) {
    boost::json::object o{{"id", op.id},
                          {"kind", core::kind_name(op.kind)},
                          {"analyzerId", op.analyzer_id},
                          {"status", core::status_name(op.status)},
                          {"createdDateTime", json::iso8601(op.created_at)},
                          {"lastUpdatedDateTime", json::iso8601(op.updated_at)}};
    if (!op.error_code.empty()) {
      o["error"] = boost::json::object{{"code", op.error_code}, {"message", op.error_message}};
    }
    value.push_back(std::move(o));
  }
  boost::json::object body{{"value", std::move(value)}};
  if (!page->next_token.empty()) {
    body["nextLink"] = next_link(ctx.config.public_base_url, "/operations", q,
                                 status ? core::status_name(*status) : "", page->next_token);
  }
  respond(http::json_response(200, boost::json::serialize(body)));
}

void delete_operation(ApiContext& ctx, const http::Request& req, const http::Params& params,
                      http::Responder respond) {
  const std::string& id = params.at("id");
  if (auto bad = check_id(id)) return respond(std::move(*bad));
  auto owner = ctx.service.find(id);
  if (!owner) return respond(store_unavailable(owner.error()));
  if (!owner.value() || owner.value()->tenant != req.principal) {
    return respond(error_reply(404, "NotFound", "no operation with this id"));
  }
  auto r = ctx.service.cancel(id);
  if (!r) return respond(store_unavailable(r.error()));
  switch (r.value()) {
    case core::CancelOutcome::kNotFound:
      return respond(error_reply(404, "NotFound", "no operation with this id"));
    case core::CancelOutcome::kCanceled: {
      log::info("state", {{"operation_id", id}, {"to", "Canceled"}, {"by", "client"}});
      auto op = ctx.service.find(id);
      if (op && op.value()) return respond(status_monitor(*op.value(), ctx.retry_after_s()));
      return respond(http::json_response(200, "{}"));
    }
    case core::CancelOutcome::kPurged: {
      http::Response res;
      res.status = 204;
      res.content_type.clear();
      return respond(std::move(res));
    }
  }
}

// The fields of a native submit, read from a body json::check() accepted.
struct NativeSubmit {
  std::optional<std::string> analyzer_id;
  std::optional<std::string> document_url;
  std::optional<std::string_view> input;  // the object's bytes as sent
  std::optional<std::string> callback_url;
  bool malformed = false;  // a known field of the wrong type
};

std::optional<std::string> string_value(std::string_view bytes) {
  auto v = json::parse(bytes);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

NativeSubmit read_native_submit(std::string_view body) {
  NativeSubmit n;
  for (const auto& m : json::top_level_members(body)) {
    if (m.key == "analyzerId") {
      n.analyzer_id = string_value(m.value);
      n.malformed = n.malformed || !n.analyzer_id;
    } else if (m.key == "documentUrl") {
      n.document_url = string_value(m.value);
      n.malformed = n.malformed || !n.document_url;
    } else if (m.key == "callbackUrl") {
      n.callback_url = string_value(m.value);
      n.malformed = n.malformed || !n.callback_url;
    } else if (m.key == "input") {
      n.input = m.value;
      n.malformed = n.malformed || m.value.empty() || m.value.front() != '{';
    }
  }
  return n;
}

// Runs where with_submit_work runs its work.
void create_checked(ApiContext& ctx, std::shared_ptr<http::Request> req, http::Responder respond,
                    bool on_event_loop) {
  if (auto refused = json::check(req->body)) return respond(json_refused(*refused));
  NativeSubmit n = read_native_submit(req->body);
  if (!n.analyzer_id || n.malformed || n.input.has_value() == n.document_url.has_value()) {
    return respond(error_reply(400, "InvalidRequest",
                               "the body must be {\"analyzerId\": ..., \"input\": {...}} or "
                               "{\"analyzerId\": ..., \"documentUrl\": \"https://...\"}"));
  }
  SubmitInput in;
  in.tenant = req->principal;
  in.analyzer_id = *n.analyzer_id;
  in.request_id = req->request_id;
  in.tags = call_tags(*req);
  in.content_type = "application/json";
  if (n.document_url) {
    // The upstream's own shape for "analyze the document at this URL".
    if (!valid_document_url(*n.document_url)) {
      return respond(error_reply(400, "InvalidDocumentUrl",
                                 "documentUrl must be an absolute http(s) URL of at most 8 KiB"));
    }
    in.body = ctx.pool.document_url_body(*n.document_url);
  }
  if (auto bad = read_idempotency_key(*req, &in.idempotency_key)) return respond(std::move(*bad));
  std::optional<std::string_view> callback;
  if (n.callback_url) callback = *n.callback_url;
  if (auto bad = read_callback(ctx, *req, callback, &in.callback_url)) {
    return respond(std::move(*bad));
  }
  if (n.input) {
    // Forwarded byte for byte, never re-serialised: the input's bytes are
    // cut out of the body in place (no second copy of a large one).
    std::size_t start = static_cast<std::size_t>(n.input->data() - req->body.data());
    std::size_t size = n.input->size();
    in.body = std::move(req->body);
    in.body.resize(start + size);
    in.body.erase(0, start);
    in.body_checked = true;
  }
  in.reuse = wants_reuse(ctx, *req);
  bool repeatability = !req->header("repeatability-request-id").empty();
  submit_operation(
      ctx, std::move(in),
      [&ctx, respond, repeatability](SubmitOutcome o) {
        if (o.error) return respond(std::move(*o.error));
        auto op = ctx.service.find(o.operation_id);
        http::Response res = op && op.value()
                                 ? status_monitor(*op.value(), ctx.retry_after_s())
                                 : http::json_response(200, "{\"id\":\"" + o.operation_id + "\"}");
        res.status = 202;
        res.set("Operation-Location",
                public_url(ctx.config.public_base_url, "/operations/" + o.operation_id));
        if (repeatability) res.set("Repeatability-Result", "accepted");
        if (o.reused) res.set("Preference-Applied", "reuse");
        res.log_operation_id = o.operation_id;
        respond(std::move(res));
      },
      on_event_loop);
}

void create_operation(ApiContext& ctx, http::Request&& req, http::Responder respond) {
  std::size_t size = req.body.size();
  auto shared_req = std::make_shared<http::Request>(std::move(req));
  with_submit_work(ctx, size, respond, [&ctx, shared_req, respond](bool on_loop) {
    create_checked(ctx, shared_req, respond, on_loop);
  });
}

}  // namespace

void add_operation_routes(http::Router& router, ApiContext& ctx) {
  router.add("POST", "/operations", "Start an operation (native route)",
             [&ctx](http::Request&& req, const http::Params&, http::Responder r) {
               create_operation(ctx, std::move(req), std::move(r));
             });
  router.add("GET", "/operations", "List the caller's operations, newest first",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               auto shared = std::make_shared<http::Request>(std::move(req));
               with_store(ctx, r,
                          [&ctx, shared, p, r] { list_operations(ctx, std::move(*shared), p, r); });
             });
  router.add("GET", "/operations/{id}", "Status monitor of an operation",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               get_operation(ctx, std::move(req), p, std::move(r));
             });
  router.add("DELETE", "/operations/{id}", "Cancel a running operation or purge a final one",
             [&ctx](http::Request&& req, const http::Params& p, http::Responder r) {
               auto shared = std::make_shared<http::Request>(std::move(req));
               with_store(ctx, r, [&ctx, shared, p, r] { delete_operation(ctx, *shared, p, r); });
             });
}

}  // namespace lrogate::api
