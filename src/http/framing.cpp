#include "http/framing.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <limits>

#include "base/strings.h"

namespace lrogate::http {
namespace {

namespace bhttp = boost::beast::http;

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// tchar, RFC 9110 §5.6.2.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The transfer codings of all Transfer-Encoding fields, read as one list
// (RFC 9110 §5.3: fields of one name are one comma-separated list).
struct Codings {
  bool malformed = false;        // an element is not `token *( OWS ";" ... )`
  std::size_t count = 0;         // non-empty elements
  std::size_t chunked = 0;       // elements whose coding is `chunked`
  bool last_is_chunked = false;  // the final element is exactly `chunked`
};

Codings read_codings(const std::vector<std::string_view>& values) {
  Codings c;
  for (std::string_view value : values) {
    while (!value.empty()) {
      std::size_t comma = value.find(',');
      std::string_view item = trim_ows(value.substr(0, comma));
      value.remove_prefix(comma == std::string_view::npos ? value.size() : comma + 1);
      if (item.empty()) continue;  // #rule: empty elements do not count
      std::size_t n = 0;
      while (n < item.size() && is_tchar(item[n])) ++n;
      std::string_view name = item.substr(0, n);
      std::string_view rest = trim_ows(item.substr(n));
      if (name.empty() || (!rest.empty() && rest.front() != ';')) c.malformed = true;
      ++c.count;
      bool chunked = iequals(name, "chunked");
      if (chunked) ++c.chunked;
      c.last_is_chunked = chunked && rest.empty();
    }
  }
  return c;
}

}  // namespace

void note_field(RequestHead& head, std::string_view name, std::string_view value) {
  switch (name.size()) {
    case 4:
      if (iequals(name, "host")) ++head.host_count;
      break;
    case 14:
      if (iequals(name, "content-length") && head.content_length_count++ == 0) {
        head.content_length = value;
      }
      break;
    case 17:
      if (iequals(name, "transfer-encoding")) head.transfer_encoding.push_back(value);
      break;
    default:
      break;
  }
}

std::optional<FramingError> check_framing(const RequestHead& head) {
  bool unsupported = false;
  if (!head.transfer_encoding.empty()) {
    if (head.content_length_count > 0) return FramingError::kAmbiguousFraming;
    if (head.version < 11) return FramingError::kTransferEncodingInHttp10;
    Codings c = read_codings(head.transfer_encoding);
    if (c.malformed || c.chunked != 1 || !c.last_is_chunked) {
      return FramingError::kBadTransferEncoding;
    }
    // The parser must read the body chunked too, or the two disagree on where
    // the request ends.
    if (!head.parser_chunked) return FramingError::kBadTransferEncoding;
    unsupported = c.count > 1;
  } else if (head.parser_chunked) {
    return FramingError::kBadTransferEncoding;
  }
  if (head.content_length_count > 1 ||
      (head.content_length_count == 1 && !all_digits(head.content_length))) {
    return FramingError::kBadContentLength;
  }
  if (head.host_count > 1) return FramingError::kDuplicateHost;
  if (head.host_count == 0 && head.version >= 11) return FramingError::kMissingHost;
  if (unsupported) return FramingError::kUnsupportedTransferCoding;
  return std::nullopt;
}

ErrorAnswer answer_for(FramingError error) {
  switch (error) {
    case FramingError::kAmbiguousFraming:
      return {400, "AmbiguousFraming",
              "a request must not have both Transfer-Encoding and Content-Length"};
    case FramingError::kTransferEncodingInHttp10:
      return {400, "BadTransferEncoding", "Transfer-Encoding is not allowed in HTTP/1.0"};
    case FramingError::kBadTransferEncoding:
      return {400, "BadTransferEncoding",
              "Transfer-Encoding must end with chunked and name it only once"};
    case FramingError::kUnsupportedTransferCoding:
      return {501, "UnsupportedTransferCoding", "the only transfer coding supported is chunked"};
    case FramingError::kBadContentLength:
      return {400, "BadContentLength", "Content-Length must be one decimal number"};
    case FramingError::kMissingHost:
      return {400, "MissingHost", "an HTTP/1.1 request must have a Host header"};
    case FramingError::kDuplicateHost:
      return {400, "DuplicateHost", "a request must not have more than one Host header"};
  }
  return {400, "BadRequest", "malformed HTTP request"};
}

std::optional<ErrorAnswer> answer_for_parse_error(const boost::system::error_code& ec,
                                                  const RequestHead& so_far,
                                                  std::size_t header_limit,
                                                  std::size_t body_limit) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_target).category()) {
    return std::nullopt;
  }
  switch (static_cast<bhttp::error>(ec.value())) {
    case bhttp::error::end_of_stream:
    case bhttp::error::partial_message:
    case bhttp::error::need_more:
      return std::nullopt;
    case bhttp::error::header_limit:
      return ErrorAnswer{431, "HeaderTooLarge",
                         "request header exceeds " + std::to_string(header_limit) + " bytes"};
    case bhttp::error::body_limit:
      return ErrorAnswer{413, "BodyTooLarge",
                         "request body exceeds " + std::to_string(body_limit) + " bytes"};
    // Beast refuses these framings itself, at the offending field (which
    // is not in `so_far`); answer them as check_framing() does.
    case bhttp::error::bad_transfer_encoding:
      return answer_for(so_far.content_length_count > 0 ? FramingError::kAmbiguousFraming
                                                        : FramingError::kBadTransferEncoding);
    case bhttp::error::bad_content_length:
    case bhttp::error::multiple_content_length:
      return answer_for(!so_far.transfer_encoding.empty() ? FramingError::kAmbiguousFraming
                                                          : FramingError::kBadContentLength);
    default:
      return ErrorAnswer{400, "BadRequest", "malformed HTTP request"};
  }
}

