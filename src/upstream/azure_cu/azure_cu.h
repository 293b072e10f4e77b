// Azure AI Content Understanding: analyze (and GA analyzeBinary) submits,
// analyzerResults status polls, and custom analyzers: create (PUT, followed
// through its Operation-Location), get, delete. Default api-version 2025-05-01-preview (the
// only one with pro mode).
#pragma once

#include <memory>

#include "upstream/operation_location.h"

namespace lrogate::upstream::azure_cu {

Result<std::unique_ptr<Upstream>> make(const Settings& settings);

}  // namespace lrogate::upstream::azure_cu
