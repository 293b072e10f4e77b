// One process per SQLite file: an advisory lock (flock) on PATH.lock, held
// while the store is open. A second process opening the file gets a clear
// error naming PostgreSQL; this is what makes SqliteStore::exclusive() true,
// and releasing every lease at start-up safe.
#pragma once

#include <string>

#include "base/result.h"

namespace lrogate::store::sqlite {

class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() { release(); }

  // Takes the lock of the store at `path`, without waiting: kUnavailable
  // when another process (or another open in this one) holds it.
  Result<void> take(const std::string& path);
  // Lets it go (the destructor does too).
  void release();

 private:
  int fd_ = -1;
};

}  // namespace lrogate::store::sqlite
