// Analyzer calls shared by the two route families that serve them: the
// pro-mode routes (PUT/GET/DELETE /pro-mode/content-analyzers/{id},
// analyzers.cpp) and Content Understanding's own paths (api/azure/). Each
// family checks its query; these forward the call (upstream::AnalyzerCall)
// and answer as the upstream does.
#pragma once

#include <functional>
#include <string>

#include "api/routes.h"

namespace lrogate::api {

struct AnalyzerRoutes {
  // The client's version (Azure routes); empty: the gateway's --api-version.
  upstream::SubmitOptions options;
  // The Operation-Location a creation's 201 carries, from the analyzer and
  // the operation's id.
  std::function<std::string(const std::string& analyzer, const std::string& id)> location;
};

// A creation (PUT): checks the body (a JSON object), forwards it to the
// analyzer's resource (where it was created before, else where the pool
// places it), records the creation as an operation the poller follows, and
// answers the upstream's answer with routes.location(...). analyzer is valid.
void create_analyzer(ApiContext& ctx, http::Request&& req, const std::string& analyzer,
                     bool allow_replace, AnalyzerRoutes routes, http::Responder respond);
// A read or delete, forwarded without a store read; answered as the
// upstream answers. analyzer is valid.
void forward_analyzer(ApiContext& ctx, upstream::AnalyzerCall call, const http::Request& req,
                      const std::string& analyzer, upstream::SubmitOptions options,
                      http::Responder respond);

}  // namespace lrogate::api
