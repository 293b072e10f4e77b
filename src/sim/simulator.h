// Simulator: a faithful stand-in for the Azure AI Content Understanding REST
// API (analyze, analyzeBinary, analyzerResults), for local development,
// tests and benchmarks. It also speaks Azure AI Document Intelligence
// (documentModels/{id}:analyze, analyzeResults, lowercase statuses,
// analyzeResult), a generic job API (/generic/jobs/{analyzer}, key in
// X-Api-Key, {"job":{"state"}}, "output", "problem") for the generic adapter,
// and the Entra ID token endpoints the gateway asks for upstream tokens:
//   POST /_sim/aad/{tenant}/oauth2/v2.0/token   (client credentials)
//   GET  /_sim/msi/token                        (IDENTITY_ENDPOINT form)
//   GET  /metadata/identity/oauth2/token        (IMDS form)
// Tokens it issued (until they expire) are accepted as Authorization: Bearer
// in place of the key. Behaviour per operation comes from directives in the
// submitted document URL (sim/directives.h); results are deterministic
// functions of (analyzer, input, result id, creation time), so a test can
// compare the gateway's answer with the simulator's byte for byte.
//
// It also keeps custom analyzers (PUT/GET/DELETE /contentunderstanding/
// analyzers/{id} and their creation operations: sim/analyzers.h) and, when
// given one, serves an OpenID Connect issuer under /_sim/oidc whose JWTs the
// gateway's client authentication can verify (sim/oidc_issuer.h).
//
// The files: sim/flavors.* (the three APIs' URLs and bodies), sim/tokens.*
// (the token endpoints), sim/analyzers.*, sim/oidc_issuer.*, and this one:
// the operations, their polls and faults, and the control routes.
//
// It also counts what it saw, for tests: GET /_sim/stats and
// GET /_sim/operations/{id} (polls, their times, overlapping polls).
//
// It throttles as one Azure resource does (sim/throttle.h): analyze-type
// calls (the three submits, analyzer PUT and DELETE) and status-type calls
// (the three status GETs, analyzer GET and its creation operation's GET) each
// within their calls per second, both within the operations per minute; a
// call over a limit answers 429 with Retry-After in the flavor's shape
// (throttled_response, sim/flavors.h). The key is checked first: a call
// without it is a 401 and counts against nothing. GET/PUT /_sim/throttle
// read and change the limits while it runs; /_sim/stats has the counts.
// Thread-safe; answers from any thread via the server's timers.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "http/message.h"
#include "http/server.h"
#include "sim/directives.h"
#include "sim/durations.h"
#include "sim/oidc_issuer.h"
#include "sim/throttle.h"
#include "sim/tokens.h"

namespace lrogate::sim {

struct SimOptions {
  std::string key;      // required Ocp-Apim-Subscription-Key
  TokenOptions tokens;  // the Entra ID token endpoints (sim/tokens.h)
  Directives defaults;
  // Durations per analyzer (--analyzer-duration, --seed); for the documents
  // without sim_duration=, over defaults.duration.
  DurationTable durations;
  std::chrono::milliseconds result_ttl{24 * 3'600'000};
  std::chrono::milliseconds latency{0};                       // added to every answer
  std::vector<std::string> analyzers;                         // known analyzer ids
  std::chrono::milliseconds analyzer_create_duration{2'000};  // PUT .../analyzers/{id}
  ThrottleLimits throttle;                                    // --analyze-rps, ... (0: none)
};

class Simulator {
 public:
  // `issuer` null: no /_sim/oidc routes.
  Simulator(SimOptions options, const Clock& clock, std::unique_ptr<OidcIssuer> issuer = nullptr);
  ~Simulator();

  // The server whose timers delay answers; set before serving.
  void attach(http::Server* server);
  void handle(http::Request&& req, http::Responder respond);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lrogate::sim
