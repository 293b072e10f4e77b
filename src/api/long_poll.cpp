#include "api/long_poll.h"

#include <atomic>
#include <cctype>

#include "api/replies.h"
#include "base/metrics.h"
#include "base/strings.h"

namespace lrogate::api {

std::optional<std::chrono::milliseconds> prefer_wait(const http::Request& req,
                                                     std::chrono::milliseconds cap) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  // RFC 7240: preferences are comma-separated `token [BWS "=" BWS word]`,
  // names case-insensitive, a word a token or a quoted string. A wait after
  // a ';' (a parameter, strictly) counts too: "respond-async; wait=10".
  for (const auto& h : req.headers) {
    if (h.name != "prefer") continue;
    std::string_view prefer = h.value;
    while (!prefer.empty()) {
      std::size_t end = prefer.find_first_of(",;");
      std::string_view tok = prefer.substr(0, end);
      prefer.remove_prefix(end == std::string_view::npos ? prefer.size() : end + 1);
      std::size_t eq = tok.find('=');
      if (eq == std::string_view::npos || !iequals(trim(tok.substr(0, eq)), "wait")) continue;
      std::string_view value = trim(tok.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      if (auto n = parse_digits(value, 9)) {
        return std::min(std::chrono::milliseconds(*n * 1000), cap);
      }
    }
  }
  return std::nullopt;
}

http::Responder with_preference_applied(http::Responder respond, Applied applied) {
  if (!applied) return respond;
  std::string value = "wait=" + std::to_string(applied->count() / 1000);
  return [inner = std::move(respond), value](http::Response r) {
    r.set("Preference-Applied", value);
    inner(std::move(r));
  };
}

namespace {

using Read = Result<Found>;

Read found_of(Result<std::optional<core::Operation>> r) {
  if (!r) return r.error();
  if (!r.value()) return Found();
  return Found(std::make_shared<const core::Operation>(std::move(*r.value())));
}

// Reads id from the read cache when it holds it (no I/O: fine on an event
// loop), else on ctx.store_work; `then` runs once, on either thread.
template <class Then>
void read_then(ApiContext& ctx, const std::string& id, Then then) {
  if (Found op = ctx.service.cached(id)) return then(Read(std::move(op)));
  if (!ctx.store_work) return then(found_of(ctx.service.find(id)));
  auto shared = std::make_shared<Then>(std::move(then));
  bool queued =
      ctx.store_work->try_post([&ctx, id, shared] { (*shared)(found_of(ctx.service.find(id))); });
  if (!queued) (*shared)(make_error(ErrorCode::kUnavailable, "too many store calls are waiting"));
}

struct Wait {
  std::atomic<bool> done{false};
  std::chrono::milliseconds wait{0};
  core::Notifier::Token token = 0;
  LongPollAnswer answer;
  http::Responder respond;
};

// Runs on the notifying thread (the poller's, the PostgreSQL listener's) or
// the timer's: it reads nothing there itself.
void finish(ApiContext& ctx, const std::shared_ptr<Wait>& w, const std::string& id) {
  if (w->done.exchange(true)) return;
  metrics::set_long_poll_waiters(static_cast<double>(ctx.service.notifier().waiters()));
  read_then(ctx, id, [w](Read found) {
    if (!found) return w->respond(store_unavailable(found.error()));
    w->answer(std::move(found).value(), w->wait, std::move(w->respond));
  });
}

}  // namespace

void read_or_wait(ApiContext& ctx, const http::Request& req, const std::string& id,
                  http::Responder respond, LongPollAnswer answer) {
  auto wait = prefer_wait(req, ctx.config.max_wait_header);
  if (!wait || wait->count() == 0 || !ctx.after) {
    return read_then(
        ctx, id,
        [respond = std::move(respond), answer = std::move(answer), wait](Read found) mutable {
          if (!found) return respond(store_unavailable(found.error()));
          answer(std::move(found).value(), wait, std::move(respond));
        });
  }
  auto w = std::make_shared<Wait>();
  w->wait = *wait;
  w->answer = std::move(answer);
  w->respond = std::move(respond);
  // Subscribe before reading: a completion in between still wakes us.
  w->token = ctx.service.notifier().subscribe(id, [&ctx, w, id] { finish(ctx, w, id); });
  read_then(ctx, id, [&ctx, w, id](Read found) {
    if (!found || !found.value() || core::is_terminal(found.value()->status)) {
      if (!ctx.service.notifier().unsubscribe(id, w->token)) return;  // notified meanwhile
      w->done = true;
      if (!found) return w->respond(store_unavailable(found.error()));
      return w->answer(std::move(found).value(), w->wait, std::move(w->respond));
    }
    metrics::set_long_poll_waiters(static_cast<double>(ctx.service.notifier().waiters()));
    ctx.after(w->wait, [&ctx, w, id] {
      if (ctx.service.notifier().unsubscribe(id, w->token)) finish(ctx, w, id);
    });
  });
}

}  // namespace lrogate::api
