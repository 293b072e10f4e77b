// Azure AI Document Intelligence (v4, api-version 2024-11-30 by default):
// documentModels/{modelId}:analyze submits (JSON urlSource/base64Source, or
// the document's bytes with their own Content-Type), analyzeResults polls with
// lowercase statuses and the result under "analyzeResult". The gateway's
// analyzerId is the model id (prebuilt-layout, prebuilt-invoice, ...).
#pragma once

#include <memory>

#include "upstream/operation_location.h"

namespace lrogate::upstream::azure_di {

Result<std::unique_ptr<Upstream>> make(const Settings& settings);

}  // namespace lrogate::upstream::azure_di
