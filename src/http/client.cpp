// The only TU with Beast's client side and TLS verification.
#include "http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
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
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

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

class ClientImpl final : public Client {
 public:
  ClientImpl() : ssl_(asio::ssl::context::tls_client), guard_(asio::make_work_guard(ctx_)) {}

  Result<void> init(const ClientOptions& opt) {
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

  ~ClientImpl() override { shutdown(); }

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
    std::chrono::steady_clock::time_point idle_since;
    beast::tcp_stream& tcp() { return plain ? *plain : beast::get_lowest_layer(*tls); }
  };
  using ConnPtr = std::unique_ptr<Conn>;
  static constexpr std::chrono::seconds kIdleLimit{15};  // below common server keep-alive timeouts
  static constexpr std::size_t kMaxIdlePerOrigin = 512;

  // An idle connection to `origin` that is still open, or null.
  ConnPtr take_idle(const std::string& origin) {
    auto it = idle_.find(origin);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    auto now = std::chrono::steady_clock::now();
    while (!list.empty()) {
      ConnPtr c = std::move(list.back());
      list.pop_back();
      if (now - c->idle_since > kIdleLimit) continue;
      // The server may have closed it meanwhile: a FIN (or stray bytes)
      // waiting on the socket means it cannot carry a request.
      char probe;
      ssize_t n = ::recv(c->tcp().socket().native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return c;
    }
    return nullptr;
  }

  void put_idle(const std::string& origin, ConnPtr c) {
    auto& list = idle_[origin];
    if (list.size() >= kMaxIdlePerOrigin) return;  // closes it
    c->idle_since = std::chrono::steady_clock::now();
    c->tcp().expires_never();
    // Oldest first: the back is the most recently used (the likeliest alive).
    list.push_back(std::move(c));
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

    bhttp::request<bhttp::string_body> breq{bhttp::string_to_verb(req.method), target, 11};
    std::string host_header(url->encoded_host());
    if (url->has_port()) host_header += ":" + port;
    breq.set(bhttp::field::host, host_header);
    breq.set(bhttp::field::user_agent, "lrogate/0.1");
    for (const auto& h : req.headers) breq.set(h.name, h.value);
    breq.body() = std::move(req.body);
    if (req.method != "GET" || !breq.body().empty()) breq.prepare_payload();
    breq.keep_alive(true);

    auto deadline = std::chrono::steady_clock::now() + req.timeout;
    auto left = [&] {
      return std::max(std::chrono::steady_clock::duration::zero(),
                      deadline - std::chrono::steady_clock::now());
    };
    const std::string origin = scheme + "://" + host + ":" + port;
    const bool idempotent = req.method == "GET" || req.method == "HEAD";
    // A kept-alive connection first. If the server dropped it before any
    // answer came back, an idempotent request is sent once more on a new
    // connection (anything else reports the failure: its caller decides).
    if (ConnPtr c = take_idle(origin)) {
      Exchanged ex = co_await exchange_on(*c, breq, req.max_body, left());
      if (ex.reusable) put_idle(origin, std::move(c));
      if (!(ex.nothing_back && idempotent)) co_return std::move(ex.result);
    }

    auto c = std::make_unique<Conn>();
    tcp::resolver resolver(ctx_);
    // The resolver has no deadline of its own; a numeric host resolves at once.
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, kTuple);
    if (rec) co_return classify(rec, "resolve");
    beast::tcp_stream stream(ctx_);
    stream.expires_after(left());
    auto [cec, ep] = co_await stream.async_connect(endpoints, kTuple);
    if (cec) co_return classify(cec, "connect");
    stream.socket().set_option(tcp::no_delay(true), cec);
    if (!tls) {
      c->plain.emplace(std::move(stream));
    } else {
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
      beast::get_lowest_layer(ss).expires_after(left());
      auto [hec] = co_await ss.async_handshake(asio::ssl::stream_base::client, kTuple);
      if (hec) {
        long verify = SSL_get_verify_result(ss.native_handle());
        if (verify != X509_V_OK) {
          co_return fail(FailureKind::kTls, std::string("upstream TLS certificate rejected: ") +
                                                X509_verify_cert_error_string(verify));
        }
        co_return classify(hec, "handshake");
      }
    }
    Exchanged ex = co_await exchange_on(*c, breq, req.max_body, left());
    if (ex.reusable) put_idle(origin, std::move(c));
    co_return std::move(ex.result);
  }

  // (GCC 12 miscompiles co_await inside a conditional expression: if/else.)
  asio::awaitable<Exchanged> exchange_on(Conn& c, bhttp::request<bhttp::string_body>& breq,
                                         std::size_t max_body,
                                         std::chrono::steady_clock::duration left) {
    if (c.plain) co_return co_await exchange(*c.plain, breq, max_body, left);
    co_return co_await exchange(*c.tls, breq, max_body, left);
  }

  template <class Stream>
  asio::awaitable<Exchanged> exchange(Stream& stream, bhttp::request<bhttp::string_body>& breq,
                                      std::size_t max_body,
                                      std::chrono::steady_clock::duration left) {
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

  asio::io_context ctx_{1};
  asio::ssl::context ssl_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  // Idle keep-alive connections per origin; touched only on the I/O thread.
  std::unordered_map<std::string, std::vector<ConnPtr>> idle_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Client>> Client::create(const ClientOptions& options) {
  auto c = std::make_unique<ClientImpl>();
  if (auto r = c->init(options); !r) return r.error();
  return std::unique_ptr<Client>(std::move(c));
}

}  // namespace lrogate::http
