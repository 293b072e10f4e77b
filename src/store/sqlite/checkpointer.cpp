#include "store/sqlite/checkpointer.h"

#include <chrono>

#include "base/log.h"

namespace lrogate::store::sqlite {

Result<void> Checkpointer::start(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    return make_error(ErrorCode::kUnavailable, "cannot open the SQLite store " + path,
                      db_ ? sqlite3_errmsg(db_) : "");
  }
  thread_ = std::thread([this] { run(); });
  return {};
}

void Checkpointer::stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (db_) sqlite3_close(db_);
  db_ = nullptr;
}

void Checkpointer::run() {
  MutexLock lock(mu_);
  bool warned = false;
  while (!cv_.wait_for(mu_, std::chrono::milliseconds(200),
                       [this]() REQUIRES(mu_) { return stop_; })) {
    // A connection learns that the file is in WAL mode by reading it;
    // until it has, a checkpoint is a silent no-op.
    sqlite3_exec(db_, "SELECT 1 FROM sqlite_master LIMIT 1", nullptr, nullptr, nullptr);
    int wal_frames = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &done);
    if (rc == SQLITE_OK && wal_frames > kRestartFrames) {
      // Under steady writes a passive checkpoint never catches up, so
      // the WAL would never start over: now and then, briefly hold new
      // writers back until the rest is copied; the next write restarts it.
      rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_RESTART, &wal_frames, &done);
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && !warned) {
      warned = true;
      log::warn("store checkpoint failed", {{"detail", sqlite3_errmsg(db_)}});
    }
  }
}

}  // namespace lrogate::store::sqlite
