// `lrogate simulate`: the upstream simulator on its own port.
#include "app/commands.h"
#include "base/log.h"
#include "base/strings.h"
#include "http/server.h"
#include "sim/simulator.h"

namespace lrogate::app {

int run_simulate(const config::SimulateConfig& c) {
  if (auto level = log::parse_level(c.log_level)) log::set_level(*level);
  SystemClock clock;
  sim::SimOptions opt;
  opt.key = c.key;
  opt.defaults.duration = c.duration;
  std::vector<sim::AnalyzerDuration> rules;
  for (const auto& text : c.analyzer_durations) {
    auto rule = sim::parse_analyzer_duration(text);
    if (!rule) {
      log::error("bad --analyzer-duration", {{"error", rule.error().message}});
      return 2;
    }
    rules.push_back(std::move(rule.value()));
  }
  auto durations = sim::DurationTable::create(std::move(rules), c.seed);
  if (!durations) {
    log::error("bad --analyzer-duration", {{"error", durations.error().message}});
    return 2;
  }
  opt.durations = std::move(durations.value());
  opt.result_ttl = c.result_ttl;
  opt.latency = c.latency;
  opt.analyzers = c.analyzers;
  opt.analyzer_create_duration = c.analyzer_create_duration;
  opt.throttle = {c.analyze_rps, c.status_rps, c.ops_per_minute};
  opt.tokens.client_secret = c.client_secret;
  opt.tokens.identity_header = c.identity_header;
  opt.tokens.lifetime = c.token_lifetime;
  opt.tokens.delay = c.token_delay;
  for (const auto& t : split_list(c.token_faults)) {
    auto f = sim::parse_fault(t);
    if (!f) {
      log::error("bad --token-faults", {{"error", f.error().message}});
      return 2;
    }
    opt.tokens.faults.push_back(f.value());
  }
  auto issuer = sim::OidcIssuer::create();
  if (!issuer) {
    log::error("cannot make the OIDC issuer's keys",
               {{"error", issuer.error().message}, {"detail", issuer.error().detail}});
    return 1;
  }
  sim::Simulator simulator(opt, clock, std::move(issuer.value()));
  http::ServerOptions so;
  so.host = c.host;
  so.port = c.port;
  so.threads = c.threads;
  so.tls_cert_file = c.tls_cert;
  so.tls_key_file = c.tls_key;
  auto server = http::Server::create(so, [&simulator](http::Request&& req, http::Responder r) {
    simulator.handle(std::move(req), std::move(r));
  });
  if (!server) {
    log::error("cannot listen", {{"error", server.error().message}});
    return 1;
  }
  http::Server& srv = *server.value();
  simulator.attach(&srv);
  log::info("simulator listening", {{"address", c.host},
                                    {"port", srv.port()},
                                    {"tls", !c.tls_cert.empty()},
                                    {"analyze_rps", c.analyze_rps},
                                    {"status_rps", c.status_rps},
                                    {"ops_per_minute", c.ops_per_minute}});
  srv.on_signal([&srv](int) { srv.stop(std::chrono::milliseconds(1000)); });
  srv.run();
  return 0;
}

}  // namespace lrogate::app
