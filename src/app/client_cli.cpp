// `lrogate analyze` and `lrogate status`: a client of a gateway.
//
// Exit codes: 0 succeeded (or, for status, found and not failed); 1 the
// analysis failed, was canceled or timed out; 2 the gateway refused the
// request (4xx) or the operation is unknown, or the command cannot run here
// (its HTTP client cannot start, --file cannot be read, the result cannot be
// written); 3 the gateway could not be reached or answered 5xx; 4 --timeout
// passed while waiting.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <thread>

#include "app/commands.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "base/thread_annotations.h"
#include "http/client.h"

namespace lrogate::app {
namespace {

constexpr int kFailed = 1, kRefused = 2, kUnreachable = 3, kTimedOut = 4;

class Session {
 public:
  // Starts the HTTP client; nullptr, after saying why on stderr, when it
  // cannot start (e.g. OpenSSL cannot make a TLS context: a broken
  // OPENSSL_CONF).
  static std::unique_ptr<Session> open(const config::ClientConfig& c) {
    std::string why;
    try {
      auto client = http::Client::create({});
      if (client) return std::unique_ptr<Session>(new Session(c, std::move(client.value())));
      why = client.error().message;
    } catch (const std::exception& e) {  // the TLS context and the I/O thread throw
      why = e.what();
    }
    std::cerr << "lrogate: cannot start the HTTP client: " << why << "\n";
    return nullptr;
  }
  ~Session() { client_->shutdown(); }

  http::ClientResult call(std::string method, const std::string& path, std::string body = {},
                          std::string content_type = {}, http::Headers extra = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    http::ClientRequest req;
    req.method = std::move(method);
    req.url = c_.gateway + path;
    req.body = std::move(body);
    req.timeout = timeout;
    req.max_body = 1u << 30;
    if (!content_type.empty()) req.headers.push_back({"content-type", std::move(content_type)});
    if (!c_.api_key.empty()) req.headers.push_back({"authorization", "Bearer " + c_.api_key});
    for (auto& h : extra) req.headers.push_back(std::move(h));
    std::promise<http::ClientResult> p;
    auto f = p.get_future();
    client_->send(std::move(req), [&p](http::ClientResult r) { p.set_value(std::move(r)); });
    return f.get();
  }

 private:
  Session(const config::ClientConfig& c, std::unique_ptr<http::Client> client)
      : c_(c), client_(std::move(client)) {}

  const config::ClientConfig& c_;
  std::unique_ptr<http::Client> client_;  // never null
};

// Prints why a request failed and returns the exit code for it.
int report(const http::ClientResult& r, std::string_view what) {
  if (!r.response) {
    std::cerr << "lrogate: cannot reach the gateway (" << what << "): " << r.error << "\n";
    return kUnreachable;
  }
  std::string message;
  if (auto v = json::parse(r.response->body); v && v->is_object()) {
    const auto& o = v->as_object();
    if (auto e = o.find("error"); e != o.end() && e->value().is_object()) {
      if (auto m = json::get_string(e->value().as_object(), "message")) message = *m;
    } else if (auto m = json::get_string(o, "message")) {
      message = *m;
    }
  }
  std::cerr << "lrogate: " << what << " answered " << r.response->status
            << (message.empty() ? "" : ": " + message) << "\n";
  return r.response->status >= 500 ? kUnreachable : kRefused;
}

std::string content_type_for(const std::string& file) {
  auto dot = file.rfind('.');
  std::string ext = to_lower(dot == std::string::npos ? "" : file.substr(dot + 1));
  if (ext == "pdf") return "application/pdf";
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "tif" || ext == "tiff") return "image/tiff";
  if (ext == "bmp") return "image/bmp";
  if (ext == "docx")
    return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  if (ext == "txt" || ext == "md") return "text/plain";
  if (ext == "json") return "application/json";
  return "application/octet-stream";
}

// A status line: a live spinner on a terminal, plain lines otherwise.
class Progress {
 public:
  explicit Progress(std::string id)
      : id_(std::move(id)), tty_(::isatty(2)), start_(std::chrono::steady_clock::now()) {
    if (tty_) ticker_ = std::thread([this] { tick(); });
  }
  ~Progress() { finish(); }

