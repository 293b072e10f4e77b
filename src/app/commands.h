// The subcommands: each runs until it is told to stop and returns an exit code.
#pragma once

#include "config/config.h"

namespace lrogate::app {

int run_serve(const config::ServeConfig& config);
int run_simulate(const config::SimulateConfig& config);

}  // namespace lrogate::app
