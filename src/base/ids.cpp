#include "base/ids.h"

#include <cctype>
#include <cstdio>
#include <random>

namespace lrogate {
namespace {

bool valid_id(std::string_view id, std::size_t max_len) {
  if (id.empty() || id.size() > max_len) return false;
  if (!std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool valid_analyzer_id(std::string_view id) { return valid_id(id, 64); }
bool valid_operation_id(std::string_view id) { return valid_id(id, 128); }

std::string random_uuid() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  std::uint64_t a = gen(), b = gen();
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  // xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx from a's 64 bits then b's, by hand:
  // snprintf's formatting was a visible part of every request's cost.
  constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  std::size_t pos = 0;
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) out[pos++] = kHex[(v >> (4 * i)) & 0xF];
  };
  put(a >> 32, 8);
  ++pos;
  put(a >> 16, 4);
  ++pos;
  put(a, 4);
  ++pos;
  put(b >> 48, 4);
  ++pos;
  put(b, 12);
  return out;
}

}  // namespace lrogate
