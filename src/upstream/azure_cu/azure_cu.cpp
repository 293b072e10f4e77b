#include "upstream/azure_cu/azure_cu.h"

#include <boost/json/serialize.hpp>

namespace lrogate::upstream::azure_cu {
namespace {

// Azure's statuses; the final body's "usage" tells pages and tokens.
StatusShape shape() {
  StatusShape s;
  s.usage = StatusShape::Usage::kContentUnderstanding;
  return s;
}

constexpr const char* kDefaultVersion = "2025-05-01-preview";
constexpr const char* kGaVersion = "2025-11-01";

class AzureCu final : public OperationLocationUpstream {
 public:
  explicit AzureCu(Settings s) : OperationLocationUpstream(std::move(s), shape()) {}

  http::ClientRequest build_submit(std::string_view analyzer_id,
                                   std::shared_ptr<const std::string> body,
                                   std::string_view content_type,
                                   const SubmitOptions& options) const override {
    const std::string& version =
        options.api_version.empty() ? settings_.api_version : options.api_version;
    // The GA version takes binary input on its own route.
    bool binary = version == kGaVersion && !content_type.empty() && !is_json_type(content_type);
    return post(settings_.endpoint + "/contentunderstanding/analyzers/" + std::string(analyzer_id) +
                    (binary ? ":analyzeBinary" : ":analyze") + "?api-version=" + version +
                    (options.query.empty() ? "" : "&" + options.query),
                std::move(body), content_type);
  }

  std::vector<std::string> api_versions() const override {
    return {"2024-12-01-preview", "2025-05-01-preview", kGaVersion};
  }

  std::optional<http::ClientRequest> build_lookup(std::string_view,
                                                  std::string_view operation_id) const override {
    return build_poll(settings_.endpoint + "/contentunderstanding/analyzerResults/" +
                      std::string(operation_id) + "?api-version=" + settings_.api_version);
  }

  std::optional<http::ClientRequest> build_analyzer(AnalyzerCall call, std::string_view analyzer_id,
                                                    std::shared_ptr<const std::string> body,
                                                    bool allow_replace,
                                                    const SubmitOptions& options) const override {
    std::string url =
        settings_.endpoint + "/contentunderstanding/analyzers/" + std::string(analyzer_id) +
        "?api-version=" + (options.api_version.empty() ? settings_.api_version : options.api_version);
    http::ClientRequest r;
    if (call == AnalyzerCall::kCreate) {
      r = post(url + (allow_replace ? "&allowReplace=true" : ""), std::move(body),
               "application/json");
      r.method = "PUT";
    } else {
      r.method = call == AnalyzerCall::kGet ? "GET" : "DELETE";
      r.url = std::move(url);
      r.timeout = settings_.timeout;
    }
    r.max_body = 4u << 20;  // the answer: an analyzer's definition, not a result
    return r;
  }

  std::string document_url_body(std::string_view url) const override {
    boost::json::object o;
    if (settings_.api_version == kGaVersion) {
      o["inputs"] = boost::json::array{boost::json::object{{"url", url}}};
    } else {
      o["url"] = url;
    }
    return boost::json::serialize(o);
  }
};

}  // namespace

Result<std::unique_ptr<Upstream>> make(const Settings& settings) {
  Settings s = settings;
  if (s.api_version.empty()) s.api_version = kDefaultVersion;
  return std::unique_ptr<Upstream>(new AzureCu(std::move(s)));
}

}  // namespace lrogate::upstream::azure_cu
