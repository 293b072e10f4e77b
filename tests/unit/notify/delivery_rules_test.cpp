#include "notify/delivery_rules.h"

#include <gtest/gtest.h>

namespace lrogate::notify {
namespace {

using std::chrono::milliseconds;
using store::DeliveryStatus;

const std::vector<milliseconds> kSchedule{milliseconds(5'000), milliseconds(300'000),
                                          milliseconds(1'800'000)};

http::ClientResult answer(int status) {
  http::ClientResult r;
  r.response.emplace();
  r.response->status = status;
  return r;
}

http::ClientResult no_answer(http::FailureKind kind, std::string error) {
  http::ClientResult r;
  r.failure = kind;
  r.error = std::move(error);
  return r;
}

TEST(DeliveryRules, AnyTwoHundredDelivers) {
  for (int s : {200, 201, 202, 204, 299}) {
    auto a = judge(answer(s), 0, 1000, kSchedule, 0.5);
    EXPECT_EQ(a.status, DeliveryStatus::kDelivered) << s;
    EXPECT_EQ(a.last_status, s);
    EXPECT_TRUE(a.last_error.empty());
  }
}

TEST(DeliveryRules, GoneDisablesTheReceiver) {
  auto a = judge(answer(410), 0, 1000, kSchedule, 0.5);
  EXPECT_EQ(a.status, DeliveryStatus::kFailed);
  EXPECT_TRUE(a.disable_url);
}

TEST(DeliveryRules, FailuresWaitTheScheduleWithJitterThenGiveUp) {
  // attempts_before 0: the first attempt failed, the first wait follows.
  auto low = judge(answer(500), 0, 1000, kSchedule, 0.0);
  auto high = judge(answer(500), 0, 1000, kSchedule, 0.999999);
  EXPECT_EQ(low.status, DeliveryStatus::kPending);
  EXPECT_EQ(low.next_attempt_at, 1000 + 4'000);  // -20 %
  EXPECT_NEAR(static_cast<double>(high.next_attempt_at), 1000 + 6'000, 1);  // +20 %
  auto third = judge(answer(503), 2, 1000, kSchedule, 0.5);
  EXPECT_EQ(third.next_attempt_at, 1000 + 1'800'000);
  auto over = judge(answer(503), 3, 1000, kSchedule, 0.5);
  EXPECT_EQ(over.status, DeliveryStatus::kFailed);
  EXPECT_FALSE(over.disable_url);
  EXPECT_NE(over.last_error.find("gave up after 4 attempts"), std::string::npos);
}

TEST(DeliveryRules, RedirectsAndTransportFailuresAreRetriedNotFollowed) {
  auto moved = judge(answer(302), 0, 0, kSchedule, 0.5);
  EXPECT_EQ(moved.status, DeliveryStatus::kPending);
  EXPECT_EQ(moved.last_status, 302);
  auto timeout = judge(no_answer(http::FailureKind::kTimeout, "timed out"), 0, 0, kSchedule, 0.5);
  EXPECT_EQ(timeout.status, DeliveryStatus::kPending);
  EXPECT_EQ(timeout.last_status, 0);
  EXPECT_NE(timeout.last_error.find("timed out"), std::string::npos);
}

TEST(DeliveryRules, ARefusedAddressFailsAtOnce) {
  auto a = judge(no_answer(http::FailureKind::kConnect, "the address is not allowed"), 0, 0,
                 kSchedule, 0.5);
  EXPECT_EQ(a.status, DeliveryStatus::kFailed);
  EXPECT_NE(a.last_error.find("private"), std::string::npos);
}

}  // namespace
}  // namespace lrogate::notify
