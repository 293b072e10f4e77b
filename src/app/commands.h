// The subcommands: each runs until it is told to stop and returns an exit code.
#pragma once

#include "config/config.h"

namespace lrogate::app {

int run_serve(const config::ServeConfig& config);
int run_simulate(const config::SimulateConfig& config);
int run_analyze(const config::ClientConfig& config);
int run_status(const config::ClientConfig& config);

}  // namespace lrogate::app
