// Identifier formats the gateway accepts before it touches the store or the
// upstream. Both are safe to place in a URL path segment as they are.
#pragma once

#include <string>
#include <string_view>

namespace lrogate {

// ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$
bool valid_analyzer_id(std::string_view id);

// An upstream result id: ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (Azure uses GUIDs).
bool valid_operation_id(std::string_view id);

// A fresh random id (a v4 UUID) for nodes and simulator results.
std::string random_uuid();

}  // namespace lrogate
