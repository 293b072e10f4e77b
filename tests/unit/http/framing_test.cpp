#include "http/framing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lrogate::http {
namespace {

RequestHead head(std::vector<std::string_view> te, std::vector<std::string_view> cl = {},
                 int version = 11, std::size_t hosts = 1) {
  RequestHead h;
  h.version = version;
  h.transfer_encoding = std::move(te);
  h.content_length_count = cl.size();
  if (!cl.empty()) h.content_length = cl.front();
  h.host_count = hosts;
  // What Beast decides: chunked iff the first TE field ends in its only chunked.
  h.parser_chunked = !h.transfer_encoding.empty() && cl.empty();
  return h;
}

TEST(CheckFraming, AcceptsTheUsualHeads) {
  EXPECT_EQ(check_framing(head({})), std::nullopt);
  EXPECT_EQ(check_framing(head({}, {"0"})), std::nullopt);
  EXPECT_EQ(check_framing(head({}, {"1234"})), std::nullopt);
  EXPECT_EQ(check_framing(head({"chunked"})), std::nullopt);
  EXPECT_EQ(check_framing(head({"Chunked"})), std::nullopt);
  EXPECT_EQ(check_framing(head({" , CHUNKED ,"})), std::nullopt);
  EXPECT_EQ(check_framing(head({"", "chunked"})), std::nullopt);
  EXPECT_EQ(check_framing(head({}, {}, 10, 0)), std::nullopt);  // HTTP/1.0 needs no Host
  EXPECT_EQ(check_framing(head({}, {"2"}, 10, 1)), std::nullopt);
}

TEST(CheckFraming, RefusesEachAmbiguousOrUnsupportedFraming) {
  struct Case {
    RequestHead head;
    FramingError want;
  };
  const std::vector<Case> cases = {
      {head({"chunked"}, {"2"}), FramingError::kAmbiguousFraming},
      {head({"identity"}, {"2"}), FramingError::kAmbiguousFraming},
      {head({"gzip, chunked"}, {"2"}), FramingError::kAmbiguousFraming},
      {head({"chunked"}, {}, 10), FramingError::kTransferEncodingInHttp10},
      {head({"chunked"}, {"2"}, 10), FramingError::kAmbiguousFraming},
      {head({"identity"}), FramingError::kBadTransferEncoding},
      {head({"gzip"}), FramingError::kBadTransferEncoding},
      {head({"xchunked"}), FramingError::kBadTransferEncoding},
      {head({"chunked, chunked"}), FramingError::kBadTransferEncoding},
      {head({"chunked", "chunked"}), FramingError::kBadTransferEncoding},
      {head({"chunked, identity"}), FramingError::kBadTransferEncoding},
      {head({"chunked", "gzip"}), FramingError::kBadTransferEncoding},
      {head({""}), FramingError::kBadTransferEncoding},
      {head({"chunked;x=1"}), FramingError::kBadTransferEncoding},
      {head({"chun ked"}), FramingError::kBadTransferEncoding},
      {head({"\"chunked\""}), FramingError::kBadTransferEncoding},
      {head({"gzip, chunked"}), FramingError::kUnsupportedTransferCoding},
      {head({"gzip;q=1", "chunked"}), FramingError::kUnsupportedTransferCoding},
      {head({}, {"2", "2"}), FramingError::kBadContentLength},
      {head({}, {"2, 2"}), FramingError::kBadContentLength},
      {head({}, {"-1"}), FramingError::kBadContentLength},
      {head({}, {""}), FramingError::kBadContentLength},
      {head({}, {}, 11, 0), FramingError::kMissingHost},
      {head({}, {}, 11, 2), FramingError::kDuplicateHost},
      {head({}, {}, 10, 2), FramingError::kDuplicateHost},
      // 400s before the 501: a request without Host is bad, whatever its coding.
      {head({"gzip, chunked"}, {}, 11, 0), FramingError::kMissingHost},
  };
  for (const auto& c : cases) {
    std::string te;
    for (auto v : c.head.transfer_encoding) te += "[" + std::string(v) + "]";
    EXPECT_EQ(check_framing(c.head), c.want) << "TE " << te << " CL " << c.head.content_length;
  }
}

TEST(CheckFraming, RefusesAParserThatReadsTheCodingOtherwise) {
  RequestHead h = head({"chunked"});
  h.parser_chunked = false;  // e.g. a list Beast would read differently
  EXPECT_EQ(check_framing(h), FramingError::kBadTransferEncoding);
  RequestHead g = head({});
  g.parser_chunked = true;
  EXPECT_EQ(check_framing(g), FramingError::kBadTransferEncoding);
}

TEST(CheckFraming, AnswersAre400ButTheUnsupportedCoding501) {
  EXPECT_EQ(answer_for(FramingError::kAmbiguousFraming).status, 400);
  EXPECT_EQ(answer_for(FramingError::kAmbiguousFraming).code, "AmbiguousFraming");
  EXPECT_EQ(answer_for(FramingError::kUnsupportedTransferCoding).status, 501);
  EXPECT_EQ(answer_for(FramingError::kUnsupportedTransferCoding).code, "UnsupportedTransferCoding");
  EXPECT_EQ(answer_for(FramingError::kMissingHost).status, 400);
}

TEST(NoteField, CountsTheFieldsItNeedsByCaseInsensitiveName) {
  RequestHead h;
  note_field(h, "HOST", "x");
  note_field(h, "content-length", "2");
  note_field(h, "Content-Length", "3");
  note_field(h, "Transfer-encoding", "gzip");
  note_field(h, "X-Transfer-Encoding", "chunked");
  note_field(h, "Accept", "*/*");
  EXPECT_EQ(h.host_count, 1u);
  EXPECT_EQ(h.content_length_count, 2u);
  EXPECT_EQ(h.content_length, "2");
  ASSERT_EQ(h.transfer_encoding.size(), 1u);
  EXPECT_EQ(h.transfer_encoding[0], "gzip");
}

const std::string kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

std::string post(std::string_view fields, std::string_view body) {
  return "POST /operations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         std::string(fields) + "\r\n" + std::string(body) + kSmuggled;
}

bool smuggled(const Framed& f) {
  for (const auto& r : f.requests) {
    if (r.target == "/smuggled") return true;
  }
  return false;
}

TEST(FrameRequests, NeverRunsASmuggledRequest) {
  const std::vector<std::string> codings = {
      "identity",          "gzip",          "xchunked", "chunked, chunked",
      "chunked, identity", "gzip, chunked", "chunked",  "Chunked"};
  for (const auto& te : codings) {
    std::string t = "Transfer-Encoding: " + te + "\r\n";
    std::string cl = "Content-Length: 2\r\n";
    for (const auto& fields : {t + cl, cl + t}) {
      Framed f = frame_requests(post(fields, "{}"), {});
      EXPECT_TRUE(f.requests.empty()) << fields;
      ASSERT_TRUE(f.error) << fields;
      EXPECT_EQ(f.error->status, 400) << fields;
      EXPECT_EQ(f.error->code, "AmbiguousFraming") << fields;
    }
    Framed f = frame_requests(post(t, "{}"), {});
    EXPECT_FALSE(smuggled(f)) << te;
    if (te == "chunked" || te == "Chunked") {
      // A valid chunked body: "{}" is no chunk size, so the body is malformed.
      EXPECT_TRUE(f.requests.empty());
      ASSERT_TRUE(f.error);
      EXPECT_EQ(f.error->status, 400);
    } else {
      EXPECT_TRUE(f.requests.empty()) << te;
      ASSERT_TRUE(f.error) << te;
      EXPECT_EQ(f.error->status, te == "gzip, chunked" ? 501 : 400) << te;
    }
  }
}

TEST(FrameRequests, TransferEncodingSplitOverTwoFieldsIsRefused) {
  Framed f = frame_requests(
      post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "2\r\n{}\r\n0\r\n\r\n"),
      {});
  EXPECT_TRUE(f.requests.empty());
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->code, "BadTransferEncoding");
}

