// The token and key readers: a JWKS document, a discovery document and a
// compact token, from the fuzzer's bytes. Whatever comes in, the readers
// answer a value or an error (no crash, no UB), a token is never accepted
// (the key set holds no key the fuzzer could have signed with), and every
// refusal says why.
#include <cstdint>
#include <string>

#include "api/jwt.h"

using namespace lrogate;

namespace {

// A JWKS with one RSA public key (2048 bits, e = 65537).
constexpr const char* kJwks =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\",\"e\":\"AQAB\",\"n\":\""
    "u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL"
    "7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3q"
    "qGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269"
    "V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn"
    "1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw"
    "\"}]}";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)api::parse_jwks(in);
  (void)api::parse_discovery(in, "https://issuer.example/");
  static const api::KeySet keys = std::move(api::parse_jwks(kJwks).value());
  api::JwtRules rules;
  rules.issuers = {"https://issuer.example/"};
  rules.audiences = {"api://lrogate"};
  auto v = api::verify_jwt(in, keys, rules, 1'800'000'000);
  if (v.ok()) __builtin_trap();
  if (v.error().message.empty()) __builtin_trap();
  return 0;
}
