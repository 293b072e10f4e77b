// The upstream pool's settings: the resources one gateway spreads its
// operations over (docs/design.md, "Upstream pools"). Filled by config/ from
// the pool file (--upstreams FILE, config/pool_file.h) or, without one, from
// the single-endpoint flags as a pool of one resource named "default"; read
// by upstream::Pool (upstream/pool.h).
//
// One pool fronts one service: every resource has the same kind (and, for
// generic, the same description: the --generic-* flags). Resources differ
// in endpoint, credentials, api-version, weight, priority, limits and drain.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "upstream/settings.h"

namespace lrogate::upstream {

// A resource's own limits, per replica; 0 or less: no limit.
struct ResourceLimits {
  double submits_per_second = 0;  // analyze calls (and analyzer calls) a second
  double polls_per_second = 0;    // status GETs a second (polls and lookups)
  int operations_per_minute = 0;  // operations started a minute
  int calls_in_flight = 0;        // calls of any kind awaiting an answer at once
  bool operator==(const ResourceLimits&) const = default;
};

struct ResourceSettings {
  std::string name;  // [A-Za-z0-9._-]{1,64}, unique in the pool; kept on each operation
  Settings upstream;
  AuthSettings auth;  // secrets already read from the environment or their files
  int weight = 1;     // 1..1000: share of submits among resources of one priority
  int priority = 0;   // 0..1000: lower is tried first; higher ones are fallbacks
  ResourceLimits limits;
  bool drain = false;  // takes no new submits; its operations are polled to the end
  bool operator==(const ResourceSettings&) const = default;
};

struct PoolSettings {
  std::vector<ResourceSettings> resources;  // at least one, in the file's order
};

// The name of the pool of one made from the single-endpoint flags.
inline constexpr std::string_view kDefaultResource = "default";

// Whether name may name a resource.
inline bool valid_resource_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace lrogate::upstream
