#include "config/pool_secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <system_error>

#include "config/pool_file.h"
#include "config/values.h"

namespace lrogate::config {
namespace {

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

bool valid_env_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  if (std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

Result<std::string> read_small_file(const std::string& path, std::size_t limit) {
  auto sys_error = [](const char* what) {
    return invalid(std::string(what) + ": " + std::generic_category().message(errno));
  };
  // O_NONBLOCK: opening a FIFO does not wait for a writer; fstat refuses it.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (f.fd < 0) return sys_error("cannot open");
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return sys_error("cannot read");
  if (!S_ISREG(st.st_mode)) return invalid("not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > limit) {
    return invalid("larger than " + format_size(limit));
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("cannot read");
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    // The file may grow between fstat and here.
    if (out.size() > limit) return invalid("larger than " + format_size(limit));
  }
  return out;
}

Result<std::string> read_secret(const SecretSource& s) {
  std::string value;
  std::string from;
  if (!s.env.empty()) {
    const char* e = std::getenv(s.env.c_str());
    if (!e || !*e) return invalid("the environment variable " + s.env + " is not set or empty");
    value = e;
    from = "the environment variable " + s.env;
    if (value.size() > kMaxSecretFile) {
      return invalid(from + " is longer than " + format_size(kMaxSecretFile));
    }
  } else {
    auto text = read_small_file(s.file, kMaxSecretFile);
    if (!text) return invalid(s.file + ": " + text.error().message);
    value = std::move(text.value());
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
      value.pop_back();
    }
    if (value.empty()) return invalid(s.file + ": empty");
    from = s.file;
  }
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return invalid(from + " holds control characters");
  }
  return value;
}

}  // namespace lrogate::config
