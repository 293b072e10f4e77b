// The pool file's secrets (config/pool_file.h): where a resource's key or
// client secret is read from (an environment variable or a file, never the
// pool file itself), and the bounded file read that the pool file and the
// secret files share. Pure reads, safe on any thread; errors never hold a
// secret's value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace lrogate::config {

struct SecretSource {
  std::string key;                     // the pool file's key that named it, e.g. "auth.key_env"
  std::string env;                     // an environment variable's name, or
  std::string file;                    // a file's path
  std::uint32_t line = 0, column = 0;  // where the key is in the pool file
};

// Whether name may name an environment variable: [A-Za-z_][A-Za-z0-9_]*, at most 128.
bool valid_env_name(std::string_view name);

// A regular file's bytes, at most limit of them. FIFOs, devices and
// directories are refused without being waited on.
Result<std::string> read_small_file(const std::string& path, std::size_t limit);

// The secret s names: the variable's value (set and non-empty), or the
// file's contents (at most kMaxSecretFile bytes, trailing whitespace
// trimmed, non-empty); no control characters in either. The error names the
// variable or the file, never the value.
Result<std::string> read_secret(const SecretSource& s);

}  // namespace lrogate::config