TEST(FrameRequests, Http10WithTransferEncodingIsRefused) {
  Framed f = frame_requests(
      "POST /operations HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}" +
          kSmuggled,
      {});
  EXPECT_TRUE(f.requests.empty());
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->status, 400);
  f = frame_requests("POST /operations HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                     {});
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->code, "BadTransferEncoding");
}

TEST(FrameRequests, ContentLengthListsAndDuplicatesAreRefused) {
  for (std::string fields :
       {"Content-Length: 2\r\nContent-Length: 2\r\n", "Content-Length: 2, 2\r\n",
        "Content-Length: 2\r\nContent-Length: 3\r\n", "Content-Length: +2\r\n"}) {
    Framed f = frame_requests(post(fields, "{}"), {});
    EXPECT_TRUE(f.requests.empty()) << fields;
    ASSERT_TRUE(f.error) << fields;
    EXPECT_EQ(f.error->status, 400) << fields;
  }
}

TEST(FrameRequests, HostIsRequiredOnceInHttp11) {
  Framed f = frame_requests("GET /healthz HTTP/1.1\r\n\r\n", {});
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->code, "MissingHost");
  f = frame_requests("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", {});
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->code, "DuplicateHost");
  f = frame_requests("GET /healthz HTTP/1.0\r\n\r\n", {});
  EXPECT_FALSE(f.error);
  ASSERT_EQ(f.requests.size(), 1u);
  EXPECT_FALSE(f.requests[0].keep_alive);
}

