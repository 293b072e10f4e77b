// Any service that follows the Operation-Location pattern, described by
// GenericSettings (upstream.h): where to POST a submit, where its status,
// result and error live in a status body and which values are final. The
// result returned to clients is the final status body, byte for byte, as
// for the Azure adapters; a success without the result field is read again.
#pragma once

#include <memory>

#include "upstream/operation_location.h"

namespace lrogate::upstream::generic {

Result<std::unique_ptr<Upstream>> make(const Settings& settings);

// A path template with {analyzerId}, {operationId}, {apiVersion} filled in.
std::string expand(std::string_view templ, std::string_view analyzer_id,
                   std::string_view operation_id, std::string_view api_version);

}  // namespace lrogate::upstream::generic