  void set(const std::string& status) {
    MutexLock lock(mu_);
    if (status == status_) return;
    status_ = status;
    if (!tty_) std::cerr << elapsed() << "s " << status << " " << id_ << "\n";
  }
  void finish() {
    if (stop_.exchange(true)) return;
    if (ticker_.joinable()) ticker_.join();
    if (tty_) {
      MutexLock lock(mu_);
      std::cerr << "\r\033[K" << status_ << " after " << elapsed() << "s  " << id_ << "\n";
    }
  }

 private:
  std::string elapsed() const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    return buf;
  }
  void tick() {
    static const char* kFrames[] = {"|", "/", "-", "\\"};
    for (int i = 0; !stop_; ++i) {
      {
        MutexLock lock(mu_);
        std::cerr << "\r\033[K" << kFrames[i % 4] << " " << status_ << "  " << elapsed() << "s  "
                  << id_ << std::flush;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::string id_;                               // constant after construction
  bool tty_;                                     // constant after construction
  std::chrono::steady_clock::time_point start_;  // constant after construction
  Mutex mu_;                                     // also keeps stderr lines whole
  std::string status_ GUARDED_BY(mu_) = "Submitted";
  std::atomic<bool> stop_{false};
  std::thread ticker_;
};

// Long-polls the status monitor until the operation is final; returns the
// last document, or an exit code.
int wait_final(Session& s, const config::ClientConfig& c, const std::string& id,
               boost::json::object* doc) {
  Progress progress(id);
  auto deadline = std::chrono::steady_clock::now() + c.timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = s.call("GET", "/operations/" + id, {}, {}, {{"prefer", "wait=20"}},
                    std::chrono::seconds(80));
    if (!r.response) {
      progress.finish();
      return report(r, "status");
    }
    if (r.response->status == 429 || r.response->status == 503) {
      // Retry-After in seconds (1 when missing or unreadable), never past --timeout.
      std::chrono::steady_clock::duration wait = std::chrono::seconds(std::max<std::int64_t>(
          1, parse_digits(r.response->header("retry-after"), 9).value_or(1)));
      wait = std::min(wait, deadline - std::chrono::steady_clock::now());
      if (wait > wait.zero()) std::this_thread::sleep_for(wait);
      continue;
    }
    if (r.response->status != 200) {
      progress.finish();
      return report(r, "status");
    }
    auto v = json::parse(r.response->body);
    if (!v || !v->is_object()) {
      progress.finish();
      std::cerr << "lrogate: the gateway sent an unreadable status\n";
      return kUnreachable;
    }
    *doc = v->as_object();
    std::string status = json::get_string(*doc, "status").value_or("Unknown");
    progress.set(status);
    if (status == "Succeeded" || status == "Failed" || status == "Canceled") {
      progress.finish();
      return 0;
    }
  }
  progress.finish();
  std::cerr << "lrogate: still not finished after --timeout; the operation goes on: " << id << "\n";
  return kTimedOut;
}

// Writes body to the file at path, or to stdout when path is "".
int write_output(const std::string& path, const std::string& body) {
  if (path.empty()) {
    std::cout << body << (body.empty() || body.back() == '\n' ? "" : "\n") << std::flush;
    if (!std::cout) {
      std::cerr << "lrogate: cannot write the result to stdout\n";
      return kRefused;
    }
    return 0;
  }
  std::ofstream f(path, std::ios::binary);
  f << body;
  f.close();  // a full disk shows here, not before
  if (!f) {
    std::cerr << "lrogate: cannot write " << path << "\n";
    return kRefused;
  }
  return 0;
}

std::string error_text(const boost::json::object& doc) {
  auto e = doc.find("error");
  if (e == doc.end() || !e->value().is_object()) return "the analysis did not succeed";
  const auto& o = e->value().as_object();
  return json::get_string(o, "code").value_or("") + ": " +
         json::get_string(o, "message").value_or("");
}

// The whole of --file, or nullopt after saying why on stderr. POSIX reads:
// an ifstream turns a read error (EIO) into a short, successful read.
std::optional<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string body;
  int err = fd < 0 ? errno : 0;
  while (err == 0) {
    char buf[64 << 10];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0)
      body.append(buf, static_cast<std::size_t>(n));
    else if (n == 0)
      break;
    else if (errno != EINTR)
      err = errno;
  }
  if (fd >= 0) ::close(fd);
  if (err != 0) {
    std::cerr << "lrogate: cannot read --file " << path << ": " << std::strerror(err) << "\n";
    return std::nullopt;
  }
  return body;
}

}  // namespace

