// The only TU with Beast's client side and TLS verification.
//
// Connections per origin: every connection to an origin (in use, idle, being
// opened, or handed to a waiter that has not resumed yet) holds one slot of
// Origin::open, which never exceeds the cap. A run() coroutine holds its slot
// in a Claim on its frame, so every way out of it (answer, error, timeout,
// exception, destruction at shutdown) gives the slot back exactly once.
// Everything here runs on ctx_'s one thread: no locks.
#include "http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/url/parse.hpp>
#include <cstdint>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/strings.h"

namespace lrogate::http {

const char* failure_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone:
      return "none";
    case FailureKind::kBadUrl:
      return "bad_url";
    case FailureKind::kConnect:
      return "connect";
    case FailureKind::kTls:
      return "tls";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kReset:
      return "reset";
    case FailureKind::kTooLarge:
      return "too_large";
    case FailureKind::kProtocol:
      return "protocol";
  }
  return "unknown";
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// The body points at ClientRequest::body or *shared_body, both owned by the
// run() frame: a 64 MiB submit body is never copied.
using BeastRequest = bhttp::request<bhttp::span_body<const char>>;

ClientResult fail(FailureKind kind, std::string message) {
  ClientResult r;
  r.failure = kind;
  r.error = std::move(message);
  return r;
}

ClientResult classify(boost::system::error_code ec, std::string_view stage) {
  std::string where(stage);
  if (ec == beast::error::timeout)
    return fail(FailureKind::kTimeout, "upstream timed out during " + where);
  if (ec == bhttp::error::body_limit)
    return fail(FailureKind::kTooLarge, "upstream response body too large");
  if (ec.category() == asio::error::get_ssl_category() ||
      ec.category() == asio::ssl::error::get_stream_category()) {
    if (stage == "read" || stage == "write") {
      return fail(FailureKind::kReset, "upstream TLS connection broke during " + where);
    }
    std::string reason = ec.message();
    return fail(FailureKind::kTls, "upstream TLS handshake failed: " + reason);
  }
  if (stage == "resolve" || stage == "connect") {
    return fail(FailureKind::kConnect, "cannot connect to upstream: " + ec.message());
  }
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == bhttp::error::partial_message ||
      ec == asio::error::broken_pipe) {
    return fail(FailureKind::kReset, "upstream connection closed during " + where);
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
    return fail(FailureKind::kProtocol, "upstream sent a malformed HTTP response");
  }
  return fail(FailureKind::kReset,
              "upstream connection failed during " + where + ": " + ec.message());
}

Clock::duration left_until(Clock::time_point deadline) {
  return std::max(Clock::duration::zero(), deadline - Clock::now());
}

class ClientImpl final : public Client {
 public:
  ClientImpl() : ssl_(asio::ssl::context::tls_client), guard_(asio::make_work_guard(ctx_)) {}

  Result<void> init(const ClientOptions& opt) {
    cap_ = std::max<std::size_t>(1, opt.max_connections_per_origin);
    max_waiters_ = opt.max_waiters_per_origin;
    allow_address_ = opt.allow_address;
    boost::system::error_code ec;
    ssl_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    ssl_.set_default_verify_paths(ec);
    if (!opt.ca_file.empty()) {
      ssl_.load_verify_file(opt.ca_file, ec);
      if (ec) {
        return make_error(ErrorCode::kInvalidArgument,
                          "cannot load --upstream-ca-file: " + ec.message());
      }
    }
    ssl_.set_verify_mode(asio::ssl::verify_peer);
    thread_ = std::thread([this] { ctx_.run(); });
    return {};
  }

  ~ClientImpl() override {
    shutdown();
    // The coroutines still pending are destroyed with ctx_ (declared after
    // origins_, so destroyed first); their Claims then only count their slots
    // back. Idle sockets must close while ctx_ still exists.
    stopped_ = true;
    sweep_.cancel();
    for (auto& entry : origins_) entry.second.idle.clear();
  }

