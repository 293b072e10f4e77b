// Simulator: a faithful stand-in for the Azure AI Content Understanding REST
// API (analyze, analyzeBinary, analyzerResults), for local development,
// tests and benchmarks. Behaviour per operation comes from directives in the
// submitted document URL (sim/directives.h); results are deterministic
// functions of (analyzer, input, result id, creation time), so a test can
// compare the gateway's answer with the simulator's byte for byte.
//
// It also counts what it saw, for tests: GET /_sim/stats and
// GET /_sim/operations/{id} (polls, their times, overlapping polls).
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

namespace lrogate::sim {

struct SimOptions {
  std::string key;  // required Ocp-Apim-Subscription-Key
  Directives defaults;
  std::chrono::milliseconds result_ttl{24 * 3'600'000};
  std::chrono::milliseconds latency{0};  // added to every answer
  std::vector<std::string> analyzers;    // known analyzer ids
};

class Simulator {
 public:
  Simulator(SimOptions options, const Clock& clock);
  ~Simulator();

  // The server whose timers delay answers; set before serving.
  void attach(http::Server* server);
  void handle(http::Request&& req, http::Responder respond);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lrogate::sim
