// loadgen: an open-loop HTTP/1.1 load generator for the benchmarks (bench 3).
//
// Why open loop: a closed-loop client (N connections, each sending its next
// request when the previous answer arrives) slows down when the server does.
// A 50 ms stall then delays every request that would have been sent during it,
// and those requests are never measured at all: the server's worst moments are
// hidden in proportion to how bad they are ("coordinated omission"). Real
// clients do not wait for each other, so this one sends request i at
// t0 + i/rate whatever the answers do.
//
// Why latency from the scheduled time: the generator itself can fall behind
// (its thread was not on a core, or every connection was busy). Measured from
// the actual send, that delay would vanish too. Here latency is the last byte
// of the answer minus the moment the request was *due*, so the generator's own
// lateness counts against the figure, never in its favour; and that lateness
// (actual − scheduled send) is reported beside it, so a run in which the
// generator could not keep up shows as such.
//
// Connections: --connections keep-alive connections are opened before the
// first send. A request whose time comes while all are busy opens another (up
// to --max-connections); past that it waits for the first one to free and
// counts as `waited` (its latency still runs from its scheduled time). Every
// connect, write and read has a deadline (--timeout-ms). --warmup sends at
// the same rate first without counting, so the figures are a steady state's.
//
// One thread, one io_context. Targets loopback addresses only. Prints one
// JSON line on stdout; exit 0 when the run completed (errors are in the
// JSON), 1 when the first connections could not be opened, 2 on a bad flag.
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage = R"(usage: loadgen --url http://127.0.0.1:PORT/PATH [options]

Sends requests on a fixed schedule (request i at t0 + i/rate, open loop) over
keep-alive connections and prints one JSON line: count, status histogram,
latency p50/p90/p99/p999/max (ms, from each request's SCHEDULED send time to
the last byte of its answer), the generator's own send lateness p50/p99/max
(actual - scheduled send), and errors. Loopback targets only.

  --url URL              http://HOST:PORT/PATH; HOST must be a loopback address
                         (127.0.0.0/8, ::1, localhost)
  --method M             request method (default GET; POST when --body is given)
  --header 'K: V'        a request header (repeatable)
  --body TEXT            request body; Content-Type defaults to application/json
  --rate N               requests per second (default 1000)
  --seconds S            length of the measured schedule (default 5)
  --warmup S             first send S seconds at the same rate, not measured (default 0):
                         the target opens its own connections, fills its caches
  --connections N        keep-alive connections opened before the first send (default 16)
  --max-connections N    cap on open connections (default 512)
  --timeout-ms N         deadline for each connect, and for each request's
                         write + read (default 10000)
  --late-ms X            a send more than X ms after its time counts as late (default 1)
  --samples FILE         also write one line per request to FILE: index, scheduled
                         send (ms after the first measured one; warm-up < 0), send
                         lateness ms, latency ms, status
                         (-1: never sent / no answer; status 0: failed)
  --help                 this text

"{i}" in PATH or TEXT is replaced by the request's index (0, 1, ...), so each
request can be distinct (e.g. a different document URL per submit).
)";

