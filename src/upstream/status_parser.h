// Reads an upstream status body: {"status": "...", "error": {"code", "message"}}.
// Status names are compared case-insensitively (Document Intelligence sends
// lowercase); "Cancelled" is read as Canceled.
#pragma once

#include <string>
#include <string_view>

namespace lrogate::upstream {

enum class Phase { kNotStarted, kRunning, kSucceeded, kFailed, kCanceled, kUnknown };

const char* phase_name(Phase p);
Phase parse_phase(std::string_view name);

struct StatusBody {
  bool json = false;  // the body was one JSON object
  Phase phase = Phase::kUnknown;
  std::string status;         // as sent, truncated to 64 bytes
  std::string error_code;     // from error.code, if any
  std::string error_message;  // from error.message, if any (truncated to 2 KiB)
};

StatusBody parse_status_body(std::string_view body);

// {"error":{"code","message"}} of an error answer; falls back to the given
// code and a short excerpt when the body is not that shape.
void parse_error_body(std::string_view body, std::string* code, std::string* message);

}  // namespace lrogate::upstream
