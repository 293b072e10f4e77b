#include "store/sqlite/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace lrogate::store::sqlite {

Result<void> FileLock::take(const std::string& path) {
  fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    return make_error(ErrorCode::kUnavailable, "cannot open the store lock file " + path + ".lock");
  }
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    return make_error(ErrorCode::kUnavailable, "the store " + path +
                                                   " is in use by another lrogate process; "
                                                   "use PostgreSQL to run several replicas");
  }
  return {};
}

void FileLock::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace lrogate::store::sqlite