TEST(FrameRequests, FramesPipelinedRequestsAndChunkedBodies) {
  std::string in =
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /operations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "1\r\n{\r\n1;ext=1\r\n}\r\n0\r\n\r\n"
      "POST /operations?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
      "GET /part";
  Framed f = frame_requests(in, {});
  EXPECT_FALSE(f.error);
  EXPECT_TRUE(f.incomplete);
  ASSERT_EQ(f.requests.size(), 3u);
  EXPECT_EQ(f.requests[0].target, "/healthz");
  EXPECT_EQ(f.requests[1].body, "{}");
  EXPECT_TRUE(f.requests[1].chunked);
  EXPECT_EQ(f.requests[2].target, "/operations?x=1");
  EXPECT_EQ(f.requests[2].body, "{}");
}

TEST(FrameRequests, NothingAfterARequestThatCloses) {
  Framed f =
      frame_requests("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + kSmuggled, {});
  ASSERT_EQ(f.requests.size(), 1u);
  EXPECT_FALSE(f.error);
}

TEST(FrameRequests, BodyLimitIsPerRequestAndAnsweredBeforeTheBody) {
  FramerLimits limits;
  limits.body_limit = [](std::string_view method, std::string_view path) -> std::size_t {
    return method == "POST" && path == "/operations" ? 4 : 100;
  };
  // The Content-Length alone decides: no body byte is needed for the 413.
  Framed f = frame_requests("POST /operations?a=b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
                            limits);
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->status, 413);
  EXPECT_NE(f.error->message.find("4 bytes"), std::string::npos) << f.error->message;
  f = frame_requests("POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n12345", limits);
  EXPECT_FALSE(f.error);
  ASSERT_EQ(f.requests.size(), 1u);
  EXPECT_EQ(f.requests[0].body_limit, 100u);
  // Chunked: counted chunk by chunk.
  f = frame_requests(
      "POST /operations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
      limits);
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->status, 413);
  EXPECT_TRUE(f.requests.empty());
  // Unset: max_body.
  FramerLimits fixed;
  fixed.max_body = 1;
  f = frame_requests("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", fixed);
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->message, "request body exceeds 1 bytes");
}

TEST(FrameRequests, HeaderLimitAndGarbage) {
  FramerLimits limits;
  limits.max_header = 64;
  Framed f = frame_requests(
      "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100, 'a') + "\r\n\r\n", limits);
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->status, 431);
  f = frame_requests(std::string("\x00\x01garbage\r\n\r\n", 13), {});
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->code, "BadRequest");
}

}  // namespace
}  // namespace lrogate::http

namespace lrogate::http {
namespace {

TEST(AppendResponseHead, WritesWhatBeastWrote) {
  Response r = json_response(202, R"({"status":"processing"})");
  r.set("Retry-After", "5");
  r.set("x-ms-request-id", "abc");
  std::string out = "stale";
  out.clear();
  append_response_head(r, true, out);
  EXPECT_EQ(out,
            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
            "x-ms-request-id: abc\r\nContent-Length: 23\r\n\r\n");
}

TEST(AppendResponseHead, ClosesGroupsSiblingsAndSizesEveryAnswer) {
  Response r = json_response(200, "");
  r.set("Vary", "Origin");
  r.set("X-A", "1");
  r.set("vary", "Accept");
  std::string out;
  append_response_head(r, false, out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nVary: Origin\r\nvary: Accept\r\n"
            "X-A: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  Response none;
  none.status = 204;
  none.content_type.clear();
  out.clear();
  append_response_head(none, true, out);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace
}  // namespace lrogate::http
