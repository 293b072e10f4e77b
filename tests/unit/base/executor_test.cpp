#include "base/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace lrogate {
namespace {

TEST(BoundedExecutor, RunsTasksAndRefusesPastItsQueue) {
  BoundedExecutor ex(1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  std::atomic<int> ran{0};
  ASSERT_TRUE(ex.try_post([&] {
    started.set_value();
    gate.wait();
    ++ran;
  }));
  started.get_future().wait();  // the one thread is busy now
  EXPECT_TRUE(ex.try_post([&] { ++ran; }));
  EXPECT_TRUE(ex.try_post([&] { ++ran; }));
  EXPECT_FALSE(ex.try_post([&] { ++ran; }));  // two wait already
  release.set_value();
  ex.stop();  // runs what was queued
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(ex.try_post([&] { ++ran; }));  // stopped
}

TEST(BoundedExecutor, WorkThatMustRunQueuesPastTheBound) {
  BoundedExecutor ex(1, 1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  std::atomic<int> ran{0};
  ASSERT_TRUE(ex.try_post([&] {
    started.set_value();
    gate.wait();
    ++ran;
  }));
  started.get_future().wait();
  EXPECT_TRUE(ex.try_post([&] { ++ran; }));
  EXPECT_FALSE(ex.try_post([&] { ++ran; }));  // the bound holds for try_post
  EXPECT_TRUE(ex.post([&] { ++ran; }));       // not for post
  EXPECT_TRUE(ex.post([&] { ++ran; }));
  release.set_value();
  ex.stop();
  EXPECT_EQ(ran.load(), 4);
  EXPECT_FALSE(ex.post([&] { ++ran; }));  // stopped: the caller runs it itself
}

TEST(BoundedExecutor, AThrowingTaskDoesNotStopIt) {
  BoundedExecutor ex(2, 8);
  std::atomic<int> ran{0};
  ASSERT_TRUE(ex.try_post([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(ex.try_post([&] { ++ran; }));
  ex.stop();
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace lrogate
