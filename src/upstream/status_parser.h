// Reads an upstream status body: by default Azure's
// {"status": "...", "error": {"code", "message"}}; a StatusShape names other
// fields and terminal values (the generic adapter). Status names are compared
// case-insensitively (Document Intelligence sends lowercase); "Cancelled" is
// read as Canceled.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lrogate::upstream {

enum class Phase { kNotStarted, kRunning, kSucceeded, kFailed, kCanceled, kUnknown };

const char* phase_name(Phase p);
Phase parse_phase(std::string_view name);

// Where a status body keeps what the gateway reads. Fields are dotted paths
// into nested objects ("job.state").
struct StatusShape {
  std::string status_field = "status";
  // Terminal values. All empty: Azure's names (NotStarted, Running,
  // Succeeded, Failed, Canceled); any other value is then unknown. Any set:
  // a value in none of them means the operation is still running.
  std::vector<std::string> succeeded, failed, canceled;
  std::vector<std::string> not_started;  // read as NotStarted rather than Running
  std::string result_field;              // must be present when succeeded ("": not checked)
  std::string error_field = "error";     // {"code","message"} or a message string
  // What the final body tells of the analysis's usage (docs/design.md,
  // "Usage and quotas"), read in the same pass:
  //   kContentUnderstanding: the top-level "usage" object: pages =
  //     documentPagesMinimal + documentPagesBasic + documentPagesStandard;
  //     tokens = contextualizationTokens + every value of its "tokens" object;
  //   kDocumentIntelligence: pages = the length of analyzeResult.pages.
  // A field missing counts 0; a value that is not a number >= 0 is ignored.
  enum class Usage { kNone, kContentUnderstanding, kDocumentIntelligence };
  Usage usage = Usage::kNone;
  bool operator==(const StatusShape&) const = default;
};

struct StatusBody {
  bool json = false;            // the body was one JSON object
  bool result_present = false;  // shape.result_field was found (or not asked for)
  Phase phase = Phase::kUnknown;
  std::string status;         // as sent, truncated to 64 bytes
  std::string error_code;     // from error.code, if any
  std::string error_message;  // from error.message, if any (truncated to 2 KiB)
  std::int64_t pages = 0;     // as shape.usage reads them; 0 when it reads none
  std::int64_t tokens = 0;
};

StatusBody parse_status_body(std::string_view body, const StatusShape& shape = {});

// {"error":{"code","message"}} of an error answer; falls back to the given
// code and a short excerpt when the body is not that shape.
void parse_error_body(std::string_view body, std::string* code, std::string* message);

}  // namespace lrogate::upstream
