#include "api/azure/shapes.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/replies.h"
#include "base/json_util.h"
#include "base/strings.h"

namespace lrogate::api::azure {
namespace {

http::Response bad_query(std::string_view code, std::string message) {
  return error_reply(400, code, message);
}

bool query_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("-._~!$'()*+,;=:@/?").find(c) != std::string_view::npos;
}

// A raw name or value: the characters above and %XX escapes only.
bool raw_part_ok(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        return false;
      }
      i += 2;
    } else if (!query_char(s[i])) {
      return false;
    }
  }
  return true;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool host_ok(std::string_view host) {
  if (host.empty() || host.size() > 261) return false;
  std::string_view name = host;
  std::string_view port;
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : host.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    name = {};
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
  } else {
    auto colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      name = host.substr(0, colon);
      port = host.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (name.empty() || name.size() > 253 || name.front() == '.' || name.front() == '-') {
      return false;
    }
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
    }
  }
  if (!port.empty()) {
    if (port.size() > 5) return false;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    if (std::stoi(std::string(port)) > 65535) return false;
  }
  return true;
}

// The error a final record carries into its body: the upstream's, else the
// gateway's reason (canceled by its client, --max-wait, a failed poll).
boost::json::object error_of(const core::Operation& op) {
  std::string code = op.error_code;
  std::string message = op.error_message;
  if (code.empty()) code = op.status == core::Status::kCanceled ? "Canceled" : "Failed";
  if (message.empty()) {
    message = op.status == core::Status::kCanceled ? "The operation was canceled."
                                                   : "The analysis failed.";
  }
  return {{"code", code}, {"message", message}};
}

bool has_usable_error(const boost::json::object& o) {
  auto it = o.find("error");
  if (it == o.end() || !it->value().is_object()) return false;
  const auto& e = it->value().as_object();
  auto code = e.find("code");
  auto message = e.find("message");
  return code != e.end() && code->value().is_string() && !code->value().as_string().empty() &&
         message != e.end() && message->value().is_string() &&
         !message->value().as_string().empty();
}

}  // namespace

std::optional<Service> service_of_kind(std::string_view kind) {
  if (kind == "azure-cu") return Service::kContentUnderstanding;
  if (kind == "azure-di") return Service::kDocumentIntelligence;
  return std::nullopt;
}

const char* service_name(Service s) {
  return s == Service::kContentUnderstanding ? "Azure AI Content Understanding"
                                             : "Azure AI Document Intelligence";
}

std::variant<Query, http::Response> read_query(std::string_view raw,
                                               const std::vector<std::string>& versions) {
  Query q;
  bool versioned = false;
  std::size_t count = 0;
  if (raw.size() > 4096) {
    return bad_query("InvalidQueryParameter", "the query string is longer than 4096 characters");
  }
  while (!raw.empty()) {
    std::size_t amp = raw.find('&');
    std::string_view part = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    std::string_view name = part.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
    if (name == "api-version") {
      if (versioned) {
        return bad_query("InvalidQueryParameter", "api-version is given more than once");
      }
      versioned = true;
      q.api_version = std::string(value);
      continue;
    }
    if (name.empty() || name.size() > 64 || value.size() > 1024 || !raw_part_ok(name) ||
        !raw_part_ok(value)) {
      return bad_query("InvalidQueryParameter",
                       "a query parameter is malformed or too long (names of at most 64 and "
                       "values of at most 1024 URL-safe characters)");
    }
    if (++count > kMaxPassthrough) {
      return bad_query("InvalidQueryParameter",
                       "more than " + std::to_string(kMaxPassthrough) + " query parameters");
    }
    if (!q.passthrough.empty()) q.passthrough += '&';
    q.passthrough += part;
  }
  if (!versioned || q.api_version.empty()) {
    return bad_query("MissingApiVersionParameter",
                     "The api-version query parameter (?api-version=) is required for all "
                     "requests. Supported versions: " +
                         joined(versions) + ".");
  }
  if (std::find(versions.begin(), versions.end(), q.api_version) == versions.end()) {
    std::string shown = q.api_version.size() <= 40 ? q.api_version : "(too long)";
    for (char& c : shown) {
      if (!query_char(c)) c = '?';
    }
    return bad_query("UnsupportedApiVersion", "The HTTP resource does not support api-version '" +
                                                  shown + "'. Supported versions: " +
                                                  joined(versions) + ".");
  }
  return q;
}