struct Options {
  std::string host;
  unsigned short port = 80;
  std::string path = "/";
  std::string method;
  std::vector<std::string> headers;
  std::optional<std::string> body;
  double rate = 1000;
  double seconds = 5;
  double warmup = 0;
  int connections = 16;
  int max_connections = 512;
  std::chrono::milliseconds timeout{10'000};
  double late_ms = 1.0;
  std::string samples;
};

// Splits http://HOST:PORT/PATH into opt; returns an error text or "".
std::string parse_url(std::string_view url, Options& opt) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return "--url must start with http://";
  url.remove_prefix(kScheme.size());
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  opt.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "--url: unclosed [ in the host";
    opt.host = std::string(authority.substr(1, close - 1));
    if (authority.size() > close + 1 && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    opt.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (!port.empty()) {
    const int p = std::atoi(std::string(port).c_str());
    if (p <= 0 || p > 65535) return "--url: bad port";
    opt.port = static_cast<unsigned short>(p);
  }
  return "";
}

// Returns the options, or prints why not (or the usage) and sets exit_code.
std::optional<Options> parse_args(int argc, char** argv, int& exit_code) {
  Options opt;
  std::string url;
  auto fail = [&](const std::string& why) {
    std::cerr << "loadgen: " << why << " (see --help)\n";
    exit_code = 2;
    return std::nullopt;
  };
  using Set = std::function<void(const std::string&)>;
  auto number = [](const std::string& v) { return std::atof(v.c_str()); };
  const std::map<std::string, Set> flags = {
      {"--url", [&](const std::string& v) { url = v; }},
      {"--method", [&](const std::string& v) { opt.method = v; }},
      {"--header", [&](const std::string& v) { opt.headers.push_back(v); }},
      {"--body", [&](const std::string& v) { opt.body = v; }},
      {"--rate", [&](const std::string& v) { opt.rate = number(v); }},
      {"--seconds", [&](const std::string& v) { opt.seconds = number(v); }},
      {"--warmup", [&](const std::string& v) { opt.warmup = number(v); }},
      {"--connections", [&](const std::string& v) { opt.connections = std::atoi(v.c_str()); }},
      {"--max-connections",
       [&](const std::string& v) { opt.max_connections = std::atoi(v.c_str()); }},
      {"--timeout-ms",
       [&](const std::string& v) {
         opt.timeout = std::chrono::milliseconds(std::atoi(v.c_str()));
       }},
      {"--late-ms", [&](const std::string& v) { opt.late_ms = number(v); }},
      {"--samples", [&](const std::string& v) { opt.samples = v; }},
  };
  for (int k = 1; k < argc; ++k) {
    std::string name = argv[k];
    if (name == "--help" || name == "-h") {
      std::cout << kUsage;
      exit_code = 0;
      return std::nullopt;
    }
    std::string value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (k + 1 < argc) {
      value = argv[++k];
    } else {
      return fail(name + " needs a value");
    }
    const auto flag = flags.find(name);
    if (flag == flags.end()) return fail("unknown flag " + name);
    flag->second(value);
  }
  if (url.empty()) return fail("--url is required");
  if (auto why = parse_url(url, opt); !why.empty()) return fail(why);
  if (opt.method.empty()) opt.method = opt.body ? "POST" : "GET";
  if (!(opt.rate > 0 && opt.rate <= 1e6)) return fail("--rate must be in (0, 1e6]");
  if (!(opt.seconds > 0 && opt.warmup >= 0 && opt.rate * (opt.seconds + opt.warmup) <= 5e7))
    return fail("--seconds, --warmup: seconds > 0, warmup >= 0, rate*(seconds+warmup) <= 5e7");
  if (opt.connections < 1) return fail("--connections must be >= 1");
  if (opt.max_connections < opt.connections)
    return fail("--max-connections must be >= --connections");
  if (opt.timeout.count() <= 0) return fail("--timeout-ms must be > 0");
  return opt;
}

// The loopback endpoint named by opt, or an error text.
std::optional<tcp::endpoint> loopback_endpoint(const Options& opt, std::string& why) {
  beast::error_code ec;
  const auto addr = asio::ip::make_address(opt.host == "localhost" ? "127.0.0.1" : opt.host, ec);
  if (ec) {
    why = "host '" + opt.host + "' is not an IP address (loopback only: 127.0.0.1, ::1, localhost)";
    return std::nullopt;
  }
  if (!addr.is_loopback()) {
    why = "refusing a non-loopback host '" + opt.host + "': this generator only loads this machine";
    return std::nullopt;
  }
  return tcp::endpoint(addr, opt.port);
}

std::string fill(std::string_view text, const std::string& index) {
  std::string out;
  for (std::size_t at = 0;;) {
    const auto hit = text.find("{i}", at);
    out.append(text.substr(at, hit - at));
    if (hit == std::string_view::npos) return out;
    out += index;
    at = hit + 3;
  }
}

std::string build_request(const Options& opt, std::size_t i) {
  const std::string index = std::to_string(i);
  std::string r = opt.method + " " + fill(opt.path, index) + " HTTP/1.1\r\nHost: " + opt.host +
                  ":" + std::to_string(opt.port) + "\r\n";
  bool has_type = false;
  for (const auto& h : opt.headers) {
    r += h + "\r\n";
    has_type = has_type || beast::iequals(std::string_view(h).substr(0, 13), "content-type:");
  }
  if (opt.body) {
    const std::string body = fill(*opt.body, index);
    if (!has_type) r += "Content-Type: application/json\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  } else {
    r += "\r\n";
  }
  return r;
}

struct Conn {
  explicit Conn(asio::io_context& io) : stream(io) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::string_body>> parser;
  std::string out;
  std::size_t job = 0;
};

// Runs one schedule on one io_context. Conns are owned here until the end
// (a failed one is closed, never freed inside its own handler).
class Generator {
 public:
  Generator(asio::io_context& io, const Options& opt, tcp::endpoint ep)
      : io_(io),
        opt_(opt),
        ep_(ep),
        timer_(io),
        warm_n_(static_cast<std::size_t>(std::llround(opt.rate * opt.warmup))),
        total_(warm_n_ + static_cast<std::size_t>(std::llround(opt.rate * opt.seconds))),
        latency_ns_(total_, -1),
        lateness_ns_(total_, -1),
        status_of_(total_, 0),
        error_of_(total_, nullptr) {}

