#include "upstream/status_parser.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <cctype>
#include <cmath>

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

namespace {

// Reads a status body in one pass (Boost.JSON's SAX parser) without building
// a document: it keeps only the status, whether the result field is there,
// and the error's code and message. The dotted path of the value being read
// is kept in a fixed buffer; a key too long for it, a key holding a dot, or
// anything inside an array matches no field (find_path never enters arrays
// either). Nothing is allocated for an Azure "Running" body: its status fits
// a short string's own storage.
class StatusHandler {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  StatusHandler(const StatusShape& shape, StatusBody& out) : shape_(shape), out_(out) {
    code_path_ = join(shape.error_field, "code", code_buf_);
    message_path_ = join(shape.error_field, "message", message_buf_);
  }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code& ec) {
    if (depth_ >= kMaxDepth) {
      ec = boost::json::error::too_deep;
      return false;
    }
    // Keys of this object extend the path of the key that holds it.
    std::size_t base = kNoPath;
    if (depth_ == 0 && arrays_ == 0) {
      top_object_ = true;
      base = 0;
    } else {
      value_here();
      if (matchable()) base = len_;
    }
    if (depth_ > 0 && shape_.usage == StatusShape::Usage::kContentUnderstanding && matchable() &&
        path() == "usage.tokens") {
      tokens_depth_ = depth_ + 1;  // every number directly in it is tokens
    }
    base_[depth_++] = base;
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    if (depth_ == tokens_depth_) tokens_depth_ = 0;
    --depth_;
    return true;
  }
  bool on_array_begin(boost::system::error_code&) {
    if (depth_ > 0) {
      value_here();
      if (shape_.usage == StatusShape::Usage::kDocumentIntelligence && matchable() &&
          path() == "analyzeResult.pages") {
        pages_arrays_ = arrays_ + 1;
      }
    }
    ++arrays_;
    return true;
  }
  bool on_array_end(std::size_t n, boost::system::error_code&) {
    if (arrays_ == pages_arrays_) {
      out_.pages = static_cast<std::int64_t>(n);  // Boost.JSON counts the elements
      pages_arrays_ = 0;
    }
    --arrays_;
    return true;
  }
  bool on_key_part(std::string_view s, std::size_t, boost::system::error_code&) {
    key_part(s);
    return true;
  }
  bool on_key(std::string_view s, std::size_t, boost::system::error_code&) {
    key_part(s);
    key_open_ = false;
    return true;
  }
  bool on_string_part(std::string_view s, std::size_t, boost::system::error_code&) {
    string_part(s);
    return true;
  }
  bool on_string(std::string_view s, std::size_t, boost::system::error_code&) {
    string_part(s);
    if (target_ == Target::kStatus) status_read_ = true;
    target_ = Target::kNone;
    string_open_ = false;
    return true;
  }
  bool on_number_part(std::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t v, std::string_view, boost::system::error_code&) {
    return number(static_cast<double>(v));
  }
  bool on_uint64(std::uint64_t v, std::string_view, boost::system::error_code&) {
    return number(static_cast<double>(v));
  }
  bool on_double(double v, std::string_view, boost::system::error_code&) { return number(v); }
  bool on_bool(bool, boost::system::error_code&) { return scalar(); }
  bool on_null(boost::system::error_code&) { return scalar(); }
  bool on_comment_part(std::string_view, boost::system::error_code&) { return true; }
  bool on_comment(std::string_view, boost::system::error_code&) { return true; }

  bool top_object() const { return top_object_; }
  bool status_read() const { return status_read_; }
  const std::string& status() const { return status_; }

 private:
  static constexpr std::size_t kNoPath = std::size_t(-1);
  static constexpr int kMaxDepth = 64;
  enum class Target { kNone, kStatus, kMessage, kCode };

  static std::string_view join(std::string_view a, std::string_view b, std::string& buf) {
    if (a.empty()) return {};
    buf.assign(a).append(".").append(b);
    return buf;
  }

  bool matchable() const { return arrays_ == 0 && len_ != kNoPath && top_object_; }
  std::string_view path() const { return {path_, len_}; }

