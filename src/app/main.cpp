#include <exception>
#include <iostream>

#include "app/commands.h"
#include "base/log.h"

int main(int argc, char** argv) {
  try {
    lrogate::config::Config config;
    if (auto code = lrogate::config::parse(argc, argv, &config)) return *code;
    if (config.command == "serve") return lrogate::app::run_serve(config.serve);
    if (config.command == "analyze") return lrogate::app::run_analyze(config.client);
    if (config.command == "status") return lrogate::app::run_status(config.client);
    return lrogate::app::run_simulate(config.simulate);
  } catch (const std::exception& e) {
    lrogate::log::error("fatal", {{"detail", e.what()}});
    return 1;
  }
}
