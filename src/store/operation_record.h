// The operation record as the store keeps it (docs/design.md, "The record
// and its states").
// Plain data: the rules for changing it live in core/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace lrogate::store {

enum class Status { kNotStarted, kRunning, kSucceeded, kFailed, kCanceled };

// What an operation is: an analysis (the default), or the creation of an
// analyzer (PUT /pro-mode/content-analyzers/{id}), which the poller follows
// the same way and an analyze of that analyzer waits for.
enum class Kind { kAnalysis, kAnalyzerCreation };

const char* status_name(Status s);
// Case-insensitive; nullopt for anything else.
std::optional<Status> parse_status(std::string_view name);
inline bool is_terminal(Status s) { return s != Status::kNotStarted && s != Status::kRunning; }
// "analysis" / "analyzerCreation" (the store's column and the native API's "kind").
const char* kind_name(Kind k);
std::optional<Kind> parse_kind(std::string_view name);

struct Operation {
  std::string id;  // the upstream result id
  std::string tenant = "default";
  std::string analyzer_id;
  std::string upstream_url;  // the upstream's Operation-Location
  Status status = Status::kNotStarted;
  Millis created_at = 0;
  Millis updated_at = 0;
  std::optional<Millis> next_poll_at;  // set while not terminal
  int poll_count = 0;                  // upstream polls made
  int attempts = 0;                    // consecutive transient failures
  std::string lease_owner;
  std::optional<Millis> lease_until;
  std::int64_t fence = 0;   // incremented by every claim (fencing token)
  std::string result;       // the upstream's final body, byte for byte
  std::string result_type;  // its Content-Type
  std::string error_code;
  std::string error_message;
  std::optional<Millis> retrieved_at;
  std::optional<Millis> expires_at;
  std::string idempotency_key;
  Kind kind = Kind::kAnalysis;
  // The upstream pool resource that accepted it (upstream/pool_settings.h);
  // every poll and lookup of it goes there. Rows stored before pools read
  // "default", the pool of one made from the single-endpoint flags.
  std::string resource = "default";
  // The submitted document's size band, 0..15 as core/ cuts sizes (the
  // poller's learned durations are kept per band); -1 when the submit did
  // not tell its size, as rows stored before bands read.
  int size_band = -1;
  // Where its completion event goes (a submit's callbackUrl: docs/design.md,
  // "Completion webhooks"); empty: nowhere.
  std::string callback_url;
  // The submitted body's size as the gateway received it (usage's bytes
  // in); 0 for rows stored before it was kept.
  std::int64_t request_bytes = 0;
  // What a later submit asking to reuse a result matches (docs/design.md,
  // "Reuse of results"): the SHA-256 of its analyzer, api-version, query,
  // content type and document bytes; empty: this one may not be reused (it
  // named a URL, or did not ask for reuse).
  std::string reuse_key;
};

}  // namespace lrogate::store
