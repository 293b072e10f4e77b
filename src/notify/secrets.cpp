#include "notify/secrets.h"

#include <fstream>
#include <sstream>

#include "notify/signature.h"

namespace lrogate::notify {

Result<WebhookSecrets> WebhookSecrets::parse(std::string_view text) {
  WebhookSecrets s;
  int number = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    std::string where = "line " + std::to_string(number);
    // The last ':': a secret has none, a tenant may ("oidc:TENANT:u:USER").
    auto colon = line.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "webhook secrets: " + where + " is not 'tenant:whsec_...'");
    }
    auto key = parse_secret(line.substr(colon + 1));
    if (!key) {
      return make_error(ErrorCode::kInvalidArgument,
                        "webhook secrets: " + where +
                            ": the secret is not whsec_ and the base64 of 24 to 64 bytes");
    }
    auto& keys = s.keys_[std::string(line.substr(0, colon))];
    if (keys.size() == 2) {
      return make_error(ErrorCode::kInvalidArgument,
                        "webhook secrets: " + where + ": a tenant has at most two secrets");
    }
    keys.push_back(std::move(*key));
  }
  return s;
}

Result<WebhookSecrets> WebhookSecrets::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kInvalidArgument, "cannot read --webhook-secrets-file");
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str());
}

const std::vector<std::string>& WebhookSecrets::keys(std::string_view tenant) const {
  static const std::vector<std::string> kNone;
  auto it = keys_.find(tenant);
  return it == keys_.end() ? kNone : it->second;
}

}  // namespace lrogate::notify
