#include "api/replies.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <set>
#include <string>

namespace lrogate::api {
namespace {

std::string header(const http::Response& r, std::string_view name) {
  return std::string(http::find_header(r.headers, name));
}

// The error body's code and message.
std::pair<std::string, std::string> body_of(const http::Response& r) {
  auto v = boost::json::parse(r.body);
  const auto& e = v.at("error").as_object();
  return {std::string(e.at("code").as_string()), std::string(e.at("message").as_string())};
}

// Every ErrorCode, up to kInternal (kept last in base/result.h).
std::vector<ErrorCode> every_code() {
  std::vector<ErrorCode> codes;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    codes.push_back(static_cast<ErrorCode>(i));
  }
  return codes;
}

TEST(ErrorStatus, EveryCodeHasAnEntryOfItsOwn) {
  std::set<int> statuses;
  std::set<std::string_view> codes;
  for (ErrorCode c : every_code()) {
    ErrorStatus s = error_status(c);
    EXPECT_GE(s.status, 400) << static_cast<int>(c);
    EXPECT_LT(s.status, 600) << static_cast<int>(c);
    EXPECT_FALSE(s.code.empty()) << static_cast<int>(c);
    // Only kInternal reaches the 500 after the switch: a code added without
    // an entry would land there too, and show up here as a duplicate.
    EXPECT_TRUE(statuses.insert(s.status).second) << static_cast<int>(c);
    EXPECT_TRUE(codes.insert(s.code).second) << static_cast<int>(c);
  }
  EXPECT_EQ(statuses.size(), every_code().size());
}

// The statuses and codes clients see today (tests/integration checks them on
// the wire): changing one is a change of the HTTP contract.
TEST(ErrorStatus, TheTable) {
  struct Row {
    ErrorCode code;
    int status;
    const char* public_code;
    int retry_after_s;
  };
  const Row rows[] = {
      {ErrorCode::kInvalidArgument, 400, "InvalidRequest", 0},
      {ErrorCode::kNotFound, 404, "NotFound", 0},
      {ErrorCode::kConflict, 409, "Conflict", 0},
      {ErrorCode::kUnavailable, 503, "StoreUnavailable", 2},
      {ErrorCode::kUnauthenticated, 401, "Unauthorized", 0},
      {ErrorCode::kInternal, 500, "InternalError", 0},
  };
  ASSERT_EQ(std::size(rows), every_code().size());
  for (const Row& row : rows) {
    ErrorStatus s = error_status(row.code);
    EXPECT_EQ(s.status, row.status) << row.public_code;
    EXPECT_EQ(s.code, row.public_code);
    EXPECT_EQ(s.retry_after_s, row.retry_after_s) << row.public_code;
  }
}

TEST(ErrorReply, TheMessageGoesOutTheDetailDoesNot) {
  http::Response r = error_reply(
      make_error(ErrorCode::kInvalidArgument, "invalid skipToken", "row 7 of /var/lib/x.db"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body_of(r),
            std::make_pair(std::string("InvalidRequest"), std::string("invalid skipToken")));
  EXPECT_EQ(r.body.find("/var/lib"), std::string::npos);
  EXPECT_EQ(header(r, "retry-after"), "");
  // A more precise code keeps the table's status.
  r = error_reply(make_error(ErrorCode::kInvalidArgument, "bad"), "InvalidSkipToken");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body_of(r).first, "InvalidSkipToken");
  r = error_reply(make_error(ErrorCode::kUnavailable, "later"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(header(r, "retry-after"), "2");
}

TEST(ErrorReply, AnyStoreFailureReadsAsUnavailable) {
  for (ErrorCode c : every_code()) {
    http::Response r = store_unavailable(make_error(c, "disk I/O error", "secret-ish detail"));
    EXPECT_EQ(r.status, 503) << static_cast<int>(c);
    EXPECT_EQ(body_of(r),
              std::make_pair(std::string("StoreUnavailable"),
                             std::string("the operation store is unavailable; retry shortly")));
    EXPECT_EQ(header(r, "retry-after"), "2");
    EXPECT_EQ(r.body.find("detail"), std::string::npos);
  }
}

}  // namespace
}  // namespace lrogate::api
