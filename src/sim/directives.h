// Simulator directives: how one simulated operation behaves, read from the
// query of the document URL the client submits, e.g.
//   https://docs.example/a.pdf?sim_duration=2s&sim_outcome=Failed&sim_poll_faults=429:2,500
// so each test drives its own operation through any path. Unknown sim_*
// parameters are errors (a typo must not silently test the happy path).
//
// Fault tokens (applied to successive polls or submit attempts, in order):
//   CODE         answer with that HTTP status (429, 500, 502, 503, 504, 404, ...)
//   CODE:N       ... with Retry-After: N (seconds)
//   CODE:dateN   ... with Retry-After as an HTTP-date N seconds ahead
//   CODE:msN     ... with retry-after-ms: N
//   hang         never answer (the client must time out)
//   slow         trickle the answer 16 bytes at a time, 1 s apart
//   reset        cut the connection in the middle of the body
//   badjson      200 with a body that is not JSON
//   unknown      200 with {"status":"Pondering"}
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace lrogate::sim {

struct Fault {
  enum class Kind { kStatus, kHang, kSlow, kReset, kBadJson, kUnknownStatus };
  Kind kind = Kind::kStatus;
  int status = 500;
  enum class After { kNone, kSeconds, kDate, kMillis } after = After::kNone;
  int after_value = 0;
};

struct Directives {
  std::chrono::milliseconds duration{5'000};
  // The document's own sim_duration=: it wins over --analyzer-duration
  // (sim/durations.h), which only replaces the default.
  bool duration_given = false;
  std::string outcome = "Succeeded";  // Succeeded | Failed | Canceled
  std::vector<Fault> poll_faults;
  std::vector<Fault> submit_faults;
  int retry_after_s = -1;         // Retry-After on NotStarted/Running answers (-1: none)
  std::size_t result_bytes = 0;   // pad the result's markdown to about this size
  bool foreign_location = false;  // Operation-Location on another host
};

Result<Fault> parse_fault(std::string_view token);
// Reads sim_* parameters of `url` over `defaults`.
Result<Directives> parse_directives(std::string_view url, const Directives& defaults);

}  // namespace lrogate::sim