int run_analyze(const config::ClientConfig& c) {
  auto s = Session::open(c);
  if (!s) return kRefused;
  http::ClientResult r;
  if (!c.file.empty()) {
    // The document itself goes through the compatible route, as its bytes.
    auto body = read_file(c.file);
    if (!body) return kRefused;
    std::string content_type = c.content_type.empty() ? content_type_for(c.file) : c.content_type;
    r = s->call("POST", "/pro-mode/content-analyzers/" + c.analyzer + ":analyze", std::move(*body),
                content_type);
  } else {
    // A URL goes through the native route, which shapes it for whatever
    // upstream the gateway runs in front of ({"url"}, {"urlSource"}, ...).
    r = s->call(
        "POST", "/operations",
        json::to_string(boost::json::object{{"analyzerId", c.analyzer}, {"documentUrl", c.url}}),
        "application/json");
  }
  if (!r.response || r.response->status != 202) return report(r, "submit");
  auto v = json::parse(r.response->body);
  std::string id;
  if (v && v->is_object()) {
    id = json::get_string(v->as_object(), c.file.empty() ? "id" : "operationId").value_or("");
  }
  if (id.empty()) {
    std::cerr << "lrogate: the gateway accepted the document but sent no operation id\n";
    return kUnreachable;
  }
  if (!c.wait) {
    std::cout << id << "\n";
    return 0;
  }
  boost::json::object doc;
  if (int rc = wait_final(*s, c, id, &doc); rc != 0) return rc;
  if (json::get_string(doc, "status") != "Succeeded") {
    std::cerr << "lrogate: " << id << " " << json::get_string(doc, "status").value_or("") << ": "
              << error_text(doc) << "\n";
    return kFailed;
  }
  // The result itself, byte for byte, from the compatible route.
  auto res = s->call("GET", "/pro-mode/content-analyzers/" + c.analyzer + "/results/" + id);
  for (int tries = 0; res.response && res.response->status == 429 && tries < 5; ++tries) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    res = s->call("GET", "/pro-mode/content-analyzers/" + c.analyzer + "/results/" + id);
  }
  if (!res.response || res.response->status != 200) return report(res, "result");
  return write_output(c.output, res.response->body);
}

int run_status(const config::ClientConfig& c) {
  auto s = Session::open(c);
  if (!s) return kRefused;
  boost::json::object doc;
  if (c.wait) {
    if (int rc = wait_final(*s, c, c.operation_id, &doc); rc != 0) return rc;
  } else {
    auto r = s->call("GET", "/operations/" + c.operation_id);
    if (!r.response || r.response->status != 200) return report(r, "status");
    auto v = json::parse(r.response->body);
    if (!v || !v->is_object()) {
      std::cerr << "lrogate: the gateway sent an unreadable status\n";
      return kUnreachable;
    }
    doc = v->as_object();
  }
  if (int rc = write_output("", boost::json::serialize(doc)); rc != 0) return rc;
  std::string status = json::get_string(doc, "status").value_or("");
  return status == "Failed" || status == "Canceled" ? kFailed : 0;
}

}  // namespace lrogate::app