  // Opens the first connections, then sends the schedule; returns when every
  // request is answered or failed. False when the first connections failed.
  bool run() {
    for (int k = 0; k < opt_.connections; ++k) open(std::nullopt);
    io_.run();
    ended_ = Clock::now();
    return !first_failed_;
  }

  std::string report() const;
  bool write_samples(const std::string& path) const;

 private:
  Clock::time_point scheduled(std::size_t i) const {
    return t0_ + std::chrono::nanoseconds(static_cast<std::int64_t>(i * 1e9 / opt_.rate));
  }

  void open(std::optional<std::size_t> job) {
    conns_.push_back(std::make_unique<Conn>(io_));
    Conn* c = conns_.back().get();
    ++open_;
    ++opened_;
    max_open_ = std::max(max_open_, open_);
    c->stream.expires_after(opt_.timeout);
    c->stream.async_connect(ep_, [this, c, job](beast::error_code ec) {
      if (ec) {
        if (!job) first_failed_ = true;
        return fail(c, job, ec == beast::error::timeout ? "timeout" : "connect");
      }
      c->stream.socket().set_option(tcp::no_delay(true));
      c->stream.expires_never();
      if (job) return send(c, *job);
      idle_.push_back(c);
      if (++first_open_ == opt_.connections && !first_failed_) start();
    });
  }

  void start() {
    t0_ = Clock::now() + std::chrono::milliseconds(20);
    began_ = t0_;
    timer_.expires_at(t0_);
    timer_.async_wait([this](beast::error_code) { tick(); });
  }

  // Sends every request that is due (more than one when the timer fired late).
  void tick() {
    const auto now = Clock::now();
    while (next_ < total_ && scheduled(next_) <= now) dispatch(next_++);
    if (next_ == total_) return;
    timer_.expires_at(scheduled(next_));
    timer_.async_wait([this](beast::error_code) { tick(); });
  }

  void dispatch(std::size_t i) {
    if (!idle_.empty()) {
      Conn* c = idle_.front();  // first in, first out: every connection stays warm
      idle_.pop_front();
      return send(c, i);
    }
    if (open_ < opt_.max_connections) return open(i);
    ++waited_;
    waiting_.push_back(i);
  }

  void send(Conn* c, std::size_t i) {
    lateness_ns_[i] = (Clock::now() - scheduled(i)).count();
    c->job = i;
    c->out = build_request(opt_, i);
    c->parser.emplace();
    c->parser->body_limit(64u << 20);
    if (opt_.method == "HEAD") c->parser->skip(true);
    c->stream.expires_after(opt_.timeout);
    asio::async_write(
        c->stream, asio::buffer(c->out), [this, c](beast::error_code ec, std::size_t) {
          if (ec) return fail(c, c->job, ec == beast::error::timeout ? "timeout" : "write");
          http::async_read(c->stream, c->buffer, *c->parser,
                           [this, c](beast::error_code ec2, std::size_t) { on_answer(c, ec2); });
        });
  }

  void on_answer(Conn* c, beast::error_code ec) {
    if (ec) return fail(c, c->job, ec == beast::error::timeout ? "timeout" : "read");
    latency_ns_[c->job] = (Clock::now() - scheduled(c->job)).count();
    status_of_[c->job] = c->parser->get().result_int();
    c->stream.expires_never();
    if (!c->parser->keep_alive()) return fail(c, std::nullopt, nullptr);
    if (waiting_.empty()) return idle_.push_back(c);
    const std::size_t i = waiting_.front();
    waiting_.pop_front();
    send(c, i);
  }

  // Closes c, counts the error against job (if any), and lets the first
  // waiting request open a connection in its place.
  void fail(Conn* c, std::optional<std::size_t> job, const char* kind) {
    if (job) error_of_[*job] = kind;
    beast::error_code ignored;
    c->stream.socket().close(ignored);
    --open_;
    if (!waiting_.empty() && open_ < opt_.max_connections) {
      const std::size_t i = waiting_.front();
      waiting_.pop_front();
      open(i);
    }
  }

  asio::io_context& io_;
  const Options& opt_;
  tcp::endpoint ep_;
  asio::steady_timer timer_;
  std::size_t warm_n_;  // requests [0, warm_n_) are the warm-up, not reported
  std::size_t total_;
  std::vector<std::int64_t> latency_ns_;   // -1: no answer
  std::vector<std::int64_t> lateness_ns_;  // -1: never sent
  std::vector<unsigned> status_of_;        // 0: no answer
  std::vector<const char*> error_of_;      // why it failed, or nullptr
  std::vector<std::unique_ptr<Conn>> conns_;
  std::deque<Conn*> idle_;
  std::deque<std::size_t> waiting_;
  std::size_t next_ = 0, waited_ = 0;
  int open_ = 0, opened_ = 0, max_open_ = 0, first_open_ = 0;
  bool first_failed_ = false;
  Clock::time_point t0_, began_, ended_;
};

// Nearest-rank percentile of sorted values, in ms; "null" when empty.
std::string pct_ms(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return "null";
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sorted.size()));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", sorted[std::max<std::size_t>(rank, 1) - 1] / 1e6);
  return buf;
}

