// SHA-256 of a byte string as lower-case hex (OpenSSL's EVP).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace lrogate {

std::string sha256_hex(std::string_view data);
// The 32 raw bytes (keys and tokens are remembered by them, never as text).
std::string sha256_digest(std::string_view data);
// Of the pieces one after another, without joining them first (a submit's
// key hash covers bodies of tens of MB).
std::string sha256_hex(std::initializer_list<std::string_view> pieces);

}  // namespace lrogate
