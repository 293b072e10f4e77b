// Analyzers: the custom analyzers of a simulated Content Understanding
// resource, created, read and deleted as the REST API (2025-05-01-preview,
// specification/ai/data-plane/ContentUnderstanding/.../ContentUnderstanding.json) does:
//   PUT    /contentunderstanding/analyzers/{id}?api-version=V[&allowReplace=true]
//          JSON analyzer → 201 (200 when it replaced one) with the analyzer,
//          status "creating", and Operation-Location:
//          {base}/contentunderstanding/analyzers/{id}/operations/{opId}?api-version=V
//          An existing id without allowReplace=true → 409 Conflict.
//   GET    .../analyzers/{id}/operations/{opId} → {"id","status":"Running"} until
//          the creation is over, then "Succeeded" with "result" (the analyzer,
//          status "ready") or "Failed" with "error"
//   GET    .../analyzers/{id} → 200 analyzer (status creating|ready|failed), or 404 ModelNotFound
//   DELETE .../analyzers/{id} → 204, or 404 ModelNotFound
// Creation takes the registry's duration unless the analyzer's description
// holds directives (sim/directives.h), e.g. "Receipts sim_duration=5s
// sim_outcome=Failed"; only sim_duration and sim_outcome=Succeeded|Failed
// apply to analyzers, any other sim_* word is a 400.
//
// AnalyzerRegistry is the state (pure: times are passed in); thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/result.h"
#include "base/thread_annotations.h"
#include "http/router.h"
#include "sim/directives.h"
#include "sim/route_context.h"

namespace lrogate::sim {

enum class AnalyzerState { kUnknown, kCreating, kReady, kFailed };

// ^[a-zA-Z0-9._-]{1,64}$, the spec's analyzerId pattern.
bool valid_spec_analyzer_id(std::string_view id);

// The sim_* words of an analyzer description as directives over `defaults`.
Result<Directives> analyzer_directives(std::string_view description, const Directives& defaults);

class AnalyzerRegistry {
 public:
  // `create_duration`: default creation time; `operation_ttl`: how long a
  // creation operation stays readable after it is over.
  AnalyzerRegistry(std::chrono::milliseconds create_duration,
                   std::chrono::milliseconds operation_ttl);

  // An analyzer that is ready from `now` on (the simulator's --analyzers).
  void add_ready(const std::string& id, Millis now);

  struct Created {
    boost::json::object analyzer;  // as the PUT answers it
    std::string operation_id;
    bool replaced = false;  // 200 rather than 201
  };
  // Starts creating `id` from the request `body`. Errors: kInvalidArgument
  // (a bad directive in the description), kConflict (id exists, !allow_replace).
  Result<Created> create(const std::string& id, const boost::json::object& body, bool allow_replace,
                         Millis now);

  AnalyzerState state(std::string_view id, Millis now) const;
  // The analyzer as GET answers it, or nullopt when unknown.
  std::optional<boost::json::object> get(std::string_view id, Millis now) const;
  // Forgets `id`; false when it was unknown. Its creation operation stays readable.
  bool remove(std::string_view id);
  // The status body of creation operation `op_id` of `analyzer_id`, or
  // nullopt when unknown or expired.
  std::optional<boost::json::object> operation(std::string_view analyzer_id, std::string_view op_id,
                                               Millis now) const;

 private:
  struct Entry {
    boost::json::object analyzer;  // without status
    Millis ready_at = 0;           // when creation is over
    bool fails = false;            // ... and whether it failed
  };
  struct Operation {
    std::string analyzer_id;
    Entry entry;  // what the PUT asked for, kept when the analyzer is replaced or deleted
  };
  static boost::json::object render(const Entry& e, Millis now);

  const std::chrono::milliseconds create_duration_;  // constant after construction
  const std::chrono::milliseconds operation_ttl_;    // constant after construction
  mutable Mutex mu_;
  std::map<std::string, Entry, std::less<>> analyzers_ GUARDED_BY(mu_);
  std::map<std::string, Operation, std::less<>> operations_ GUARDED_BY(mu_);
};

// Adds the routes above; `registry` and `ctx` must outlive `router`.
void add_analyzer_routes(http::Router& router, AnalyzerRegistry& registry, const RouteContext& ctx);

}  // namespace lrogate::sim