std::optional<std::string> base_url(std::string_view public_base_url, std::string_view host,
                                    bool tls) {
  if (!public_base_url.empty()) return std::string(public_base_url);
  if (!host_ok(host)) return std::nullopt;
  return std::string(tls ? "https://" : "http://") + to_lower(host);
}

std::string result_path(Service s, std::string_view analyzer_id, std::string_view id,
                        std::string_view api_version) {
  std::string v = "?api-version=" + std::string(api_version);
  if (s == Service::kContentUnderstanding) {
    return "/contentunderstanding/analyzerResults/" + std::string(id) + v;
  }
  return "/documentintelligence/documentModels/" + std::string(analyzer_id) + "/analyzeResults/" +
         std::string(id) + v;
}

std::string creation_path(std::string_view analyzer_id, std::string_view id,
                          std::string_view api_version) {
  return "/contentunderstanding/analyzers/" + std::string(analyzer_id) + "/operations/" +
         std::string(id) + "?api-version=" + std::string(api_version);
}

std::string status_word(Service s, core::Status status) {
  std::string w = core::status_name(status);
  if (s == Service::kDocumentIntelligence) {
    w[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(w[0])));
  }
  return w;
}

http::Response status_answer(Service s, const core::Operation& op, int retry_after_s) {
  bool cu = s == Service::kContentUnderstanding;
  boost::json::object o;
  if (core::is_terminal(op.status) && !op.result.empty()) {
    if (auto v = json::parse(op.result); v && v->is_object()) o = std::move(v->as_object());
  }
  bool upstream_body = !o.empty();
  if (cu && !o.contains("id")) o["id"] = op.id;
  o["status"] = status_word(s, op.status);
  if (!cu && !upstream_body) {
    o["createdDateTime"] = json::iso8601(op.created_at);
    o["lastUpdatedDateTime"] = json::iso8601(op.updated_at);
  }
  if ((op.status == core::Status::kFailed || op.status == core::Status::kCanceled) &&
      !has_usable_error(o)) {
    o["error"] = error_of(op);
  }
  if (op.status == core::Status::kSucceeded) {
    // Never an empty success: the SDKs read their field from it.
    const char* field = cu ? "result" : "analyzeResult";
    if (!o.contains(field)) o[field] = boost::json::object();
  }
  http::Response r = http::json_response(200, boost::json::serialize(o));
  if (!core::is_terminal(op.status)) {
    r.set("Retry-After", std::to_string(std::max(1, retry_after_s)));
  }
  r.log_operation_id = op.id;
  return r;
}

http::Response accepted(Service s, std::string_view id, std::string operation_location,
                        int retry_after_s) {
  http::Response r;
  r.status = 202;
  if (s == Service::kContentUnderstanding) {
    r.body = boost::json::serialize(boost::json::object{{"id", id}, {"status", "NotStarted"}});
  } else {
    r.content_type.clear();
  }
  r.set("Operation-Location", std::move(operation_location));
  r.set("Retry-After", std::to_string(std::max(1, retry_after_s)));
  r.log_operation_id = std::string(id);
  return r;
}

http::Response not_found() {
  boost::json::object inner{{"code", "OperationNotFound"},
                            {"message",
                             "The requested operation was not found. The identifier may be "
                             "invalid or the operation may have expired."}};
  boost::json::object e{{"code", "NotFound"},
                        {"message", "Resource not found."},
                        {"innererror", std::move(inner)}};
  http::Response r = http::json_response(404, boost::json::serialize(boost::json::object{
                                                  {"error", std::move(e)}}));
  r.set("x-ms-error-code", "NotFound");
  return r;
}

http::Response other_service(Service asked, std::optional<Service> served) {
  std::string message = std::string("this gateway does not front ") + service_name(asked);
  message += served ? std::string(": it fronts ") + service_name(*served)
                    : std::string(": its upstream is not an Azure service");
  return error_reply(404, "NotFound", message);
}

}  // namespace lrogate::api::azure
