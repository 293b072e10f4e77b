#include "upstream/upstream.h"

#include "upstream/azure_cu/azure_cu.h"
#include "upstream/azure_di/azure_di.h"
#include "upstream/generic/generic.h"

namespace lrogate::upstream {
namespace {

// The adapters: a new upstream is a folder under src/upstream/ and a line here.
struct Registered {
  const char* kind;
  Result<std::unique_ptr<Upstream>> (*make)(const Settings&);
};
const Registered kAdapters[] = {
    {"azure-cu", azure_cu::make},
    {"azure-di", azure_di::make},
    {"generic", generic::make},
};

}  // namespace

bool Upstream::same_origin(std::string_view url) const {
  auto a = http::http_origin(url);
  auto b = http::http_origin(settings_.endpoint);
  return a && b && *a == *b;
}

SubmitAnswer Upstream::read_analyzer(AnalyzerCall call, const http::ClientResult& r,
                                     Millis now) const {
  bool read_ok = call != AnalyzerCall::kCreate && r.response && r.response->status >= 200 &&
                 r.response->status < 300;
  SubmitAnswer a;
  if (read_ok) {
    a.kind = SubmitAnswer::Kind::kAccepted;
    a.status = r.response->status;
  } else {
    a = read_submit(r, now);
  }
  if (r.response && a.kind == SubmitAnswer::Kind::kAccepted) {
    a.body = r.response->body;
    a.content_type = std::string(r.response->header("content-type"));
  }
  return a;
}

std::string last_path_segment(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  auto slash = url.rfind('/');
  return std::string(slash == std::string_view::npos ? url : url.substr(slash + 1));
}

std::vector<std::string> upstream_kinds() {
  std::vector<std::string> out;
  for (const auto& a : kAdapters) out.emplace_back(a.kind);
  return out;
}

Result<std::unique_ptr<Upstream>> make_upstream(const Settings& settings) {
  if (!http::http_origin(settings.endpoint)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--upstream-endpoint must be an absolute http(s) URL");
  }
  Settings s = settings;
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  std::string known;
  for (const auto& a : kAdapters) {
    if (s.kind == a.kind) return a.make(s);
    known += known.empty() ? a.kind : std::string(", ") + a.kind;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown upstream kind '" + s.kind + "' (known: " + known + ")");
}

}  // namespace lrogate::upstream
