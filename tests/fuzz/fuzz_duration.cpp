// Duration, size and listen-address parsing: no crash, no overflow, and a
// parsed duration survives format → parse unchanged.
#include <cstdint>
#include <string>

#include "base/duration.h"
#include "config/values.h"

using namespace lrogate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  auto d = parse_duration(in);
  if (d) {
    if (d->count() < 0) __builtin_trap();
    auto again = parse_duration(format_duration(*d));
    if (!again || *again != *d) __builtin_trap();
  }
  (void)config::parse_size(in);
  (void)config::parse_listen(in);
  return 0;
}
