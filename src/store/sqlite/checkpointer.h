// WAL checkpoints, off the request path. SQLite's automatic checkpoint runs
// inside whichever commit crosses 1,000 WAL pages (4 MB), copying the pages
// and syncing the file there: a stall of several ms for that request, four
// times a second at 1,000 submits/s. Instead this thread copies pages every
// 200 ms on its own connection (PASSIVE: it neither waits for nor blocks
// readers and the writer), and once the WAL passes kRestartFrames (32 MB)
// it makes the WAL start over (RESTART: new writes wait while the little
// that is left is copied), which bounds the WAL. The writer connection
// turns its automatic checkpoints off (sqlite_store.cpp, open()).
#pragma once

#include <sqlite3.h>

#include <string>
#include <thread>

#include "base/result.h"
#include "base/thread_annotations.h"

namespace lrogate::store::sqlite {

class Checkpointer {
 public:
  Checkpointer() = default;
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;
  ~Checkpointer() { stop(); }

  // Opens its connection on `path` and starts the thread.
  Result<void> start(const std::string& path);
  // Stops the thread (waits for a checkpoint in progress) and closes the
  // connection; the destructor does it too.
  void stop();

 private:
  static constexpr int kRestartFrames = 8192;
  void run();

  sqlite3* db_ = nullptr;  // the thread's alone once it runs
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace lrogate::store::sqlite