// The non-negative values of v[from, end), sorted.
std::vector<std::int64_t> sorted_present(const std::vector<std::int64_t>& v, std::size_t from) {
  std::vector<std::int64_t> out;
  out.reserve(v.size() - from);
  std::copy_if(v.begin() + from, v.end(), std::back_inserter(out),
               [](std::int64_t x) { return x >= 0; });
  std::sort(out.begin(), out.end());
  return out;
}

template <typename Map>
void print_counts(std::ostream& o, const Map& counts) {
  o << '{';
  const char* sep = "";
  for (const auto& [key, n] : counts) o << sep << '"' << key << "\":" << n, sep = ",";
  o << '}';
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string Generator::report() const {
  const auto lat = sorted_present(latency_ns_, warm_n_);
  const auto late = sorted_present(lateness_ns_, warm_n_);
  const auto late_count = static_cast<std::size_t>(
      late.end() -
      std::upper_bound(late.begin(), late.end(), static_cast<std::int64_t>(opt_.late_ms * 1e6)));
  std::map<unsigned, std::size_t> status;
  std::map<std::string, std::size_t> errors;
  std::size_t failed = 0;
  for (std::size_t i = warm_n_; i < total_; ++i) {
    if (status_of_[i]) ++status[status_of_[i]];
    if (error_of_[i]) ++errors[error_of_[i]], ++failed;
  }
  std::ostringstream o;
  o << "{\"rate\":" << opt_.rate << ",\"seconds\":" << opt_.seconds << ",\"warmup\":" << opt_.warmup
    << ",\"count\":" << total_ - warm_n_ << ",\"answered\":" << lat.size() << ",\"status\":";
  print_counts(o, status);
  o << ",\"errors\":" << failed << ",\"error_kinds\":";
  print_counts(o, errors);
  o << ",\"latency_ms\":{\"p50\":" << pct_ms(lat, 50) << ",\"p90\":" << pct_ms(lat, 90)
    << ",\"p99\":" << pct_ms(lat, 99) << ",\"p999\":" << pct_ms(lat, 99.9)
    << ",\"max\":" << pct_ms(lat, 100) << "},\"send_lateness_ms\":{\"p50\":" << pct_ms(late, 50)
    << ",\"p99\":" << pct_ms(late, 99) << ",\"max\":" << pct_ms(late, 100)
    << "},\"late\":" << late_count << ",\"late_ms\":"
    << opt_.late_ms
    // The rest covers the whole run, the warm-up included.
    << ",\"waited_for_connection\":" << waited_ << ",\"connections_opened\":" << opened_
    << ",\"max_open\":" << max_open_
    << ",\"elapsed_s\":" << std::chrono::duration<double>(ended_ - began_).count()
    << ",\"cpu_s\":" << cpu_seconds() << "}";
  return o.str();
}

bool Generator::write_samples(const std::string& path) const {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  std::fprintf(f, "index,scheduled_ms,lateness_ms,latency_ms,status\n");
  auto ms = [](std::int64_t ns) { return ns < 0 ? -1.0 : ns / 1e6; };
  for (std::size_t i = 0; i < total_; ++i) {
    const double at = (static_cast<double>(i) - static_cast<double>(warm_n_)) * 1e3 / opt_.rate;
    std::fprintf(f, "%zu,%.3f,%.3f,%.3f,%u\n", i, at, ms(lateness_ns_[i]), ms(latency_ns_[i]),
                 status_of_[i]);
  }
  return std::fclose(f) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  const auto opt = parse_args(argc, argv, exit_code);
  if (!opt) return exit_code;
  std::string why;
  const auto ep = loopback_endpoint(*opt, why);
  if (!ep) {
    std::cerr << "loadgen: " << why << "\n";
    return 2;
  }
  asio::io_context io(1);
  Generator gen(io, *opt, *ep);
  if (!gen.run()) {
    std::cerr << "loadgen: cannot open " << opt->connections << " connections to " << *ep << "\n";
    return 1;
  }
  if (!opt->samples.empty() && !gen.write_samples(opt->samples)) {
    std::cerr << "loadgen: cannot write " << opt->samples << "\n";
  }
  std::cout << gen.report() << std::endl;
  return 0;
}
