#include "upstream/status_parser.h"

#include <boost/json/parse.hpp>
#include <cctype>

#include "base/strings.h"

namespace lrogate::upstream {
namespace {

std::string truncate(std::string_view s, std::size_t n) { return std::string(s.substr(0, n)); }

void read_error(const boost::json::object& obj, std::string* code, std::string* message) {
  auto it = obj.find("error");
  if (it == obj.end() || !it->value().is_object()) return;
  const auto& err = it->value().get_object();
  if (auto c = err.find("code"); c != err.end() && c->value().is_string()) {
    *code = truncate(c->value().get_string(), 128);
  }
  if (auto m = err.find("message"); m != err.end() && m->value().is_string()) {
    *message = truncate(m->value().get_string(), 2048);
  }
}

}  // namespace

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kNotStarted:
      return "NotStarted";
    case Phase::kRunning:
      return "Running";
    case Phase::kSucceeded:
      return "Succeeded";
    case Phase::kFailed:
      return "Failed";
    case Phase::kCanceled:
      return "Canceled";
    case Phase::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

Phase parse_phase(std::string_view name) {
  for (Phase p :
       {Phase::kNotStarted, Phase::kRunning, Phase::kSucceeded, Phase::kFailed, Phase::kCanceled}) {
    if (iequals(name, phase_name(p))) return p;
  }
  if (iequals(name, "Cancelled")) return Phase::kCanceled;
  return Phase::kUnknown;
}

StatusBody parse_status_body(std::string_view body) {
  StatusBody out;
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return out;
  out.json = true;
  const auto& obj = v.get_object();
  if (auto it = obj.find("status"); it != obj.end() && it->value().is_string()) {
    out.status = truncate(it->value().get_string(), 64);
    out.phase = parse_phase(it->value().get_string());
  }
  read_error(obj, &out.error_code, &out.error_message);
  return out;
}

void parse_error_body(std::string_view body, std::string* code, std::string* message) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (!ec && v.is_object()) read_error(v.get_object(), code, message);
  if (message->empty()) {
    std::string excerpt;
    for (char c : body.substr(0, 200))
      excerpt += std::isprint(static_cast<unsigned char>(c)) ? c : ' ';
    *message = excerpt.empty() ? "the upstream gave no reason" : excerpt;
  }
}

}  // namespace lrogate::upstream
