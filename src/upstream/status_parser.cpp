#include "upstream/status_parser.h"

#include <boost/json/parse.hpp>
#include <cctype>

#include "base/strings.h"

namespace lrogate::upstream {
namespace {

std::string truncate(std::string_view s, std::size_t n) { return std::string(s.substr(0, n)); }

// The value at a dotted path of nested objects, or null.
const boost::json::value* find_path(const boost::json::object& obj, std::string_view path) {
  const boost::json::object* at = &obj;
  while (true) {
    std::string_view head = path.substr(0, path.find('.'));
    auto it = at->find(head);
    if (it == at->end()) return nullptr;
    if (head.size() == path.size()) return &it->value();
    path.remove_prefix(head.size() + 1);
    if (!it->value().is_object()) return nullptr;
    at = &it->value().get_object();
  }
}

bool listed(const std::vector<std::string>& values, std::string_view v) {
  for (const auto& x : values) {
    if (iequals(x, v)) return true;
  }
  return false;
}

void read_error(const boost::json::object& obj, std::string* code, std::string* message,
                std::string_view field = "error") {
  const boost::json::value* e = field.empty() ? nullptr : find_path(obj, field);
  if (e && e->is_string()) *message = truncate(e->get_string(), 2048);
  if (!e || !e->is_object()) return;
  const auto& err = e->get_object();
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

StatusBody parse_status_body(std::string_view body, const StatusShape& shape) {
  StatusBody out;
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return out;
  out.json = true;
  const auto& obj = v.get_object();
  if (const auto* st = find_path(obj, shape.status_field); st && st->is_string()) {
    std::string_view name = st->get_string();
    out.status = truncate(name, 64);
    if (shape.succeeded.empty() && shape.failed.empty() && shape.canceled.empty()) {
      out.phase = parse_phase(name);
    } else if (listed(shape.succeeded, name)) {
      out.phase = Phase::kSucceeded;
    } else if (listed(shape.failed, name)) {
      out.phase = Phase::kFailed;
    } else if (listed(shape.canceled, name)) {
      out.phase = Phase::kCanceled;
    } else if (listed(shape.not_started, name)) {
      out.phase = Phase::kNotStarted;
    } else {
      out.phase = Phase::kRunning;
    }
  }
  out.result_present = shape.result_field.empty() || find_path(obj, shape.result_field);
  read_error(obj, &out.error_code, &out.error_message, shape.error_field);
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
