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
#include <thread>

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
    breq.keep_alive(false);

    auto deadline = std::chrono::steady_clock::now() + req.timeout;
    auto left = [&] {
      return std::max(std::chrono::steady_clock::duration::zero(),
                      deadline - std::chrono::steady_clock::now());
    };
    tcp::resolver resolver(ctx_);
    // The resolver has no deadline of its own; a numeric host resolves at once.
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, kTuple);
    if (rec) co_return classify(rec, "resolve");
    beast::tcp_stream stream(ctx_);
    stream.expires_after(left());
    auto [cec, ep] = co_await stream.async_connect(endpoints, kTuple);
    if (cec) co_return classify(cec, "connect");
    if (!tls) co_return co_await exchange(stream, breq, req.max_body, left());

    beast::ssl_stream<beast::tcp_stream> ss(std::move(stream), ssl_);
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
    co_return co_await exchange(ss, breq, req.max_body, left());
  }

  template <class Stream>
  asio::awaitable<ClientResult> exchange(Stream& stream, bhttp::request<bhttp::string_body>& breq,
                                         std::size_t max_body,
                                         std::chrono::steady_clock::duration left) {
    beast::get_lowest_layer(stream).expires_after(left);
    auto [wec, wn] = co_await bhttp::async_write(stream, breq, kTuple);
    if (wec) co_return classify(wec, "write");
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_body);
    parser.header_limit(64 * 1024);
    auto [rec, rn] = co_await bhttp::async_read(stream, buf, parser, kTuple);
    if (rec) co_return classify(rec, "read");
    auto res = parser.release();
    ClientResult out;
    out.response.emplace();
    out.response->status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      out.response->headers.push_back({to_lower(f.name_string()), std::string(f.value())});
    }
    out.response->body = std::move(res.body());
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
    co_return out;
  }

  asio::io_context ctx_{1};
  asio::ssl::context ssl_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Client>> Client::create(const ClientOptions& options) {
  auto c = std::make_unique<ClientImpl>();
  if (auto r = c->init(options); !r) return r.error();
  return std::unique_ptr<Client>(std::move(c));
}

}  // namespace lrogate::http