  void key_part(std::string_view s) {
    if (!key_open_) {
      key_open_ = true;
      std::size_t base = depth_ > 0 ? base_[depth_ - 1] : kNoPath;
      len_ = arrays_ > 0 ? kNoPath : base;
      if (len_ == kNoPath) return;
      if (base > 0) {
        if (base + 1 > sizeof(path_)) return void(len_ = kNoPath);
        path_[len_++] = '.';
      }
    }
    if (len_ == kNoPath) return;
    if (s.find('.') != std::string_view::npos || len_ + s.size() > sizeof(path_)) {
      len_ = kNoPath;
      return;
    }
    s.copy(path_ + len_, s.size());
    len_ += s.size();
  }

  // A value (of any type) starts at the current path.
  void value_here() {
    if (!matchable()) return;
    if (!shape_.result_field.empty() && path() == shape_.result_field) out_.result_present = true;
  }

  bool scalar() {
    if (top_object_) value_here();
    return true;
  }

  // A number: usage, when it is at one of the paths shape_.usage reads.
  bool number(double v) {
    if (shape_.usage == StatusShape::Usage::kContentUnderstanding && top_object_) {
      if (tokens_depth_ != 0 && depth_ == tokens_depth_ && arrays_ == 0) {
        add(out_.tokens, v);
      } else if (matchable()) {
        std::string_view p = path();
        if (p == "usage.documentPagesMinimal" || p == "usage.documentPagesBasic" ||
            p == "usage.documentPagesStandard") {
          add(out_.pages, v);
        } else if (p == "usage.contextualizationTokens") {
          add(out_.tokens, v);
        }
      }
    }
    return scalar();
  }

  // Adds a count read from the body: whole, >= 0, and the sum capped at
  // 2^53 (what a double holds exactly) rather than overflow.
  static void add(std::int64_t& to, double v) {
    constexpr double kCap = 9007199254740992.0;
    if (!(v >= 0) || v > kCap) return;  // negative, NaN, absurd: ignored
    to = static_cast<std::int64_t>(std::min(kCap, static_cast<double>(to) + std::floor(v)));
  }

  void string_part(std::string_view s) {
    if (!string_open_) {
      string_open_ = true;
      target_ = Target::kNone;
      if (!top_object_ || !matchable()) return;
      value_here();
      std::string_view p = path();
      if (p == shape_.status_field) {
        target_ = Target::kStatus;
        status_.clear();
      } else if (!shape_.error_field.empty() && p == shape_.error_field) {
        target_ = Target::kMessage;
        out_.error_message.clear();
      } else if (!message_path_.empty() && p == message_path_) {
        target_ = Target::kMessage;
        out_.error_message.clear();
      } else if (!code_path_.empty() && p == code_path_) {
        target_ = Target::kCode;
        out_.error_code.clear();
      }
    }
    switch (target_) {
      case Target::kStatus:
        status_.append(s);  // compared whole, kept truncated
        break;
      case Target::kMessage:
        append_capped(out_.error_message, s, 2048);
        break;
      case Target::kCode:
        append_capped(out_.error_code, s, 128);
        break;
      case Target::kNone:
        break;
    }
  }

  static void append_capped(std::string& to, std::string_view s, std::size_t cap) {
    if (to.size() < cap) to.append(s.substr(0, cap - to.size()));
  }

  const StatusShape& shape_;
  StatusBody& out_;
  std::string code_buf_, message_buf_;
  std::string_view code_path_, message_path_;
  char path_[256];
  std::size_t len_ = kNoPath;
  std::size_t base_[kMaxDepth] = {};
  int depth_ = 0;
  int arrays_ = 0;
  bool top_object_ = false;
  bool key_open_ = false;
  bool string_open_ = false;
  bool status_read_ = false;
  int tokens_depth_ = 0;  // the depth of usage.tokens while inside it, else 0
  int pages_arrays_ = 0;  // the array count inside analyzeResult.pages, else 0
  Target target_ = Target::kNone;
  std::string status_;
};

}  // namespace

StatusBody parse_status_body(std::string_view body, const StatusShape& shape) {
  StatusBody out;
  out.result_present = shape.result_field.empty();
  boost::json::parse_options opt;
  opt.max_depth = 64;
  boost::json::basic_parser<StatusHandler> p(opt, shape, out);
  boost::system::error_code ec;
  std::size_t n = p.write_some(false, body.data(), body.size(), ec);
  if (ec || n != body.size() || !p.done() || !p.handler().top_object()) {
    return StatusBody{};
  }
  out.json = true;
  if (p.handler().status_read()) {
    std::string_view name = p.handler().status();
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
