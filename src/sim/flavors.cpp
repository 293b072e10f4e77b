#include "sim/flavors.h"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstdio>

#include "base/ids.h"
#include "base/json_util.h"
#include "sim/route_context.h"

namespace lrogate::sim {
namespace {

// The names a flavor gives the phases: notStarted/running for Document
// Intelligence, queued/working for the generic API.
std::string phase_word(Flavor f, std::string_view azure_name) {
  if (f == Flavor::kCu) return std::string(azure_name);
  if (f == Flavor::kDi) {
    std::string w(azure_name);
    w[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(w[0])));
    return w;
  }
  if (azure_name == "NotStarted") return "queued";
  if (azure_name == "Running") return "working";
  if (azure_name == "Succeeded") return "done";
  if (azure_name == "Failed") return "error";
  return "stopped";
}

}  // namespace

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string_view key_header(Flavor f) {
  return f == Flavor::kGeneric ? "x-api-key" : "ocp-apim-subscription-key";
}

bool version_served(Flavor f, std::string_view version) {
  switch (f) {
    case Flavor::kGeneric:
      return true;
    case Flavor::kDi:
      return version == kDiVersion;
    case Flavor::kCu:
      return cu_version_served(version);
  }
  return false;
}

std::string status_path(const SimOp& op) {
  switch (op.flavor) {
    case Flavor::kCu:
      return "/contentunderstanding/analyzerResults/" + op.id + "?api-version=" + op.api_version;
    case Flavor::kDi:
      return "/documentintelligence/documentModels/" + op.analyzer + "/analyzeResults/" + op.id +
             "?api-version=" + op.api_version;
    case Flavor::kGeneric:
      return "/generic/jobs/" + op.analyzer + "/" + op.id;
  }
  return {};
}

void set_status(boost::json::object& o, Flavor f, std::string_view azure_name) {
  if (f == Flavor::kGeneric) {
    o["job"] = boost::json::object{{"state", phase_word(f, azure_name)}};
  } else {
    o["status"] = phase_word(f, azure_name);
  }
}

Result<std::string> read_input(const http::Request& r, Flavor flavor, std::string_view version,
                               bool binary_route) {
  auto invalid = [](std::string m) { return make_error(ErrorCode::kInvalidArgument, m); };
  std::string ct(r.header("content-type"));
  bool is_json = ct.rfind("application/json", 0) == 0;
  if (!is_json || binary_route) {
    if (flavor == Flavor::kGeneric) return invalid("The request body must be JSON.");
    if (flavor == Flavor::kCu && !binary_route && version == kCuGa) {
      return invalid("api-version 2025-11-01 takes binary input on :analyzeBinary");
    }
    return "binary:" + std::to_string(r.body.size()) + ":" + hex(fnv1a(r.body));
  }
  auto v = json::parse(r.body);
  if (!v || !v->is_object()) return invalid("The request body is not valid JSON.");
  const auto& obj = v->as_object();
  if (flavor == Flavor::kDi) {
    if (auto u = json::get_string(obj, "urlSource")) return *u;
    if (auto b = json::get_string(obj, "base64Source")) return "data:" + hex(fnv1a(*b));
    return invalid("The request must have urlSource or base64Source.");
  }
  if (flavor == Flavor::kGeneric) {
    if (auto u = json::get_string(obj, "source")) return *u;
    return invalid("The request must have source.");
  }
  std::string input;
  if (version != kCuGa) {
    if (auto u = json::get_string(obj, "url")) input = *u;
  }
  if (auto it = obj.find("inputs"); input.empty() && it != obj.end() && it->value().is_array() &&
                                    !it->value().as_array().empty() &&
                                    it->value().as_array()[0].is_object()) {
    const auto& first = it->value().as_array()[0].as_object();
    if (auto u = json::get_string(first, "url"))
      input = *u;
    else if (auto d = json::get_string(first, "data"))
      input = "data:" + hex(fnv1a(*d));
  }
  if (input.empty()) {
    return invalid(version == kCuGa ? "The request must have inputs[0].url or inputs[0].data."
                                    : "The request must have url or inputs[0].url.");
  }
  return input;
}

