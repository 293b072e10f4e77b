// The Azure-compatible routes' answers (docs/design.md, "Azure-compatible
// routes"): what Content Understanding and Document Intelligence answer on
// their own paths, so that Microsoft's SDKs and their pollers drive lrogate
// unchanged. Pure functions of a record and a request's parts: no I/O, no
// store, testable alone (tests/unit/api/azure_shapes_test.cpp).
//
// What the SDKs' pollers need (@azure/core-lro; the Python SDKs' are alike):
//   - an absolute Operation-Location (the DI client resolves a relative one
//     against its own base path and doubles /documentintelligence);
//   - no Location header (core-lro would make a final GET there);
//   - a status answer that is 200 with a JSON body whose `status` is one the
//     poller knows (it matches "succeeded", "fail", "canceled"/"cancelled";
//     "Completed" would keep it polling for ever), an `error` with `code`
//     and `message` when failed, and Retry-After ≥ 1 s while running;
//   - errors as {"error":{"code","message","innererror"?}} with
//     x-ms-error-code (every error_reply of the gateway carries it).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/operation.h"
#include "http/message.h"

namespace lrogate::api::azure {

// The service whose routes a gateway serves: its pool's (upstream kind
// azure-cu or azure-di); the generic upstream has none.
enum class Service { kContentUnderstanding, kDocumentIntelligence };
std::optional<Service> service_of_kind(std::string_view upstream_kind);
const char* service_name(Service s);

// What a request's query string says: the api-version (checked against the
// adapter's versions) and the other parameters, passed on to the upstream
// as sent (raw, still percent-encoded), in their order.
struct Query {
  std::string api_version;
  std::string passthrough;  // "a=1&b=2"; "" when none
};
// Limits of the parameters passed on: at most 20, each name ≤ 64 and value
// ≤ 1024 characters of RFC 3986's unreserved and sub-delims (but '&') and
// %XX escapes, 2 KiB in all.
inline constexpr std::size_t kMaxPassthrough = 20;
// The query, or the 400 that refuses it: MissingApiVersionParameter,
// UnsupportedApiVersion (naming the versions served), InvalidQueryParameter.
// Status reads check theirs the same way, then ignore the others, as Azure
// does.
std::variant<Query, http::Response> read_query(std::string_view raw_query,
                                               const std::vector<std::string>& versions);

// The scheme://host[:port] an absolute Operation-Location starts with:
// --public-base-url when set, else the request's own Host (it names the
// server the client already sends its credentials to) with the scheme of
// the connection. nullopt when there is neither a base nor a well-formed
// Host (a hostname, IPv4 or [IPv6] literal, optional port).
std::optional<std::string> base_url(std::string_view public_base_url, std::string_view host,
                                    bool tls);

// The status URL of an analysis, as the service writes its Operation-Location.
std::string result_path(Service s, std::string_view analyzer_id, std::string_view id,
                        std::string_view api_version);
// The status URL of an analyzer's creation (Content Understanding).
std::string creation_path(std::string_view analyzer_id, std::string_view id,
                          std::string_view api_version);

// The status word as the service writes it: "Running" (CU), "running" (DI).
std::string status_word(Service s, core::Status status);

// 200 with the body the service answers for this record: while it runs,
// {id?, status, createdDateTime?, lastUpdatedDateTime?}; once final, the
// upstream's own body with `status` in the service's words (and `id` for
// CU), or, when the gateway ended it (cancel, --max-wait, a permanent poll
// failure), a body it builds with `error`. Retry-After while running.
http::Response status_answer(Service s, const core::Operation& op, int retry_after_s);

// The 202 that accepts an analysis: Operation-Location (absolute), no
// Location; CU's body {"id","status":"NotStarted"}, DI's empty.
http::Response accepted(Service s, std::string_view id, std::string operation_location,
                        int retry_after_s);

// Azure's 404 for an id no record of this caller has.
http::Response not_found();
// 404 for a route of a service this gateway does not front (`served`:
// the one it fronts, if any).
http::Response other_service(Service asked, std::optional<Service> served);

}  // namespace lrogate::api::azure
