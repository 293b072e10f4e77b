// The api-keys file parser: any file either parses into valid entries or
// fails with a message that names a line and never echoes the file.
#include <cstdint>
#include <string>

#include "api/api_keys.h"

using namespace lrogate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = api::parse_api_keys(in);
  if (r) {
    for (const auto& e : r.value()) {
      if (e.tenant.empty() || e.tenant.size() > 64 || e.digest.size() != 32) __builtin_trap();
    }
  } else if (r.error().message.rfind("api keys file, line ", 0) != 0) {
    __builtin_trap();
  }
  return 0;
}