namespace {

using Parser = bhttp::request_parser<bhttp::string_body>;

// Feeds `bytes` to the parser until it stops needing them (the head is read,
// or the message is done). Returns the error that stopped it; need_more means
// the input ended first.
boost::system::error_code feed(Parser& parser, std::string_view& bytes, bool head_only) {
  boost::system::error_code ec;
  while (head_only ? !parser.is_header_done() : !parser.is_done()) {
    if (bytes.empty()) return bhttp::error::need_more;
    ec = {};
    std::size_t n = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(n);
    if (ec == bhttp::error::need_more && n > 0) continue;
    if (ec) return ec;
  }
  return ec;
}

}  // namespace

Framed frame_requests(std::string_view bytes, const FramerLimits& limits) {
  Framed out;
  const auto header_limit = static_cast<std::uint32_t>(
      std::min<std::size_t>(limits.max_header, std::numeric_limits<std::uint32_t>::max()));
  while (!bytes.empty()) {
    Parser parser;
    parser.header_limit(header_limit);
    parser.body_limit(boost::none);  // set per request once the head is read
    if (auto ec = feed(parser, bytes, true)) {
      out.incomplete = ec == bhttp::error::need_more;
      if (!out.incomplete) {
        out.error = answer_for_parse_error(ec, head_of(parser), limits.max_header, 0);
      }
      return out;
    }
    RequestHead head = head_of(parser);
    if (auto err = check_framing(head)) {
      out.error = answer_for(*err);
      return out;
    }
    std::string_view target = parser.get().target();
    std::string_view path = target.substr(0, target.find('?'));
    std::size_t limit =
        limits.body_limit ? limits.body_limit(parser.get().method_string(), path) : limits.max_body;
    if (!parser.is_done()) {
      // Beast compares a Content-Length with the body limit only while it
      // reads the head, so the limit of this request is checked here.
      if (auto cl = parser.content_length(); cl && *cl > limit) {
        out.error =
            answer_for_parse_error(bhttp::error::body_limit, head, limits.max_header, limit);
        return out;
      }
      parser.body_limit(limit);
      parser.eager(true);
      if (auto ec = feed(parser, bytes, false)) {
        out.incomplete = ec == bhttp::error::need_more;
        if (!out.incomplete) {
          out.error = answer_for_parse_error(ec, head, limits.max_header, limit);
        }
        return out;
      }
    }
    FramedRequest r;
    r.chunked = parser.chunked();
    r.had_content_length = head.content_length_count > 0;
    r.body_limit = limit;
    r.keep_alive = parser.get().keep_alive();
    auto msg = parser.release();
    r.method = std::string(msg.method_string());
    r.target = std::string(msg.target());
    r.body = std::move(msg.body());
    bool keep_alive = r.keep_alive;
    out.requests.push_back(std::move(r));
    if (!keep_alive) break;
  }
  return out;
}

void append_response_head(const Response& r, bool keep_alive, std::string& out) {
  auto field = [&out](std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
  };
  char digits[24];
  out.append("HTTP/1.1 ");
  out.append(digits, std::to_chars(digits, digits + sizeof digits, r.status).ptr);
  out.append(" ").append(bhttp::obsolete_reason(static_cast<bhttp::status>(r.status)));
  out.append("\r\n");
  // A response with no type (a 204) gets no Content-Type, not an empty one.
  if (!r.content_type.empty() && (!r.body.empty() || r.status >= 200)) {
    field("Content-Type", r.content_type);
  }
  const Headers& hs = r.headers;
  for (std::size_t i = 0; i < hs.size(); ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j) seen = iequals(hs[j].name, hs[i].name);
    if (seen) continue;  // written with its first sibling
    field(hs[i].name, hs[i].value);
    for (std::size_t j = i + 1; j < hs.size(); ++j) {
      if (iequals(hs[j].name, hs[i].name)) field(hs[j].name, hs[j].value);
    }
  }
  if (!keep_alive) field("Connection", "close");
  // Every answer, a 204 too (as Beast 1.81's prepare_payload sized them).
  out.append("Content-Length: ");
  out.append(digits, std::to_chars(digits, digits + sizeof digits, r.body.size()).ptr);
  out.append("\r\n\r\n");
}

}  // namespace lrogate::http
