#include "http/message.h"

#include <cctype>

namespace lrogate::http {

std::string_view find_header(const Headers& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name.size() == name.size()) {
      bool eq = true;
      for (std::size_t i = 0; i < name.size() && eq; ++i) {
        eq = std::tolower(static_cast<unsigned char>(h.name[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
      }
      if (eq) return h.value;
    }
  }
  return {};
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace lrogate::http