  void send(ClientRequest request, std::function<void(ClientResult)> done) override {
    asio::co_spawn(ctx_, run(std::move(request)),
                   [done = std::move(done)](std::exception_ptr e, ClientResult r) {
                     if (e) r = fail(FailureKind::kProtocol, "upstream request failed");
                     done(std::move(r));
                   });
  }

  void post_after(std::chrono::milliseconds delay, std::function<void()> fn) override {
    auto t = std::make_shared<asio::steady_timer>(ctx_, delay);
    t->async_wait([t, fn = std::move(fn)](boost::system::error_code ec) {
      if (!ec) fn();
    });
  }

  void post(std::function<void()> fn) override { asio::post(ctx_, std::move(fn)); }

  void shutdown() override {
    if (thread_.joinable()) {
      guard_.reset();
      ctx_.stop();
      thread_.join();
    }
  }

 private:
  struct Exchanged {
    ClientResult result;
    bool reusable = false;      // the connection can carry another request
    bool nothing_back = false;  // it failed before any byte of an answer came
  };

  // A connection kept open between requests to one origin.
  struct Conn {
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    Clock::time_point idle_since;
    std::uint64_t idle_ticket = 0;  // names one idle period, for its readability watch
    beast::tcp_stream& tcp() { return plain ? *plain : beast::get_lowest_layer(*tls); }
  };
  using ConnPtr = std::unique_ptr<Conn>;
  struct Origin;

  // One run()'s claim on a slot of its origin's cap, and the connection it
  // uses. Linked into Origin::waiters while it waits in line for a slot.
  struct Claim : boost::intrusive::list_base_hook<> {
    Claim(ClientImpl& c, Origin& o) : client(c), origin(o) {}
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;
    ~Claim() {
      if (is_linked()) origin.waiters.erase(origin.waiters.iterator_to(*this));
      client.release(*this, false);
    }
    ClientImpl& client;
    Origin& origin;
    bool held = false;  // counted in origin.open
    ConnPtr conn;       // null: none yet (a held slot then means leave to open one)
    std::optional<asio::steady_timer> timer;  // only while waiting: the deadline, or a grant
  };

  // Per (scheme, host, port). Entries are never erased (an origin comes from
  // the configuration, so there are few), so references to them stay valid.
  struct Origin {
    std::size_t open = 0;       // slots held: <= cap_
    std::vector<ConnPtr> idle;  // oldest first (by idle_since)
    // First come, first served. Non-empty only while open == cap_ and idle is
    // empty: release() hands a slot to the first waiter before anything else.
    boost::intrusive::list<Claim> waiters;
  };

  static constexpr std::chrono::seconds kIdleLimit{15};  // below common server keep-alive timeouts

  // Fast path: a kept-alive connection, or room under the cap to open one.
  bool claim_now(Origin& o, Claim& claim) {
    claim.conn = take_idle(o);
    if (!claim.conn) {
      if (o.open >= cap_) return false;
      ++o.open;
    }
    claim.held = true;
    return true;
  }

  // Slow path: waits in line for a slot until the deadline. Returns the
  // failure, or nothing once claim holds a slot (with a connection or not).
  asio::awaitable<std::optional<ClientResult>> wait_in_line(Origin& o, Claim& claim,
                                                            Clock::time_point deadline) {
    if (o.waiters.size() >= max_waiters_) {
      co_return fail(FailureKind::kConnect, "too many calls waiting for an upstream connection");
    }
    claim.timer.emplace(ctx_, deadline);
    o.waiters.push_back(claim);
    // Woken by grant()'s cancel() or by the deadline; `held` tells which,
    // even when both happened before this resumes.
    co_await claim.timer->async_wait(kTuple);
    if (claim.is_linked()) o.waiters.erase(o.waiters.iterator_to(claim));
    if (claim.held && Clock::now() < deadline) co_return std::nullopt;
    release(claim, true);  // a slot granted too late goes on to the next in line
    co_return fail(FailureKind::kTimeout,
                   "upstream timed out waiting for a free connection (--max-upstream-connections)");
  }

