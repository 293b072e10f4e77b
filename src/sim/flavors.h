// Flavors: the three job APIs the simulator speaks, and what differs between
// them — URLs, the words for an operation's phases, how an analyze request
// names its document, and the shape of the final body:
//   kCu       Azure AI Content Understanding: /contentunderstanding/analyzers/{id}:analyze
//             (and :analyzeBinary on 2025-11-01), /analyzerResults/{resultId},
//             "status": "Running", "result"
//   kDi       Azure AI Document Intelligence: /documentintelligence/documentModels/{id}:analyze,
//             .../analyzeResults/{resultId}, "status": "running", "analyzeResult"
//   kGeneric  a generic job API: /generic/jobs/{analyzer}[/{id}], key in X-Api-Key,
//             {"job":{"state":"working"}}, "output", "problem"
// Everything here is a pure function of its arguments; sim/simulator.cpp keeps
// the operations and their polls.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "http/message.h"
#include "sim/directives.h"
#include "sim/throttle.h"

namespace lrogate::sim {

enum class Flavor { kCu, kDi, kGeneric };

inline constexpr std::string_view kCuGa = "2025-11-01";
inline constexpr std::string_view kDiVersion = "2024-11-30";

// One simulated operation.
struct SimOp {
  Flavor flavor = Flavor::kCu;
  std::string id, analyzer, api_version, input;
  std::string query;  // the analyze request's query string as sent (tests check what passed)
  std::string body_sha256;  // of the submit body, so tests can check it came byte for byte
  Millis created = 0;
  Directives d;
  int polls = 0;
  int inflight = 0;
  int overlaps = 0;
  std::vector<Millis> poll_times;  // of the polls admitted
  // Calls the throttle refused (sim/throttle.h): when, and the Retry-After
  // they were given; the submit's are the attempts with this body before it
  // was admitted.
  struct Refused {
    Millis at = 0;
    int retry_after_s = 0;
  };
  std::vector<Refused> throttled_polls;
  std::vector<Refused> throttled_submits;
};

std::uint64_t fnv1a(std::string_view s);
// 16 lowercase hex digits.
std::string hex(std::uint64_t v);

// The header a flavor's key comes in.
std::string_view key_header(Flavor f);
// Whether the flavor serves `version` (the generic API has none).
bool version_served(Flavor f, std::string_view version);
// The path (and query) of an operation's status URL, its Operation-Location.
std::string status_path(const SimOp& op);
// The status field of a flavor's body, from the Azure name of the phase
// (NotStarted, Running, Succeeded, Failed, Canceled).
void set_status(boost::json::object& o, Flavor f, std::string_view azure_name);
// The document an analyze request names, or the reason it names none
// (kInvalidArgument; "binary input" in the message means 415).
Result<std::string> read_input(const http::Request& r, Flavor flavor, std::string_view version,
                               bool binary_route);
// The body of a finished operation: deterministic in (analyzer, input, id,
// creation time), padded to its result_bytes directive.
std::string final_body(const SimOp& op);
// What the tests compare a result with: a hash of analyzer and input.
std::string checksum(const SimOp& op);
// The 429 of a call the throttle refused, in the flavor's shape, with
// Retry-After: v.retry_after_s. Content Understanding and Document
// Intelligence answer as the Azure AI services front door does for every
// resource ({"error":{"code":"429","message":"Requests to the … Operation
// under … have exceeded rate limit … Please retry after N seconds."}}, DI
// with an apim-request-id); the generic API as it answers its other errors
// ({"error":{"code":"TooManyRequests","message"}}).
http::Response throttled_response(Flavor f, CallKind kind, const Throttle::Verdict& v);

}  // namespace lrogate::sim
