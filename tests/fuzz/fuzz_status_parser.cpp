// The upstream status parser (Azure's shape and a generic one with dotted
// paths, and the usage shapes), the token endpoint answer readers and the Retry-After reader on
// arbitrary bodies and headers.
#include <cstdint>
#include <string>

#include "base/strings.h"
#include "upstream/auth/credential.h"
#include "upstream/retry_after.h"
#include "upstream/status_parser.h"

using namespace lrogate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto s = upstream::parse_status_body(in);
  if (s.status.size() > 64 || s.error_message.size() > 2048) __builtin_trap();
  if (!s.json && s.phase != upstream::Phase::kUnknown) __builtin_trap();
  upstream::StatusShape shape;
  shape.status_field = "job.state";
  shape.succeeded = split_list("done,ok");
  shape.failed = {"error"};
  shape.result_field = "output.items";
  shape.error_field = "problem.detail";
  auto g = upstream::parse_status_body(in, shape);
  if (g.status.size() > 64 || g.error_message.size() > 2048) __builtin_trap();
  if (g.json && !g.status.empty() && g.phase == upstream::Phase::kUnknown) __builtin_trap();
  // Usage read in the same pass: never negative, never past 2^53, and it
  // changes nothing else the parser reads.
  for (auto kind : {upstream::StatusShape::Usage::kContentUnderstanding,
                    upstream::StatusShape::Usage::kDocumentIntelligence}) {
    upstream::StatusShape metered;
    metered.usage = kind;
    auto u = upstream::parse_status_body(in, metered);
    if (u.pages < 0 || u.tokens < 0 || u.pages > (std::int64_t{1} << 53)) __builtin_trap();
    if (u.tokens > (std::int64_t{1} << 53)) __builtin_trap();
    if (u.phase != s.phase || u.status != s.status || u.json != s.json) __builtin_trap();
  }
  if (auto t = upstream::parse_token_answer(in, 1'000'000);
      t && (t->value.empty() || t->expires_at <= 1'000'000)) {
    __builtin_trap();
  }
  if (upstream::token_error_reason(401, in).size() > 400) __builtin_trap();
  std::string code, message;
  upstream::parse_error_body(in, &code, &message);
  if (message.empty()) __builtin_trap();
  auto ra = upstream::parse_retry_after_value(in.substr(0, 80), 1'700'000'000'000);
  if (ra && (ra->count() < 0 || ra->count() > 3'600'000)) __builtin_trap();
  http::Headers h{{"retry-after-ms", std::string(in.substr(0, 20))}};
  (void)upstream::parse_retry_after(h, 0);
  return 0;
}