  // Gives claim's slot back (once; no-op when it holds none). A reusable
  // connection goes to the first waiter, else idle; a closed one (or none)
  // becomes the first waiter's leave to open a connection, else frees the slot.
  void release(Claim& claim, bool reusable) {
    if (!claim.held) return;
    claim.held = false;
    Origin& o = claim.origin;
    ConnPtr c = std::move(claim.conn);
    if (!reusable || stopped_) c.reset();
    if (stopped_) {
      --o.open;
    } else if (!o.waiters.empty()) {
      grant(o, std::move(c));
    } else if (c) {
      put_idle(o, std::move(c));
    } else {
      --o.open;
    }
  }

  // A slot whose connection closed (idle, peer gone or stale).
  void free_slot(Origin& o) {
    if (!o.waiters.empty()) {
      grant(o, nullptr);
    } else {
      --o.open;
    }
  }

  // The slot (and c, if any) passes to the first waiter; the count is unchanged.
  void grant(Origin& o, ConnPtr c) {
    Claim& w = o.waiters.front();
    o.waiters.pop_front();
    w.held = true;
    w.conn = std::move(c);
    w.timer->cancel();
  }

  // An idle connection that is still open, or null (the stale ones close).
  ConnPtr take_idle(Origin& o) {
    auto now = Clock::now();
    while (!o.idle.empty()) {
      ConnPtr c = std::move(o.idle.back());
      o.idle.pop_back();
      boost::system::error_code ec;
      c->tcp().socket().cancel(ec);  // ends the watch; its handler finds the ticket gone
      if (now - c->idle_since <= kIdleLimit) {
        // Second check: a FIN (or stray bytes) the watch has not reported yet.
        char probe;
        ssize_t n = ::recv(c->tcp().socket().native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return c;
      }
      c.reset();
      free_slot(o);
    }
    return nullptr;
  }

  // Keeps c for reuse and watches it: readable while idle means the peer
  // closed it (or sent bytes no request asked for), so it closes at once.
  void put_idle(Origin& o, ConnPtr c) {
    c->idle_since = Clock::now();
    c->idle_ticket = ++next_ticket_;
    c->tcp().expires_never();
    // A wait, not a read: the TLS state stays untouched.
    c->tcp().socket().async_wait(
        tcp::socket::wait_read,
        [this, &o, ticket = c->idle_ticket](boost::system::error_code) { close_idle(o, ticket); });
    o.idle.push_back(std::move(c));
    if (!sweep_armed_) arm_sweep(o.idle.back()->idle_since + kIdleLimit);
  }

  // The watch of one idle period fired. If that period goes on (the ticket is
  // still idle), the connection is unusable; otherwise it was taken or closed.
  void close_idle(Origin& o, std::uint64_t ticket) {
    if (stopped_) return;
    auto it = std::find_if(o.idle.begin(), o.idle.end(),
                           [ticket](const ConnPtr& c) { return c->idle_ticket == ticket; });
    if (it == o.idle.end()) return;
    o.idle.erase(it);
    free_slot(o);
  }

  // One timer for all origins, armed while any connection is idle, at the
  // earliest moment one passes kIdleLimit.
  void arm_sweep(Clock::time_point at) {
    sweep_armed_ = true;
    sweep_.expires_at(at);
    sweep_.async_wait([this](boost::system::error_code ec) {
      sweep_armed_ = false;
      if (!ec && !stopped_) sweep();
    });
  }

  void sweep() {
    auto now = Clock::now();
    std::optional<Clock::time_point> next;
    for (auto& entry : origins_) {
      Origin& o = entry.second;
      auto stale = std::find_if(o.idle.begin(), o.idle.end(), [now](const ConnPtr& c) {
        return now - c->idle_since < kIdleLimit;
      });
      auto closed = static_cast<std::size_t>(stale - o.idle.begin());
      o.idle.erase(o.idle.begin(), stale);
      for (std::size_t i = 0; i < closed; ++i) free_slot(o);
      if (!o.idle.empty()) {
        auto at = o.idle.front()->idle_since + kIdleLimit;
        if (!next || at < *next) next = at;
      }
    }
    if (next) arm_sweep(*next);
  }

  asio::awaitable<ClientResult> run(ClientRequest req) {
    auto url = boost::urls::parse_absolute_uri(req.url);
    if (!url) co_return fail(FailureKind::kBadUrl, "invalid upstream URL");
    std::string scheme(url->scheme());
    if (scheme != "http" && scheme != "https")
      co_return fail(FailureKind::kBadUrl, "unsupported URL scheme");
    bool tls = scheme == "https";
    std::string host(url->encoded_host());
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    std::string port = url->has_port() ? std::string(url->port()) : (tls ? "443" : "80");
    std::string target(url->encoded_path());
    if (target.empty()) target = "/";
    if (url->has_query()) target += "?" + std::string(url->encoded_query());

    BeastRequest breq{bhttp::string_to_verb(req.method), target, 11};
    std::string host_header(url->encoded_host());
    if (url->has_port()) host_header += ":" + port;
    breq.set(bhttp::field::host, host_header);
    breq.set(bhttp::field::user_agent, "lrogate/0.1");
    for (const auto& h : req.headers) breq.set(h.name, h.value);
    const std::string& body = req.shared_body ? *req.shared_body : req.body;
    breq.body() = {body.data(), body.size()};
    if (req.method != "GET" || !body.empty()) breq.prepare_payload();
    breq.keep_alive(true);

    // One deadline for all of it: the wait for a slot, connect, TLS, write, read.
    const auto deadline = Clock::now() + req.timeout;
    Origin& o = origins_[scheme + "://" + host + ":" + port];
    Claim claim(*this, o);
    if (!claim_now(o, claim)) {
      auto failed = co_await wait_in_line(o, claim, deadline);
      if (failed) co_return std::move(*failed);
    }
    // A kept-alive connection first. If the server dropped it before any
    // answer came back, an idempotent request is sent once more on a new
    // connection, in the same slot (anything else reports the failure: its
    // caller decides).
    if (claim.conn) {
      Exchanged ex = co_await exchange_on(*claim.conn, breq, req.max_body, left_until(deadline));
      const bool idempotent = req.method == "GET" || req.method == "HEAD";
      if (ex.reusable || !(ex.nothing_back && idempotent)) {
        release(claim, ex.reusable);
        co_return std::move(ex.result);
      }
      claim.conn.reset();
    }
    auto failed = co_await open_connection(claim.conn, tls, host, port, deadline);
    if (failed) co_return std::move(*failed);  // ~Claim frees the slot
    Exchanged ex = co_await exchange_on(*claim.conn, breq, req.max_body, left_until(deadline));
    release(claim, ex.reusable);
    co_return std::move(ex.result);
  }

  // Opens a connection (TCP, then TLS for https) into out. Returns the
  // failure, or nothing.
  asio::awaitable<std::optional<ClientResult>> open_connection(ConnPtr& out, bool tls,
                                                               const std::string& host,
                                                               const std::string& port,
                                                               Clock::time_point deadline) {
    tcp::resolver resolver(ctx_);
    // The resolver has no deadline of its own; a numeric host resolves at once.
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, kTuple);
    if (rec) co_return classify(rec, "resolve");
    std::vector<tcp::endpoint> allowed;
    for (const auto& e : endpoints) {
      if (!allow_address_ || allow_address_(e.endpoint().address().to_string())) {
        allowed.push_back(e.endpoint());
      }
    }
    if (allowed.empty()) co_return fail(FailureKind::kConnect, "the address is not allowed");
    beast::tcp_stream stream(ctx_);
    stream.expires_after(left_until(deadline));
    auto [cec, ep] = co_await stream.async_connect(allowed, kTuple);
    if (cec) co_return classify(cec, "connect");
    stream.socket().set_option(tcp::no_delay(true), cec);
    auto c = std::make_unique<Conn>();
    if (!tls) {
      c->plain.emplace(std::move(stream));
      out = std::move(c);
      co_return std::nullopt;
    }
    c->tls.emplace(std::move(stream), ssl_);
    auto& ss = *c->tls;
    if (!SSL_set_tlsext_host_name(ss.native_handle(), host.c_str())) {
      co_return fail(FailureKind::kTls, "cannot set TLS server name");
    }
    ss.set_verify_mode(asio::ssl::verify_peer);
    // OpenSSL checks the name itself, so a mismatch reads as a verify error.
    boost::system::error_code aec;
    asio::ip::make_address(host, aec);
    int named =
        aec ? SSL_set1_host(ss.native_handle(), host.c_str())
            : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ss.native_handle()), host.c_str());
    if (named != 1) co_return fail(FailureKind::kTls, "cannot set the TLS host name to verify");
    beast::get_lowest_layer(ss).expires_after(left_until(deadline));
    auto [hec] = co_await ss.async_handshake(asio::ssl::stream_base::client, kTuple);
    if (hec) {
      long verify = SSL_get_verify_result(ss.native_handle());
      if (verify != X509_V_OK) {
        co_return fail(FailureKind::kTls, std::string("upstream TLS certificate rejected: ") +
                                              X509_verify_cert_error_string(verify));
      }
      co_return classify(hec, "handshake");
    }
    out = std::move(c);
    co_return std::nullopt;
  }

  // (GCC 12 miscompiles co_await inside a conditional expression: if/else.)
  asio::awaitable<Exchanged> exchange_on(Conn& c, BeastRequest& breq, std::size_t max_body,
                                         Clock::duration left) {
    if (c.plain) co_return co_await exchange(*c.plain, breq, max_body, left);
    co_return co_await exchange(*c.tls, breq, max_body, left);
  }

  template <class Stream>
  asio::awaitable<Exchanged> exchange(Stream& stream, BeastRequest& breq, std::size_t max_body,
                                      Clock::duration left) {
    Exchanged ex;
    beast::get_lowest_layer(stream).expires_after(left);
    auto [wec, wn] = co_await bhttp::async_write(stream, breq, kTuple);
    if (wec) {
      ex.result = classify(wec, "write");
      ex.nothing_back = wec != asio::error::timed_out && wec != beast::error::timeout;
      co_return ex;
    }
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_body);
    parser.header_limit(64 * 1024);
    auto [rec, rn] = co_await bhttp::async_read(stream, buf, parser, kTuple);
    if (rec) {
      ex.result = classify(rec, "read");
      ex.nothing_back =
          rn == 0 && (rec == bhttp::error::end_of_stream || rec == asio::error::connection_reset ||
                      rec == asio::error::eof);
      co_return ex;
    }
    ex.reusable = parser.keep_alive() && buf.size() == 0;
    auto res = parser.release();
    ex.result.response.emplace();
    ex.result.response->status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      ex.result.response->headers.push_back({to_lower(f.name_string()), std::string(f.value())});
    }
    ex.result.response->body = std::move(res.body());
    if (!ex.reusable) {
      boost::system::error_code ec;
      beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
    }
    co_return ex;
  }

  asio::ssl::context ssl_;
  std::size_t cap_ = 128;             // per origin; constant after init()
  std::size_t max_waiters_ = 10'000;  // per origin; constant after init()
  std::function<bool(std::string_view)> allow_address_;  // constant after init()
  // The rest is touched only on ctx_'s thread (or after it has stopped).
  bool stopped_ = false;  // set by the destructor: release() then only counts
  std::uint64_t next_ticket_ = 0;
  // Declared before ctx_: the Claims in coroutines that ctx_ destroys use it.
  std::unordered_map<std::string, Origin> origins_;
  asio::io_context ctx_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  asio::steady_timer sweep_{ctx_};  // closes connections idle past kIdleLimit
  bool sweep_armed_ = false;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Client>> Client::create(const ClientOptions& options) {
  auto c = std::make_unique<ClientImpl>();
  if (auto r = c->init(options); !r) return r.error();
  return std::unique_ptr<Client>(std::move(c));
}

}  // namespace lrogate::http
