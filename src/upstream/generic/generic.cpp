#include "upstream/generic/generic.h"

#include <boost/json/serialize.hpp>

namespace lrogate::upstream::generic {
namespace {

class Generic final : public OperationLocationUpstream {
 public:
  explicit Generic(Settings s) : OperationLocationUpstream(s, s.generic.shape) {}

  http::ClientRequest build_submit(std::string_view analyzer_id,
                                   std::shared_ptr<const std::string> body,
                                   std::string_view content_type,
                                   const SubmitOptions&) const override {
    return post(
        settings_.endpoint + expand(g().submit_path, analyzer_id, "", settings_.api_version),
        std::move(body), content_type);
  }

  std::optional<http::ClientRequest> build_lookup(std::string_view analyzer_id,
                                                  std::string_view operation_id) const override {
    if (g().status_path.empty()) return std::nullopt;
    return build_poll(settings_.endpoint +
                      expand(g().status_path, analyzer_id, operation_id, settings_.api_version));
  }

  std::string document_url_body(std::string_view url) const override {
    return boost::json::serialize(boost::json::object{{g().url_field, url}});
  }

 private:
  const GenericSettings& g() const { return settings_.generic; }
};

bool path_template_ok(std::string_view t) {
  if (t.empty() || t[0] != '/' || t.find("://") != std::string_view::npos) return false;
  for (char c : t) {
    if (c <= 0x20 || c >= 0x7f || c == '#') return false;
  }
  return true;
}

}  // namespace

std::string expand(std::string_view templ, std::string_view analyzer_id,
                   std::string_view operation_id, std::string_view api_version) {
  const std::pair<std::string_view, std::string_view> vars[] = {{"{analyzerId}", analyzer_id},
                                                                {"{operationId}", operation_id},
                                                                {"{apiVersion}", api_version}};
  std::string out;
  while (!templ.empty()) {
    bool replaced = false;
    for (const auto& [name, value] : vars) {
      if (templ.substr(0, name.size()) == name) {
        out += value;
        templ.remove_prefix(name.size());
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      out += templ.front();
      templ.remove_prefix(1);
    }
  }
  return out;
}

Result<std::unique_ptr<Upstream>> make(const Settings& settings) {
  const GenericSettings& g = settings.generic;
  auto bad = [](std::string m) { return make_error(ErrorCode::kInvalidArgument, std::move(m)); };
  if (!path_template_ok(g.submit_path) || g.submit_path.find("{analyzerId}") == std::string::npos) {
    return bad("--generic-submit-path must be a path starting with / that contains {analyzerId}");
  }
  if (!g.status_path.empty() && (!path_template_ok(g.status_path) ||
                                 g.status_path.find("{operationId}") == std::string::npos)) {
    return bad("--generic-status-path must be a path starting with / that contains {operationId}");
  }
  if (g.shape.status_field.empty()) return bad("--generic-status-field must not be empty");
  if (g.shape.succeeded.empty()) return bad("--generic-succeeded must name at least one value");
  if (g.url_field.empty()) return bad("--generic-url-field must not be empty");
  return std::unique_ptr<Upstream>(new Generic(settings));
}

}  // namespace lrogate::upstream::generic
