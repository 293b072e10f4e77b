// The upstream's settings: which service, where, and how the gateway
// authenticates to it. Filled by config/ from flags and the environment
// (docs/design.md, "Upstream adapters and credentials"); read by
// upstream::make_upstream and upstream::make_credential.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "upstream/status_parser.h"

namespace lrogate::upstream {

// The generic adapter's description of a service. Templates may use
// {analyzerId}, {operationId} and {apiVersion}.
struct GenericSettings {
  std::string submit_path = "/jobs/{analyzerId}";  // POST here starts an operation
  std::string status_path;        // GET here reads one by id (fallback lookups); "" = none
  StatusShape shape;              // where status, result and error live; terminal values
  std::string url_field = "url";  // {"<url_field>": URL} submits a document URL
  bool operator==(const GenericSettings&) const = default;
};

struct Settings {
  std::string kind = "azure-cu";
  std::string endpoint;     // scheme://host[:port][/base], no trailing slash
  std::string api_version;  // "" = the adapter's default
  std::chrono::milliseconds timeout{30'000};
  std::size_t max_result = 64u << 20;
  GenericSettings generic;
  bool operator==(const Settings&) const = default;
};

// How the gateway authenticates upstream (upstream/auth/credential.h).
struct AuthSettings {
  std::string mode = "key";  // key | client-credentials | managed-identity
  std::string key_header = "ocp-apim-subscription-key";
  std::string key;  // secret
  std::string authority = "https://login.microsoftonline.com";
  std::string tenant_id;
  std::string client_id;      // the app (client credentials) or a user-assigned identity
  std::string client_secret;  // secret
  std::string scope = "https://cognitiveservices.azure.com/.default";
  std::string imds_endpoint = "http://169.254.169.254";
  std::string identity_endpoint;  // IDENTITY_ENDPOINT
  std::string identity_header;    // IDENTITY_HEADER (secret)
  std::chrono::milliseconds timeout{10'000};
  bool operator==(const AuthSettings&) const = default;
};

}  // namespace lrogate::upstream
