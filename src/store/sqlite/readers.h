// The read-only connections that serve get(), the hot read (every status
// poll): WAL lets them read while the writer writes, and each has its own
// lock and prepared statement, so polls wait neither for the writer's lock
// nor for each other (docs/design.md, "SQLite").
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/thread_annotations.h"
#include "store/operation_record.h"

namespace lrogate::store::sqlite {

class Readers {
 public:
  Readers() = default;
  Readers(const Readers&) = delete;
  Readers& operator=(const Readers&) = delete;
  ~Readers() { close(); }

  // Opens each connection on `path`; before the migrations.
  Result<void> open(const std::string& path);
  // Prepares each connection's get; after the migrations (it needs the schema).
  Result<void> prepare();
  // Finalizes the statements and closes the connections (the destructor
  // does it too); waits for a get() in progress on each.
  void close();

  // The record `id` from the first reader free, or, all busy, from one
  // taken in turn. Thread-safe.
  Result<std::optional<Operation>> get(std::string_view id);

 private:
  static constexpr unsigned kReaders = 4;
  struct Reader {
    Mutex mu;
    sqlite3* db GUARDED_BY(mu) = nullptr;
    sqlite3_stmt* get GUARDED_BY(mu) = nullptr;
  };
  // One get() on a reader the caller holds.
  static Result<std::optional<Operation>> read_one(Reader& r, std::string_view id) REQUIRES(r.mu);

  Reader readers_[kReaders];
  std::atomic<unsigned> next_{0};  // where get() starts looking
};

}  // namespace lrogate::store::sqlite
