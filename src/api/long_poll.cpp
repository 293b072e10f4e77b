#include "api/long_poll.h"

#include <atomic>
#include <cctype>

#include "api/replies.h"
#include "base/metrics.h"
#include "base/strings.h"

namespace lrogate::api {

std::optional<std::chrono::milliseconds> prefer_wait(const http::Request& req,
                                                     std::chrono::milliseconds cap) {
  std::string_view prefer = req.header("prefer");
  // Preferences are comma- or semicolon-separated tokens: "wait=10, return=minimal".
  std::size_t i = 0;
  while (i < prefer.size()) {
    std::size_t end = prefer.find_first_of(",;", i);
    if (end == std::string_view::npos) end = prefer.size();
    std::string_view tok = prefer.substr(i, end - i);
    while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
    while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
    if (tok.size() > 5 && (tok.substr(0, 5) == "wait=" || tok.substr(0, 5) == "Wait=")) {
      if (auto n = parse_digits(tok.substr(5), 9)) {
        return std::min(std::chrono::milliseconds(*n * 1000), cap);
      }
    }
    i = end + 1;
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

struct Wait {
  std::atomic<bool> done{false};
  std::chrono::milliseconds wait{0};
  core::Notifier::Token token = 0;
  LongPollAnswer answer;
  http::Responder respond;
};

void finish(ApiContext& ctx, const std::shared_ptr<Wait>& w, const std::string& id) {
  if (w->done.exchange(true)) return;
  metrics::set_long_poll_waiters(static_cast<double>(ctx.service.notifier().waiters()));
  auto found = ctx.service.find(id);
  if (!found) {
    w->respond(store_unavailable(found.error()));
    return;
  }
  w->answer(std::move(found).value(), w->wait);
}

}  // namespace

void read_or_wait(ApiContext& ctx, const http::Request& req, const std::string& id,
                  const http::Responder& respond, LongPollAnswer answer) {
  auto wait = prefer_wait(req, ctx.config.max_wait_header);
  if (!wait || wait->count() == 0 || !ctx.after) {
    auto found = ctx.service.find(id);
    if (!found) return respond(store_unavailable(found.error()));
    return answer(std::move(found).value(), wait);
  }
  auto w = std::make_shared<Wait>();
  w->wait = *wait;
  w->answer = std::move(answer);
  w->respond = respond;
  // Subscribe before reading: a completion in between still wakes us.
  w->token = ctx.service.notifier().subscribe(id, [&ctx, w, id] { finish(ctx, w, id); });
  auto found = ctx.service.find(id);
  if (!found || !found.value() || core::is_terminal(found.value()->status)) {
    if (!ctx.service.notifier().unsubscribe(id, w->token)) return;  // notified meanwhile
    w->done = true;
    if (!found) return respond(store_unavailable(found.error()));
    return w->answer(std::move(found).value(), w->wait);
  }
  metrics::set_long_poll_waiters(static_cast<double>(ctx.service.notifier().waiters()));
  ctx.after(*wait, [&ctx, w, id] {
    if (ctx.service.notifier().unsubscribe(id, w->token)) finish(ctx, w, id);
  });
}

}  // namespace lrogate::api
