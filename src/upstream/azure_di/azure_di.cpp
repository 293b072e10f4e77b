#include "upstream/azure_di/azure_di.h"

#include <boost/json/serialize.hpp>

namespace lrogate::upstream::azure_di {
namespace {

constexpr const char* kDefaultVersion = "2024-11-30";

// Its documented statuses: notStarted, running, succeeded, failed, canceled,
// and in some versions completed (a success) and skipped (batch items).
StatusShape shape() {
  StatusShape s;
  s.succeeded = {"succeeded", "completed"};
  s.failed = {"failed", "skipped"};
  s.canceled = {"canceled", "cancelled"};
  s.not_started = {"notStarted"};
  s.usage = StatusShape::Usage::kDocumentIntelligence;  // pages: analyzeResult.pages
  return s;
}

class AzureDi final : public OperationLocationUpstream {
 public:
  explicit AzureDi(Settings s) : OperationLocationUpstream(std::move(s), shape()) {}

  http::ClientRequest build_submit(std::string_view model_id,
                                   std::shared_ptr<const std::string> body,
                                   std::string_view content_type,
                                   const SubmitOptions& options) const override {
    const std::string& version =
        options.api_version.empty() ? settings_.api_version : options.api_version;
    return post(model_url(model_id) + ":analyze?api-version=" + version +
                    (options.query.empty() ? "" : "&" + options.query),
                std::move(body), content_type);
  }

  // v4.0: the GA version and the previews before it.
  std::vector<std::string> api_versions() const override {
    return {"2023-10-31-preview", "2024-02-29-preview", "2024-07-31-preview", kDefaultVersion};
  }

  std::optional<http::ClientRequest> build_lookup(std::string_view model_id,
                                                  std::string_view operation_id) const override {
    return build_poll(model_url(model_id) + "/analyzeResults/" + std::string(operation_id) +
                      "?api-version=" + settings_.api_version);
  }

  std::string document_url_body(std::string_view url) const override {
    return boost::json::serialize(boost::json::object{{"urlSource", url}});
  }

 private:
  std::string model_url(std::string_view model_id) const {
    return settings_.endpoint + "/documentintelligence/documentModels/" + std::string(model_id);
  }
};

}  // namespace

Result<std::unique_ptr<Upstream>> make(const Settings& settings) {
  Settings s = settings;
  if (s.api_version.empty()) s.api_version = kDefaultVersion;
  return std::unique_ptr<Upstream>(new AzureDi(std::move(s)));
}

}  // namespace lrogate::upstream::azure_di
