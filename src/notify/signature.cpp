#include "notify/signature.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

namespace lrogate::notify {

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) return std::nullopt;
  }
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding's bytes as zeros.
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::optional<std::string> parse_secret(std::string_view text) {
  constexpr std::string_view kPrefix = "whsec_";
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  auto key = unbase64(text.substr(kPrefix.size()));
  if (!key || key->size() < 24 || key->size() > 64) return std::nullopt;
  return key;
}

std::string signature_header(const std::vector<std::string>& keys, std::string_view id,
                             std::string_view timestamp, std::string_view body) {
  std::string header;
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  auto update = [](EVP_MAC_CTX* ctx, std::string_view s) {
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  for (const auto& key : keys) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac);
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params);
    update(ctx, id);
    update(ctx, ".");
    update(ctx, timestamp);
    update(ctx, ".");
    update(ctx, body);
    EVP_MAC_final(ctx, mac, &len, sizeof mac);
    EVP_MAC_CTX_free(ctx);
    if (!header.empty()) header += ' ';
    header += "v1,";
    header += base64(std::string_view(reinterpret_cast<const char*>(mac), len));
  }
  EVP_MAC_free(hmac);
  return header;
}

}  // namespace lrogate::notify
