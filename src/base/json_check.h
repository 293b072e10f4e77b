// Checks and reads JSON request bodies without building a document.
//
// check() runs Boost.JSON's basic_parser over the text with a handler that
// keeps only what the checks need: the depth, and the keys of the objects
// open at that moment (for the duplicate check). Its memory grows with those,
// never with the size of the text, so a 60 MB body of small elements costs
// what its deepest path and its widest open objects cost. Both submit routes
// run the same check, so a body is refused or accepted alike on either.
//
// top_level_members() reads a checked object's members as the exact bytes
// the client sent: a value forwarded from it is never re-serialised (big
// integers, -0, 0.1 and key order reach the upstream as they came).
//
// Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrogate::json {

struct CheckLimits {
  std::size_t max_depth = 64;
  // Keys remembered at once for the duplicate check: the members of every
  // object still open (an object's keys are forgotten when it closes).
  std::size_t max_open_members = 100'000;
};

// Why a body was refused: a code for the client's error body and a message
// safe to show it. Not an Error: it is always ErrorCode::kInvalidArgument
// (400), and what it adds is the public code naming the check that failed,
// which an Error has no field for (api::json_refused answers it through the
// ErrorCode table with this code).
struct CheckError {
  // InvalidJson, JsonTooDeep, JsonTooWide, JsonKeyTooLong (64 KiB), DuplicateJsonKey,
  // JsonNumberOutOfRange
  const char* code;
  std::string message;
};

// nullopt when text is one JSON value (RFC 8259) with no key twice in one
// object, no number beyond the range of a double, and within the limits.
std::optional<CheckError> check(std::string_view text, const CheckLimits& limits = {});

struct Member {
  std::string key;         // decoded
  std::string_view value;  // the value's bytes in the text, as sent
};

// The members of the top-level object of a text check() accepted, in order.
// Empty when the top-level value is not an object (or the text was not
// checked: the scan trusts its syntax).
std::vector<Member> top_level_members(std::string_view text);

}  // namespace lrogate::json
