// `lrogate analyze` and `lrogate status`: a client of a gateway.
//
// Exit codes: 0 succeeded (or, for status, found and not failed); 1 the
// analysis failed, was canceled or timed out; 2 the gateway refused the
// request (4xx) or the operation is unknown; 3 the gateway could not be
// reached or answered 5xx; 4 --timeout passed while waiting.
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "app/commands.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "http/client.h"

namespace lrogate::app {
namespace {

constexpr int kFailed = 1, kRefused = 2, kUnreachable = 3, kTimedOut = 4;

class Session {
 public:
  explicit Session(const config::ClientConfig& c) : c_(c) {
    auto client = http::Client::create({});
    if (client) client_ = std::move(client.value());
  }
  ~Session() {
    if (client_) client_->shutdown();
  }

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
  const config::ClientConfig& c_;
  std::unique_ptr<http::Client> client_;
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
    std::lock_guard lock(mu_);
    if (status == status_) return;
    status_ = status;
    if (!tty_) std::cerr << elapsed() << "s " << status << " " << id_ << "\n";
  }
  void finish() {
    if (stop_.exchange(true)) return;
    if (ticker_.joinable()) ticker_.join();
    if (tty_) {
      std::lock_guard lock(mu_);
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
        std::lock_guard lock(mu_);
        std::cerr << "\r\033[K" << kFrames[i % 4] << " " << status_ << "  " << elapsed() << "s  "
                  << id_ << std::flush;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::string id_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::string status_ = "Submitted";
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
      int wait = 1;
      try {
        wait = std::max(1, std::stoi(std::string(r.response->header("retry-after"))));
      } catch (...) {
      }
      std::this_thread::sleep_for(std::chrono::seconds(wait));
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

int write_output(const config::ClientConfig& c, const std::string& body) {
  if (c.output.empty()) {
    std::cout << body << (body.empty() || body.back() == '\n' ? "" : "\n");
    return 0;
  }
  std::ofstream f(c.output, std::ios::binary);
  f << body;
  if (!f) {
    std::cerr << "lrogate: cannot write " << c.output << "\n";
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

}  // namespace

int run_analyze(const config::ClientConfig& c) {
  Session s(c);
  http::ClientResult r;
  if (!c.file.empty()) {
    // The document itself goes through the compatible route, as its bytes.
    std::ifstream f(c.file, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    std::string content_type = c.content_type.empty() ? content_type_for(c.file) : c.content_type;
    r = s.call("POST", "/pro-mode/content-analyzers/" + c.analyzer + ":analyze", ss.str(),
               content_type);
  } else {
    // A URL goes through the native route, which shapes it for whatever
    // upstream the gateway runs in front of ({"url"}, {"urlSource"}, ...).
    r = s.call(
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
  if (int rc = wait_final(s, c, id, &doc); rc != 0) return rc;
  if (json::get_string(doc, "status") != "Succeeded") {
    std::cerr << "lrogate: " << id << " " << json::get_string(doc, "status").value_or("") << ": "
              << error_text(doc) << "\n";
    return kFailed;
  }
  // The result itself, byte for byte, from the compatible route.
  auto res = s.call("GET", "/pro-mode/content-analyzers/" + c.analyzer + "/results/" + id);
  for (int tries = 0; res.response && res.response->status == 429 && tries < 5; ++tries) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    res = s.call("GET", "/pro-mode/content-analyzers/" + c.analyzer + "/results/" + id);
  }
  if (!res.response || res.response->status != 200) return report(res, "result");
  return write_output(c, res.response->body);
}

int run_status(const config::ClientConfig& c) {
  Session s(c);
  boost::json::object doc;
  if (c.wait) {
    if (int rc = wait_final(s, c, c.operation_id, &doc); rc != 0) return rc;
  } else {
    auto r = s.call("GET", "/operations/" + c.operation_id);
    if (!r.response || r.response->status != 200) return report(r, "status");
    auto v = json::parse(r.response->body);
    if (!v || !v->is_object()) return kUnreachable;
    doc = v->as_object();
  }
  std::cout << boost::json::serialize(doc) << "\n";
  std::string status = json::get_string(doc, "status").value_or("");
  return status == "Failed" || status == "Canceled" ? kFailed : 0;
}

}  // namespace lrogate::app
