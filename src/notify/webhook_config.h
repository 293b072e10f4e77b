// The webhook dispatcher's settings (notify/dispatcher.h), filled by
// config/ from the --webhook-* flags.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace lrogate::notify {

struct WebhookConfig {
  // Receivers: --webhook-allowed-hosts (none: no submit may name a
  // callback) and --webhook-allowed-networks (special addresses allowed).
  std::vector<std::string> allowed_hosts;
  std::vector<std::string> allowed_networks;
  // --webhook-secrets-file: "tenant:whsec_..." a line, one or two a tenant.
  std::string secrets_file;
  std::chrono::milliseconds timeout{10'000};  // one attempt, connect to answer
  // The waits after the 1st, 2nd, ... failed attempt; past the last the
  // delivery has failed (Standard Webhooks' schedule: 8 attempts over ~27 h).
  std::vector<std::chrono::milliseconds> retry_schedule{
      std::chrono::seconds(5), std::chrono::minutes(5), std::chrono::minutes(30),
      std::chrono::hours(2),   std::chrono::hours(5),   std::chrono::hours(10),
      std::chrono::hours(10)};
  int max_in_flight = 64;         // attempts awaiting an answer, all receivers
  int max_in_flight_per_url = 16;  // ... one receiver (a callback URL)
  bool cloudevents = false;       // --webhook-format cloudevents
};

}  // namespace lrogate::notify
