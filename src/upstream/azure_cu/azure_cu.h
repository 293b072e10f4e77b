// Azure AI Content Understanding: analyze (and GA analyzeBinary) submits,
// analyzerResults status polls. Default api-version 2025-05-01-preview (the
// only one with pro mode).
#pragma once

#include <memory>

#include "upstream/operation_location.h"

namespace lrogate::upstream::azure_cu {

Result<std::unique_ptr<Upstream>> make(const Settings& settings);

}  // namespace lrogate::upstream::azure_cu