http::Response throttled_response(Flavor f, CallKind kind, const Throttle::Verdict& v) {
  bool analyze = kind == CallKind::kAnalyze;
  std::string after =
      std::to_string(v.retry_after_s) + (v.retry_after_s == 1 ? " second" : " seconds");
  std::string quota =
      std::to_string(v.limit) + (v.per_minute ? " calls a minute" : " calls a second");
  http::Response res;
  if (f == Flavor::kGeneric) {
    res = http::json_response(
        429, json::error_body("TooManyRequests", "Too many requests (simulated limit: " + quota +
                                                     "). Retry after " + after + "."));
  } else {
    std::string operation = f == Flavor::kDi ? (analyze ? "Analyze Document" : "Get Analyze Result")
                                             : (analyze ? "Analyze" : "Get Result");
    std::string api = f == Flavor::kDi
                          ? "Document Intelligence API (" + std::string(kDiVersion) + ")"
                          : "Content Understanding API";
    res = http::json_response(
        429, json::error_body("429", "Requests to the " + operation + " Operation under " + api +
                                         " have exceeded rate limit of your current S0 pricing "
                                         "tier (simulated: " +
                                         quota + "). Please retry after " + after + "."));
    if (f == Flavor::kDi) res.set("apim-request-id", random_uuid());
  }
  res.set("Retry-After", std::to_string(v.retry_after_s));
  return res;
}

std::string checksum(const SimOp& op) { return hex(fnv1a(op.analyzer + "|" + op.input)); }

std::string final_body(const SimOp& op) {
  boost::json::object o{{"id", op.id}};
  set_status(o, op.flavor, op.d.outcome);
  if (op.flavor == Flavor::kDi) {
    o["createdDateTime"] = json::iso8601(op.created);
    o["lastUpdatedDateTime"] = json::iso8601(op.created + op.d.duration.count());
  }
  if (op.d.outcome == "Failed") {
    o[op.flavor == Flavor::kGeneric ? "problem" : "error"] =
        boost::json::object{{"code", "InvalidContent"},
                            {"message", "The document could not be analyzed (simulated failure)."}};
    return boost::json::serialize(o);
  }
  if (op.d.outcome == "Canceled") return boost::json::serialize(o);
  std::string sum = checksum(op);
  int pages = static_cast<int>(fnv1a(op.input) % 20) + 1;
  std::string markdown = "# Analysis of " + op.input + "\n\nChecksum " + sum + ".\n";
  if (op.d.result_bytes > markdown.size()) {
    std::string filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ";
    while (markdown.size() < op.d.result_bytes) markdown += filler;
    markdown.resize(op.d.result_bytes);
  }
  boost::json::object fields{{"Source", {{"type", "string"}, {"valueString", op.input}}},
                             {"Checksum", {{"type", "string"}, {"valueString", sum}}},
                             {"PageCount", {{"type", "integer"}, {"valueInteger", pages}}}};
  boost::json::object content{{"kind", "document"},
                              {"markdown", markdown},
                              {"fields", std::move(fields)},
                              {"startPageNumber", 1},
                              {"endPageNumber", pages}};
  boost::json::object result{{"analyzerId", op.analyzer},
                             {"apiVersion", op.api_version},
                             {"createdAt", json::iso8601(op.created)},
                             {"warnings", boost::json::array{}},
                             {"contents", boost::json::array{std::move(content)}}};
  if (op.flavor == Flavor::kDi) {
    boost::json::array page_list;
    for (int i = 1; i <= pages; ++i) {
      page_list.push_back(boost::json::object{{"pageNumber", i},
                                              {"width", 8.5},
                                              {"height", 11},
                                              {"unit", "inch"},
                                              {"words", boost::json::array{}}});
    }
    o["analyzeResult"] = boost::json::object{{"apiVersion", op.api_version},
                                             {"modelId", op.analyzer},
                                             {"stringIndexType", "textElements"},
                                             {"content", markdown},
                                             {"pages", std::move(page_list)}};
    return boost::json::serialize(o);
  }
  if (op.flavor == Flavor::kGeneric) {
    o["output"] = std::move(result);
    return boost::json::serialize(o);
  }
  o["result"] = std::move(result);
  // Content Understanding's usage: pages by the tier that read them, and
  // the model's tokens (the gateway counts them: docs/design.md, "Usage and
  // quotas"). A pure function of the document, like the pages.
  o["usage"] = boost::json::object{{"documentPagesStandard", pages},
                                   {"contextualizationTokens", 1000 * pages},
                                   {"tokens", boost::json::object{{"gpt-4.1-input", 200 * pages},
                                                                  {"gpt-4.1-output", 50 * pages}}}};
  return boost::json::serialize(o);
}

}  // namespace lrogate::sim
