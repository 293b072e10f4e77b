// Result<T>: a value or an Error, passed between parts instead of exceptions.
// This is the one error vocabulary of the parts: a function that can fail
// returns a Result (or std::optional when "none" needs no reason); it does
// not report the failure as a bool with an out-parameter or a -1.
//
// Error::message is safe to show a client; Error::detail is for the log only
// (it may name files, addresses or library errors, never a secret). Neither
// ever holds a secret, a token or an authority's raw answer.
//
// The API answers an Error with the status and public code of one table,
// api::error_status (src/api/replies.h); docs/design.md, "The HTTP contract".
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace lrogate {

enum class ErrorCode {
  kInvalidArgument,  // bad input from a client or a config file
  kNotFound,
  kConflict,     // uniqueness or precondition failed
  kUnavailable,  // a dependency (store, upstream) cannot answer now; retry later
  // Credentials refused: a client's bearer token, or the gateway's own at its
  // token authority (a configuration fault; retrying soon will not help).
  kUnauthenticated,
  kInternal,  // keep last: tests walk every code up to it
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string detail;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}  // NOLINT
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *e_; }

 private:
  std::optional<Error> e_;
};

inline Error make_error(ErrorCode code, std::string message, std::string detail = {}) {
  return Error{code, std::move(message), std::move(detail)};
}

}  // namespace lrogate
