// The submit path shared by the compatible route and POST /operations:
// input checks, idempotency keys, the upstream call with its retry budget,
// the durable record. The caller turns an accepted submit into its own
// answer shape.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "api/routes.h"
#include "http/message.h"

namespace lrogate::api {

struct SubmitInput {
  std::string tenant = "default";
  std::string analyzer_id;
  std::string body;
  std::string content_type;
  std::string idempotency_key;  // empty: none
};

struct SubmitOutcome {
  std::optional<http::Response> error;  // set when the submit did not go through
  std::string operation_id;
  bool replay = false;  // an earlier request with the same key was answered
};

// Reads Idempotency-Key or Repeatability-Request-ID (+ Repeatability-First-Sent)
// into *key; returns an error answer when they are malformed.
std::optional<http::Response> read_idempotency_key(const http::Request& req, std::string* key);

// Validates, then submits; done runs once, on any thread.
void submit_operation(ApiContext& ctx, SubmitInput in, std::function<void(SubmitOutcome)> done);

}  // namespace lrogate::api
