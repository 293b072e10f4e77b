// Azure AI Content Understanding: analyze (and GA analyzeBinary) submits,
// analyzerResults status polls, key auth (Ocp-Apim-Subscription-Key).
#pragma once

#include <memory>

#include "upstream/upstream.h"

namespace lrogate::upstream::azure_cu {

std::unique_ptr<Upstream> make(const Settings& settings);

// Whether a Content-Type names JSON (application/json, application/*+json).
bool is_json_type(std::string_view content_type);

}  // namespace lrogate::upstream::azure_cu
