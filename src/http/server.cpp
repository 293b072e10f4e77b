// The only TU with Beast's server side. Follows the 2023 form of Beast's
// server-flex-awaitable example: a listener coroutine, one coroutine per
// connection owning its stream and buffer, a deadline on every read/write.
#include "http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <cstdio>
#include <system_error>
#include <thread>
#include <utility>

#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/thread_annotations.h"
#include "http/framing.h"

namespace lrogate::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
using Parser = bhttp::request_parser<bhttp::string_body>;

// A connection over max_connections (in the probe reserve) gets this long at
// most for its one request's header.
constexpr std::chrono::milliseconds kProbeHeaderTimeout{2'000};
// After an answer that closes, what the peer still sends is read and dropped
// for this long (and up to kLingerBytes) so that closing does not reset the
// connection before the peer has read the answer (nginx's lingering close).
constexpr std::chrono::milliseconds kLingerTimeout{1'000};
constexpr std::size_t kLingerBytes = 256u << 10;

// Counts one open connection from its accept to the end of its session (the
// coroutine frame owns it, so it is given back even if the session never runs).
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::atomic<std::size_t>& open) : open_(&open) {}
  ConnectionSlot(ConnectionSlot&& other) noexcept : open_(std::exchange(other.open_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (open_) --*open_;
  }

 private:
  std::atomic<std::size_t>* open_;
};

// Names what failed in a TLS file without its contents: `what` and the path,
// then the reason (OpenSSL's, or the system's when the file cannot be opened).
Error tls_file_error(std::string_view what, const std::string& path, const std::string& reason) {
  return make_error(ErrorCode::kInvalidArgument,
                    "cannot load the TLS " + std::string(what) + " '" + path + "': " + reason);
}

Result<void> check_readable(std::string_view what, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return tls_file_error(what, path, std::generic_category().message(errno));
  std::fclose(f);
  return {};
}

// A server context (TLS 1.2+) with the certificate chain and key of these
// PEM files. Blocks while it reads them.
Result<std::shared_ptr<asio::ssl::context>> load_tls_context(const std::string& cert_file,
                                                             const std::string& key_file) {
  if (auto r = check_readable("certificate", cert_file); !r) return r.error();
  if (auto r = check_readable("key", key_file); !r) return r.error();
  std::shared_ptr<asio::ssl::context> ctx;
  try {
    ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  } catch (const boost::system::system_error& e) {
    return make_error(ErrorCode::kInternal, std::string("cannot make a TLS context: ") + e.what());
  }
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1,
                   ec);
  if (ec) return make_error(ErrorCode::kInternal, "cannot set TLS options: " + ec.message());
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) return tls_file_error("certificate", cert_file, ec.message());
  // Also checks that the key belongs to the certificate ("key values mismatch").
  ctx->use_private_key_file(key_file, asio::ssl::context::pem, ec);
  if (ec) return tls_file_error("key", key_file, ec.message());
  return ctx;
}

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& opt, Handler handler) : opt_(opt), handler_(std::move(handler)) {
    int n = std::max(1, opt.threads);
    for (int i = 0; i < n; ++i) {
      ctxs_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(asio::make_work_guard(*ctxs_.back()));
    }
    acceptor_.emplace(*ctxs_[0]);
    signals_.emplace(*ctxs_[0], SIGINT, SIGTERM, SIGHUP);
  }

  Result<void> listen() {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(opt_.host, ec);
    if (ec)
      return make_error(ErrorCode::kInvalidArgument, "invalid listen address '" + opt_.host + "'");
    tcp::endpoint ep(addr, opt_.port);
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return make_error(
          ErrorCode::kUnavailable,
          "cannot listen on " + opt_.host + ":" + std::to_string(opt_.port) + ": " + ec.message());
    }
    if (opt_.tls_cert_file.empty() != opt_.tls_key_file.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "a TLS certificate and key go together: set both or neither");
    }
    if (!opt_.tls_cert_file.empty()) {
      auto ctx = load_tls_context(opt_.tls_cert_file, opt_.tls_key_file);
      if (!ctx) return ctx.error();
      MutexLock lock(mu_);
      tls_ = std::move(ctx).value();
    }
    return {};
  }

  Result<void> reload_tls() override {
    if (opt_.tls_cert_file.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "the listener does not serve TLS");
    }
    auto ctx = load_tls_context(opt_.tls_cert_file, opt_.tls_key_file);
    if (!ctx) return ctx.error();
    // Connections accepted before keep their own reference to the old one.
    MutexLock lock(mu_);
    tls_ = std::move(ctx).value();
    return {};
  }

  std::uint16_t port() const override { return acceptor_->local_endpoint().port(); }

  void run() override {
    asio::co_spawn(*ctxs_[0], accept_loop(), asio::detached);
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < ctxs_.size(); ++i) {
      threads.emplace_back([this, i] { ctxs_[i]->run(); });
    }
    ctxs_[0]->run();
    for (auto& t : threads) t.join();
  }

  void stop(std::chrono::milliseconds drain) override {
    asio::post(*ctxs_[0], [this, drain] {
      if (stopping_.exchange(true)) return;
      boost::system::error_code ec;
      acceptor_->close(ec);
      signals_->cancel(ec);
      auto deadline = std::chrono::steady_clock::now() + drain;
      auto timer = std::make_shared<asio::steady_timer>(*ctxs_[0]);
      auto check = std::make_shared<std::function<void()>>();
      *check = [this, timer, deadline, check] {
        if (inflight_.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
          for (auto& g : guards_) g.reset();
          for (auto& c : ctxs_) c->stop();
          *check = nullptr;  // break the self-reference
          return;
        }
        timer->expires_after(std::chrono::milliseconds(10));
        timer->async_wait([check](boost::system::error_code) {
          if (*check) (*check)();
        });
      };
      (*check)();
    });
  }

  void post_after(std::chrono::milliseconds delay, std::function<void()> fn) override {
    auto t = std::make_shared<asio::steady_timer>(*ctxs_[0], delay);
    t->async_wait([t, fn = std::move(fn)](boost::system::error_code ec) {
      if (!ec) fn();
    });
  }

  void on_signal(std::function<void(int)> fn) override {
    signals_->async_wait([this, fn = std::move(fn)](boost::system::error_code ec, int sig) {
      if (ec) return;
      fn(sig);
      if (!stopping_) on_signal(fn);  // keep listening (SIGHUP reloads)
    });
  }

 private:
  asio::awaitable<void> accept_loop() {
    std::size_t next = 0;
    for (;;) {
      auto& ctx = *ctxs_[next++ % ctxs_.size()];
      auto [ec, sock] = co_await acceptor_->async_accept(ctx, kTuple);
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) co_return;
        // Out of file descriptors and the like: back off instead of spinning.
        asio::steady_timer t(*ctxs_[0], std::chrono::milliseconds(50));
        co_await t.async_wait(kTuple);
        continue;
      }
      // Counted here, not in the session, so a burst of accepts sees itself.
      std::size_t open = connections_.fetch_add(1);
      ConnectionSlot slot(connections_);
      bool probe = open >= opt_.max_connections;
      if (probe && open - opt_.max_connections >= opt_.probe_reserve) {
        boost::system::error_code cec;
        sock.close(cec);  // past the probe reserve: not even read
        continue;
      }
      asio::co_spawn(ctx, session(std::move(sock), std::move(slot), probe),
                     [](std::exception_ptr e) {
                       if (!e) return;
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         log::error("connection failed", {{"detail", ex.what()}});
                       }
                     });
    }
  }

  // `probe`: the connection is in the probe reserve (see ServerOptions).
  asio::awaitable<void> session(tcp::socket sock, [[maybe_unused]] ConnectionSlot slot,
                                bool probe) {
    boost::system::error_code ec;
    auto ep = sock.remote_endpoint(ec);
    std::string remote = ec ? std::string("?") : ep.address().to_string();
    beast::tcp_stream stream(std::move(sock));
    // Held for the connection's life: a reload does not pull it away.
    if (std::shared_ptr<asio::ssl::context> ssl = tls_context()) {
      beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), *ssl);
      beast::get_lowest_layer(tls).expires_after(header_timeout(probe));
      auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::server, kTuple);
      if (hec) co_return;
      co_await serve(tls, true, std::move(remote), probe);
    } else {
      co_await serve(stream, false, std::move(remote), probe);
    }
  }

  // The context new connections use; null without TLS.
  std::shared_ptr<asio::ssl::context> tls_context() {
    MutexLock lock(mu_);
    return tls_;
  }

  std::chrono::milliseconds header_timeout(bool probe) const {
    return probe ? std::min(opt_.header_timeout, kProbeHeaderTimeout) : opt_.header_timeout;
  }

  bool is_probe_path(std::string_view path) const {
    return std::find(opt_.probe_paths.begin(), opt_.probe_paths.end(), path) !=
           opt_.probe_paths.end();
  }

  // Writes the error answer, then closes the connection (lingering).
  // parser: the request being read, if any (its header decorates the answer).
  template <class Stream>
  asio::awaitable<void> write_error(Stream& stream, int status, std::string_view code,
                                    std::string_view message, const Parser* parser = nullptr) {
    Response res = json_response(status, json::error_body(code, message));
    res.close = true;
    if (parser && opt_.decorate_own_answer) {
      Request head;
      head.method = std::string(parser->get().method_string());
      head.target = std::string(parser->get().target());
      head.path = head.target.substr(0, head.target.find('?'));
      for (const auto& f : parser->get()) {
        head.headers.push_back({to_lower(f.name_string()), std::string(f.value())});
      }
      opt_.decorate_own_answer(head, res);
    }
    std::string buf;
    if (co_await write(stream, res, false, false, buf)) co_await linger_close(stream);
  }

  template <class Stream>
  asio::awaitable<void> write_error(Stream& stream, const ErrorAnswer& answer,
                                    const Parser* parser = nullptr) {
    co_await write_error(stream, answer.status, answer.code, answer.message, parser);
  }

  // Half-closes, then reads and drops what the peer still sends until it
  // closes too (or kLingerTimeout, kLingerBytes), so that the kernel does not
  // answer unread bytes with a reset that may destroy the answer in flight.
  template <class Stream>
  asio::awaitable<void> linger_close(Stream& stream) {
    auto& low = beast::get_lowest_layer(stream);
    boost::system::error_code ec;
    low.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    low.expires_after(kLingerTimeout);
    std::array<char, 4096> sink;
    for (std::size_t total = 0; total < kLingerBytes;) {
      auto [rec, n] = co_await low.async_read_some(asio::buffer(sink), kTuple);
      if (rec) break;
      total += n;
    }
  }

  // One connection's requests, in order, until one closes it. A probe
  // connection (past max_connections) serves one request to a probe path and
  // answers anything else 503.
  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, bool tls, std::string remote, bool probe) {
    beast::flat_buffer buf;
    // Reused from request to request (cleared, capacity kept): a keep-alive
    // connection's polls allocate no new request or response head.
    Request req;
    std::string out;
    auto& low = beast::get_lowest_layer(stream);
    const auto head_timeout = header_timeout(probe);
    bool first = true;
    for (;;) {
      if (buf.size() == 0) {
        // Waiting for a request to begin: the idle (keep-alive) deadline.
        low.expires_after(first ? head_timeout : opt_.idle_timeout);
        auto [ec, n] = co_await stream.async_read_some(buf.prepare(4096), kTuple);
        if (ec) co_return;
        buf.commit(n);
      }
      first = false;
      Parser parser;
      parser.header_limit(static_cast<std::uint32_t>(opt_.max_header));
      parser.body_limit(boost::none);  // this request's limit is set once its head is read
      low.expires_after(head_timeout);
      auto [hec, hn] = co_await bhttp::async_read_header(stream, buf, parser, kTuple);
      if (hec) {
        co_await answer_read_error(stream, hec, parser, true, 0);
        co_return;
      }
      // Before any body byte is read, so a refused request's body never
      // runs as the next request (framing.h).
      if (auto err = check_framing(head_of(parser))) {
        co_await write_error(stream, answer_for(*err), &parser);
        co_return;
      }
      std::string_view target = parser.get().target();
      std::string_view path = target.substr(0, target.find('?'));
      if (probe && !is_probe_path(path)) {
        co_await write_error(stream, 503, "ServerBusy", "too many connections; retry later",
                             &parser);
        co_return;
      }
      if (!parser.is_done()) {
        bool read = co_await read_body(stream, buf, parser, path);
        if (!read) co_return;
      }
      auto breq = parser.release();
      fill_request(breq, req);
      req.remote = remote;
      req.tls = tls;
      bool keep_alive = breq.keep_alive() && !probe;
      bool head = breq.method() == bhttp::verb::head;

      bool ok = false;
      {
        ++inflight_;
        struct Dec {
          std::atomic<std::size_t>& n;
          ~Dec() { --n; }
        } dec{inflight_};
        Response res = co_await call_handler(req);
        keep_alive = keep_alive && !res.close && !stopping_;
        ok = co_await write(stream, res, keep_alive, head, out);
      }
      if (!ok) co_return;
      if (!keep_alive) {
        co_await linger_close(stream);
        co_return;
      }
    }
  }

  // Reads the body of the request whose head `parser` holds, within the
  // limit for its method and path; false: answered (413, 408, 400) or gone.
  template <class Stream>
  asio::awaitable<bool> read_body(Stream& stream, beast::flat_buffer& buf, Parser& parser,
                                  std::string_view path) {
    std::size_t limit =
        opt_.body_limit ? opt_.body_limit(parser.get().method_string(), path) : opt_.max_body;
    // Beast compares a Content-Length with its body limit only while it reads
    // the head, so this request's own limit is checked here, before the body.
    if (auto cl = parser.content_length(); cl && *cl > limit) {
      co_await answer_read_error(stream, bhttp::error::body_limit, parser, false, limit);
      co_return false;
    }
    parser.body_limit(limit);  // chunked: Beast counts each chunk against it
    auto& low = beast::get_lowest_layer(stream);
    if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
      low.expires_after(opt_.write_timeout);
      auto [cec, cn] = co_await bhttp::async_write(stream, cont, kTuple);
      if (cec) co_return false;
    }
    low.expires_after(opt_.body_timeout);
    auto [bec, bn] = co_await bhttp::async_read(stream, buf, parser, kTuple);
    if (bec) {
      co_await answer_read_error(stream, bec, parser, false, limit);
      co_return false;
    }
    co_return true;
  }

  template <class Stream>
  asio::awaitable<void> answer_read_error(Stream& stream, boost::system::error_code ec,
                                          const Parser& parser, bool in_header,
                                          std::size_t body_limit) {
    if (ec == beast::error::timeout) {
      co_await write_error(
          stream, 408, "RequestTimeout",
          in_header ? "request header not received in time" : "request body not received in time",
          &parser);
      co_return;
    }
    auto answer = answer_for_parse_error(ec, head_of(parser), opt_.max_header, body_limit);
    if (answer) co_await write_error(stream, *answer, &parser);
  }

  // Copies a parsed request into `req`, reusing its strings' capacity. The
  // body is moved, not copied.
  template <class Message>
  static void fill_request(Message& breq, Request& req) {
    req.method.assign(breq.method_string());
    req.target.assign(breq.target());
    std::string_view target = req.target;
    auto q = target.find('?');
    req.path.assign(target.substr(0, q));
    req.query.assign(q == std::string_view::npos ? std::string_view() : target.substr(q + 1));
    std::size_t n = 0;
    for (const auto& f : breq) {
      if (n == req.headers.size()) req.headers.emplace_back();
      Header& h = req.headers[n++];
      std::string_view name = f.name_string();
      h.name.resize(name.size());
      std::transform(name.begin(), name.end(), h.name.begin(), [](char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      });
      h.value.assign(f.value());
    }
    req.headers.resize(n);
    req.body = std::move(breq.body());
    req.principal.clear();
    req.request_id.clear();
    req.client_request_id.clear();
    req.traceparent.clear();
  }

  // Calls the handler with req (which stays alive, in the connection's frame,
  // until the answer is written) and resumes with its answer, on this
  // connection's executor, whichever thread answered.
  asio::awaitable<Response> call_handler(Request& req) {
    auto ex = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Response)>(
        [this, &req, ex](auto handler) {
          using H = decltype(handler);
          // One allocation holds the completion and its once-flag.
          struct Pending {
            explicit Pending(H&& h) : handler(std::move(h)) {}
            H handler;
            std::atomic<bool> done{false};
          };
          auto p = std::make_shared<Pending>(std::move(handler));
          Responder respond = [p, ex](Response res) {
            if (p->done.exchange(true)) return;
            asio::post(ex, [p, res = std::move(res)]() mutable { p->handler(std::move(res)); });
          };
          try {
            handler_(std::move(req), respond);
          } catch (const std::exception& e) {
            log::error("handler threw", {{"detail", e.what()}});
            respond(json_response(500, json::error_body("InternalError", "internal error")));
          }
        },
        asio::use_awaitable);
  }

  // Writes r's head (serialized into `buf`, which the connection reuses) and
  // body in one gathered write. Both stay alive in the caller's frame until
  // the write completes.
  template <class Stream>
  asio::awaitable<bool> write(Stream& stream, const Response& r, bool keep_alive, bool head,
                              std::string& buf) {
    buf.clear();
    append_response_head(r, keep_alive, buf);
    std::string_view body = head ? std::string_view() : std::string_view(r.body);
    auto& low = beast::get_lowest_layer(stream);
    low.expires_after(opt_.write_timeout);
    if (r.fault.trickle.count() > 0 || r.fault.cut_after > 0) {
      buf.append(body);
      co_return co_await write_with_fault(stream, buf, r.fault);
    }
    std::array<asio::const_buffer, 2> parts{asio::buffer(buf), asio::buffer(body)};
    auto [ec, n] = co_await asio::async_write(stream, parts, kTuple);
    co_return !ec;
  }

  template <class Stream>
  asio::awaitable<bool> write_with_fault(Stream& stream, const std::string& raw,
                                         const WriteFault& fault) {
    std::size_t limit = fault.cut_after > 0 ? std::min(fault.cut_after, raw.size()) : raw.size();
    std::size_t piece = fault.trickle.count() > 0 ? 16 : limit;
    auto& low = beast::get_lowest_layer(stream);
    for (std::size_t off = 0; off < limit; off += piece) {
      std::size_t n = std::min(piece, limit - off);
      auto [ec, w] = co_await asio::async_write(stream, asio::buffer(raw.data() + off, n), kTuple);
      if (ec) co_return false;
      if (fault.trickle.count() > 0) {
        asio::steady_timer t(co_await asio::this_coro::executor, fault.trickle);
        co_await t.async_wait(kTuple);
      }
    }
    if (fault.cut_after > 0) {
      boost::system::error_code ec;
      low.socket().set_option(asio::socket_base::linger(true, 0), ec);
      low.socket().close(ec);
      co_return false;
    }
    co_return true;
  }

  ServerOptions opt_;
  Handler handler_;
  std::vector<std::unique_ptr<asio::io_context>> ctxs_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::signal_set> signals_;
  Mutex mu_;
  std::shared_ptr<asio::ssl::context> tls_ GUARDED_BY(mu_);  // null without TLS
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> inflight_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace

Result<std::unique_ptr<Server>> Server::create(const ServerOptions& options, Handler handler) {
  auto s = std::make_unique<ServerImpl>(options, std::move(handler));
  if (auto r = s->listen(); !r) return r.error();
  return std::unique_ptr<Server>(std::move(s));
}

}  // namespace lrogate::http
