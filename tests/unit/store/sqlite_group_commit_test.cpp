// Group commit on SQLite (sqlite_store.cpp, insert()): inserts from many
// threads at once share transactions, yet each gets its own answer, and a
// row's conflict costs no other row.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_store.h"

namespace lrogate::store {
namespace {

std::string temp_path(const char* name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("lrogate-group-commit-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

Operation op_named(const std::string& id) {
  Operation op;
  op.id = id;
  op.analyzer_id = "a";
  op.upstream_url = "http://127.0.0.1:1/r/" + id;
  op.created_at = op.updated_at = 1000;
  return op;
}

void concurrent_inserts(bool group_commit) {
  auto opened = sqlite::open(temp_path(group_commit ? "on.db" : "off.db"), {group_commit});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  OperationStore& store = *opened.value();
  // 8 threads insert 200 ids each; ids 0-99 of every thread are shared by
  // all threads (so exactly one insert of each wins), 100-199 are its own.
  constexpr int kThreads = 8, kEach = 200, kShared = 100;
  std::atomic<int> ok{0}, conflicts{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = i < kShared ? "shared-" + std::to_string(i)
                                     : "own-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = store.insert(op_named(id));
        if (r) {
          ++ok;
        } else if (r.error().code == ErrorCode::kConflict) {
          ++conflicts;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok.load(), kShared + kThreads * (kEach - kShared));
  EXPECT_EQ(conflicts.load(), (kThreads - 1) * kShared);
  for (int t = 0; t < kThreads; ++t) {
    auto got = store.get("own-" + std::to_string(t) + "-150");
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(got.value().has_value());
    EXPECT_EQ(got.value()->upstream_url, "http://127.0.0.1:1/r/own-" + std::to_string(t) + "-150");
  }
  auto shared = store.get("shared-7");
  ASSERT_TRUE(shared.ok());
  EXPECT_TRUE(shared.value().has_value());
}

TEST(SqliteGroupCommit, EveryInsertGetsItsOwnAnswer) { concurrent_inserts(true); }

TEST(SqliteGroupCommit, TheSameWithoutGroups) { concurrent_inserts(false); }

}  // namespace
}  // namespace lrogate::store
