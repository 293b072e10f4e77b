// SHA-256 of a byte string as lower-case hex (OpenSSL's EVP).
#pragma once

#include <string>
#include <string_view>

namespace lrogate {

std::string sha256_hex(std::string_view data);

}  // namespace lrogate
