// weft::http's HTTP/1.1 parsers (io/src/http/): request heads, response heads, chunked
// bodies and request targets. Every rule they enforce, with the error it gives (its code,
// status and the byte it names); messages split at every position and fed a byte at a time
// parse as they do whole; pipelined messages in one buffer; the limits, each at its edge.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "http/chunked_decoder.hpp"
#include "http/request_parser.hpp"
#include "http/response_parser.hpp"
#include "http/target.hpp"
#include "http_snapshot.hpp"
#include "weft/runtime/errors.hpp"

using weft::http::BodyFraming;
using weft::http::Framing;
using weft::http::HeadLimits;
using weft::http::Method;
using weft::http::ParseErrc;
using weft::http::ParseStatus;
using weft::http::RequestParser;
using weft::http::TargetForm;
using weft::http::test::feed_request;
using weft::http::test::RequestSnapshot;

namespace {

using namespace std::string_literals;

constexpr std::string_view kWrkGet = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

constexpr std::string_view kBrowserGet =
    "GET /search?q=weft+runtime&lang=en HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: none\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "\r\n";

RequestSnapshot parse_request(std::string_view msg, const HeadLimits& limits = {}) {
  return feed_request(msg, {}, limits);
}

/// The error a request gives, or kNone.
ParseErrc request_error(std::string_view msg, const HeadLimits& limits = {}) {
  RequestSnapshot s = parse_request(msg, limits);
  return s.status == ParseStatus::kError ? s.error.code : ParseErrc::kNone;
}

/// "GET / HTTP/1.1" with Host and the given extra field lines (each ending in CRLF).
std::string get_with(std::string_view fields) {
  return "GET / HTTP/1.1\r\nHost: h\r\n"s + std::string(fields) + "\r\n";
}

std::string post_with(std::string_view fields) {
  return "POST /upload HTTP/1.1\r\nHost: h\r\n"s + std::string(fields) + "\r\n";
}

std::vector<std::size_t> every_byte(std::size_t n) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < n; ++i) cuts.push_back(i);
  return cuts;
}

}  // namespace

// ---- Requests: what a well-formed request gives ----

TEST(HttpRequestParser, ParsesAWrkGetRequest) {
  RequestSnapshot s = parse_request(kWrkGet);
  ASSERT_EQ(s.status, ParseStatus::kDone);
  EXPECT_EQ(s.consumed, kWrkGet.size());
  EXPECT_EQ(s.method, Method::kGet);
  EXPECT_EQ(s.method_name, "GET");
  EXPECT_EQ(s.target, "/");
  EXPECT_EQ(s.target_form, TargetForm::kOrigin);
  EXPECT_EQ(s.version_minor, 1);
  ASSERT_EQ(s.fields.size(), 1u);
  EXPECT_EQ(s.fields[0].first, "Host");
  EXPECT_EQ(s.fields[0].second, "127.0.0.1:8080");
  EXPECT_EQ(s.body, BodyFraming{});
  EXPECT_TRUE(s.keep_alive);
  EXPECT_FALSE(s.expect_continue);
}

TEST(HttpRequestParser, HeaderViewsPointIntoTheBufferAndLookupIgnoresCase) {
  std::string msg(kBrowserGet);
  RequestParser p;
  ASSERT_EQ(p.parse(msg), ParseStatus::kDone);
  const auto& h = p.head();
  EXPECT_EQ(h.headers.size(), 12u);
  for (const auto& f : h.headers) {
    EXPECT_GE(f.name.data(), msg.data());
    EXPECT_LE(f.value.data() + f.value.size(), msg.data() + msg.size());
  }
  EXPECT_GE(h.target.data(), msg.data());
  EXPECT_EQ(h.headers.get("user-agent").value().substr(0, 11), "Mozilla/5.0");
  EXPECT_EQ(h.headers.get("ACCEPT-ENCODING"), "gzip, deflate, br, zstd");
  EXPECT_TRUE(h.headers.has_token("accept-encoding", "BR"));
  EXPECT_FALSE(h.headers.contains("Cookie"));
  EXPECT_EQ(h.headers.get_or("Cookie", "none"), "none");
  EXPECT_EQ(h.headers.count("host"), 1u);
}

TEST(HttpRequestParser, TrimsWhitespaceAroundValuesAndKeepsInnerWhitespace) {
  RequestSnapshot s = parse_request(get_with("A:  \t x  y \t \r\nB:\r\nC: \t\r\n"));
  ASSERT_EQ(s.status, ParseStatus::kDone);
  EXPECT_EQ(s.fields[1].second, "x  y");
  EXPECT_EQ(s.fields[2].second, "");
  EXPECT_EQ(s.fields[3].second, "");
}

TEST(HttpRequestParser, AcceptsObsTextInValues) {
  RequestSnapshot s = parse_request(get_with("X-Name: caf\xc3\xa9\r\n"));
  ASSERT_EQ(s.status, ParseStatus::kDone);
  EXPECT_EQ(s.fields[1].second, "caf\xc3\xa9");
}

TEST(HttpRequestParser, NamesKnownMethodsAndKeepsOtherTokens) {
  for (auto [name, method] :
       std::vector<std::pair<std::string, Method>>{{"GET", Method::kGet},
                                                   {"HEAD", Method::kHead},
                                                   {"POST", Method::kPost},
                                                   {"PUT", Method::kPut},
                                                   {"DELETE", Method::kDelete},
                                                   {"OPTIONS", Method::kOptions},
                                                   {"TRACE", Method::kTrace},
                                                   {"PATCH", Method::kPatch},
                                                   {"PURGE", Method::kOther},
                                                   {"get", Method::kOther},
                                                   {"M-SEARCH", Method::kOther}}) {
    RequestSnapshot s = parse_request(name + " / HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(s.status, ParseStatus::kDone) << name;
    EXPECT_EQ(s.method, method) << name;
    EXPECT_EQ(s.method_name, name);
  }
}

TEST(HttpRequestParser, NeedsMoreUntilTheEmptyLineArrives) {
  RequestParser p;
  std::string msg(kWrkGet);
  for (std::size_t n = 0; n < msg.size(); ++n) {
    EXPECT_EQ(p.parse(std::string_view(msg).substr(0, n)), ParseStatus::kNeedMore) << n;
  }
  EXPECT_EQ(p.parse(msg), ParseStatus::kDone);
  EXPECT_EQ(p.consumed(), msg.size());
}

TEST(HttpRequestParser, SkipsEmptyLinesBeforeTheRequestLine) {
  std::string msg = "\r\n\r\n"s + std::string(kWrkGet);
  RequestSnapshot s = parse_request(msg);
  ASSERT_EQ(s.status, ParseStatus::kDone);
  EXPECT_EQ(s.consumed, msg.size());
  EXPECT_EQ(s.target, "/");
}

// ---- Splitting: every split, and byte by byte, gives what the whole gives ----

TEST(HttpRequestParser, EverySplitGivesTheSameResultAsTheWhole) {
  const std::vector<std::string> messages = {
      std::string(kWrkGet),
      std::string(kBrowserGet),
      post_with("Content-Length: 5\r\nExpect: 100-continue\r\n") + "hello",
      post_with("Transfer-Encoding: chunked\r\n"),
      "\r\nGET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      get_with("Bad Name: x\r\n"),
      get_with("X: a\x01b\r\n"),
      get_with("X: y\n"),
      "GET / HTTP/2.0\r\n\r\n",
  };
  for (const std::string& msg : messages) {
    RequestSnapshot whole = parse_request(msg);
    for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
      EXPECT_EQ(feed_request(msg, {cut}), whole) << "cut at " << cut << " of " << msg;
    }
    EXPECT_EQ(feed_request(msg, every_byte(msg.size())), whole) << msg;
  }
}

TEST(HttpRequestParser, LimitErrorsDoNotDependOnHowTheBytesArrive) {
  HeadLimits limits{.max_head = 64, .max_start_line = 24, .max_headers = 2};
  const std::vector<std::string> messages = {
      "GET /a-very-long-path-indeed HTTP/1.1\r\n\r\n",
      get_with("A: 1\r\nB: 2\r\n"),
      get_with("A: 0123456789012345678901234567890123456789\r\n"),
      "GET / HTTP/1.1\r\nHost: h\r\nX-Field-Without-End: abcdefghijklmnopqrstuvwxyz",
  };
  for (const std::string& msg : messages) {
    RequestSnapshot whole = parse_request(msg, limits);
    EXPECT_EQ(whole.status, ParseStatus::kError) << msg;
    for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
      EXPECT_EQ(feed_request(msg, {cut}, limits), whole) << "cut at " << cut << " of " << msg;
    }
    EXPECT_EQ(feed_request(msg, every_byte(msg.size()), limits), whole) << msg;
  }
}

TEST(HttpRequestParser, ParsesPipelinedRequestsFromOneBuffer) {
  std::string buffer = std::string(kWrkGet) + post_with("Content-Length: 3\r\n") + "abc" +
                       "GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  std::string_view rest = buffer;
  RequestParser p;
  std::vector<std::string> targets;
  while (!rest.empty()) {
    ASSERT_EQ(p.parse(rest), ParseStatus::kDone);
    targets.emplace_back(p.head().target);
    std::size_t body = p.head().body.kind == Framing::kLength ? p.head().body.length : 0;
    bool keep_alive = p.head().keep_alive;
    rest.remove_prefix(p.consumed() + body);
    p.reset();
    if (!keep_alive) break;
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"/", "/upload", "/last"}));
  EXPECT_TRUE(rest.empty());
}

TEST(HttpRequestParser, FollowsItsBufferWhenItMoves) {
  // A std::vector that grows moves its bytes: views kept from earlier calls must follow.
  std::string msg(kBrowserGet);
  RequestParser p;
  std::string first = msg.substr(0, msg.size() - 40);
  ASSERT_EQ(p.parse(first), ParseStatus::kNeedMore);
  first.assign(64, 'x');  // the old buffer's bytes change: nothing may still read them
  std::string moved = msg;
  ASSERT_EQ(p.parse(moved), ParseStatus::kDone);
  EXPECT_EQ(p.head().headers.get("Host"), "www.example.com");
  EXPECT_EQ(p.head().headers[0].name.data(), moved.data() + msg.find("Host"));
  EXPECT_EQ(p.head().target, "/search?q=weft+runtime&lang=en");
}

TEST(HttpRequestParser, RefusesABufferShorterThanWhatItRead) {
  std::string msg(kBrowserGet);
  RequestParser p;
  ASSERT_EQ(p.parse(std::string_view(msg).substr(0, 100)), ParseStatus::kNeedMore);
  try {
    (void)p.parse(std::string_view(msg).substr(0, 50));
    FAIL() << "no UsageError";
  } catch (const weft::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("whole message from its first byte"), std::string::npos);
  }
}

// ---- Request line ----

TEST(HttpRequestParser, AcceptsEachTargetFormWhereItBelongs) {
  auto form = [](std::string_view line) {
    RequestSnapshot s = parse_request(std::string(line) + "\r\nHost: h\r\n\r\n");
    EXPECT_EQ(s.status, ParseStatus::kDone) << line << ": " << s.error.message();
    return s.target_form;
  };
  EXPECT_EQ(form("GET /a/b?c=d HTTP/1.1"), TargetForm::kOrigin);
  EXPECT_EQ(form("GET http://example.com:8080/a?b HTTP/1.1"), TargetForm::kAbsolute);
  EXPECT_EQ(form("OPTIONS * HTTP/1.1"), TargetForm::kAsterisk);
  EXPECT_EQ(form("OPTIONS /x HTTP/1.1"), TargetForm::kOrigin);
  EXPECT_EQ(form("CONNECT example.com:443 HTTP/1.1"), TargetForm::kAuthority);
  EXPECT_EQ(form("CONNECT [::1]:8443 HTTP/1.1"), TargetForm::kAuthority);
  EXPECT_EQ(form("GET /a|b{c}^ HTTP/1.1"), TargetForm::kOrigin);
}

TEST(HttpRequestParser, RejectsATargetInTheWrongFormOrWithInvalidCharacters) {
  auto error = [](std::string_view line) {
    return request_error(std::string(line) + "\r\nHost: h\r\n\r\n");
  };
  EXPECT_EQ(error("GET * HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("GET example.com:80 HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("GET urn:isbn:123 HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("GET 1http://h/ HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("CONNECT /x HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("CONNECT example.com HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("CONNECT example.com:https HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("CONNECT :443 HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("GET /a#frag HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("GET /a b HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("GET  / HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("GET /caf\xc3\xa9 HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("GET /a\x7f HTTP/1.1"), ParseErrc::kBadTarget);
  EXPECT_EQ(error("GET /a\tb HTTP/1.1"), ParseErrc::kBadTarget);
}

TEST(HttpRequestParser, NamesTheByteOfAnInvalidTargetCharacter) {
  RequestSnapshot s = parse_request("GET /ab<c>\x01 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(s.status, ParseStatus::kError);
  EXPECT_EQ(s.error.code, ParseErrc::kBadTarget);
  EXPECT_EQ(s.error.offset, 10u);
  EXPECT_EQ(s.error.status(), 400);
  EXPECT_EQ(s.error.message(), "invalid request target at byte 10");
}

TEST(HttpRequestParser, RejectsAnInvalidMethod) {
  EXPECT_EQ(request_error("G@T / HTTP/1.1\r\nHost: h\r\n\r\n"), ParseErrc::kBadMethod);
  EXPECT_EQ(request_error(" GET / HTTP/1.1\r\nHost: h\r\n\r\n"), ParseErrc::kBadMethod);
  EXPECT_EQ(request_error("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"), ParseErrc::kBadMethod);
  EXPECT_EQ(request_error("GET\r\n\r\n"), ParseErrc::kBadMethod);
}

TEST(HttpRequestParser, ReadsHttp10And11AndLaterMinorsAs11) {
  EXPECT_EQ(parse_request("GET / HTTP/1.0\r\n\r\n").version_minor, 0);
  EXPECT_EQ(parse_request(kWrkGet).version_minor, 1);
  EXPECT_EQ(parse_request("GET / HTTP/1.2\r\nHost: h\r\n\r\n").version_minor, 1);
}

TEST(HttpRequestParser, RejectsMalformedVersionsAndAnswersOtherMajorsWith505) {
  EXPECT_EQ(request_error("GET / HTTP/2.0\r\n\r\n"), ParseErrc::kUnsupportedVersion);
  EXPECT_EQ(request_error("GET / HTTP/0.9\r\n\r\n"), ParseErrc::kUnsupportedVersion);
  EXPECT_EQ(weft::http::status_for(ParseErrc::kUnsupportedVersion), 505);
  EXPECT_EQ(request_error("GET / http/1.1\r\nHost: h\r\n\r\n"), ParseErrc::kBadVersion);
  EXPECT_EQ(request_error("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), ParseErrc::kBadVersion);
  EXPECT_EQ(request_error("GET / HTTP/11\r\nHost: h\r\n\r\n"), ParseErrc::kBadVersion);
  EXPECT_EQ(request_error("GET /\r\n\r\n"), ParseErrc::kBadVersion);
  EXPECT_EQ(request_error("GET /HTTP/1.1\r\nHost: h\r\n\r\n"), ParseErrc::kBadVersion);
}

// ---- Line endings, folding, field syntax ----

TEST(HttpRequestParser, RejectsABareLfAnywhere) {
  RequestSnapshot s = parse_request("GET / HTTP/1.1\nHost: h\r\n\r\n");
  EXPECT_EQ(s.error.code, ParseErrc::kBareLf);
  EXPECT_EQ(s.error.offset, 14u);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: h\n\r\n"), ParseErrc::kBareLf);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: h\r\n\n"), ParseErrc::kBareLf);
  EXPECT_EQ(request_error("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), ParseErrc::kBareLf);
}

TEST(HttpRequestParser, RejectsABareCr) {
  EXPECT_EQ(request_error(get_with("X: a\rb\r\n")), ParseErrc::kBareCr);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: h\r\n\rX"), ParseErrc::kBareCr);
  EXPECT_EQ(request_error("\rGET / HTTP/1.1\r\n\r\n"), ParseErrc::kBareCr);
  EXPECT_EQ(request_error("GET /\r HTTP/1.1\r\n\r\n"), ParseErrc::kBadTarget);
}

TEST(HttpRequestParser, RejectsObsFoldAndWhitespaceBeforeTheFirstField) {
  RequestSnapshot s = parse_request(get_with("X: a\r\n  continued\r\n"));
  EXPECT_EQ(s.error.code, ParseErrc::kObsFold);
  EXPECT_EQ(s.error.offset, std::string("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n").size());
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\n\tHost: h\r\n\r\n"), ParseErrc::kObsFold);
}

TEST(HttpRequestParser, RejectsWhitespaceBetweenFieldNameAndColon) {
  RequestSnapshot s = parse_request("GET / HTTP/1.1\r\nHost : h\r\n\r\n");
  EXPECT_EQ(s.error.code, ParseErrc::kSpaceBeforeColon);
  EXPECT_EQ(s.error.offset, 20u);
  EXPECT_EQ(request_error(get_with("X\t: y\r\n")), ParseErrc::kSpaceBeforeColon);
}

TEST(HttpRequestParser, RejectsInvalidFieldNames) {
  EXPECT_EQ(request_error(get_with("X(y): z\r\n")), ParseErrc::kBadHeaderName);
  EXPECT_EQ(request_error(get_with(": z\r\n")), ParseErrc::kBadHeaderName);
  EXPECT_EQ(request_error(get_with("NoColon\r\n")), ParseErrc::kBadHeaderName);
  EXPECT_EQ(request_error(get_with("X\x80: z\r\n")), ParseErrc::kBadHeaderName);
}

TEST(HttpRequestParser, RejectsControlCharactersInValues) {
  for (char c : {'\x00', '\x01', '\x0b', '\x1f', '\x7f'}) {
    std::string msg = get_with("X: a"s + c + "b\r\n");
    RequestSnapshot s = parse_request(msg);
    EXPECT_EQ(s.error.code, ParseErrc::kBadHeaderValue) << int(c);
    EXPECT_EQ(s.error.offset, msg.find("a"s + c) + 1) << int(c);
  }
  EXPECT_EQ(request_error(get_with("X: a\tb\r\n")), ParseErrc::kNone);
}

// ---- Body framing ----

TEST(HttpRequestParser, FramesABodyByContentLength) {
  RequestSnapshot s = parse_request(post_with("Content-Length: 42\r\n"));
  EXPECT_EQ(s.body, (BodyFraming{Framing::kLength, 42}));
  EXPECT_EQ(parse_request(post_with("Content-Length: 0\r\n")).body.kind, Framing::kNone);
  EXPECT_EQ(parse_request(post_with("")).body.kind, Framing::kNone);
  EXPECT_EQ(parse_request(post_with("Content-Length: 18446744073709551615\r\n")).body.length,
            18446744073709551615ull);
}

TEST(HttpRequestParser, AcceptsRepeatedIdenticalContentLengths) {
  EXPECT_EQ(parse_request(post_with("Content-Length: 7\r\nContent-Length: 7\r\n")).body.length, 7u);
  EXPECT_EQ(parse_request(post_with("Content-Length: 7, 7,7\r\n")).body.length, 7u);
}

TEST(HttpRequestParser, RejectsConflictingContentLengths) {
  RequestSnapshot s = parse_request(post_with("Content-Length: 7\r\ncontent-length: 8\r\n"));
  EXPECT_EQ(s.error.code, ParseErrc::kConflictingContentLength);
  EXPECT_EQ(s.error.offset, post_with("Content-Length: 7\r\n").find("Content-Length: 7\r\n") + 19);
  EXPECT_EQ(request_error(post_with("Content-Length: 7, 8\r\n")),
            ParseErrc::kConflictingContentLength);
}

TEST(HttpRequestParser, RejectsInvalidContentLengths) {
  for (std::string_view v : {"-1", "+5", "0x10", "1 2", "", "5,", "18446744073709551616",
                             "99999999999999999999999", "1.0"}) {
    RequestSnapshot s = parse_request(post_with("Content-Length: "s + std::string(v) + "\r\n"));
    EXPECT_EQ(s.error.code, ParseErrc::kBadContentLength) << v;
    EXPECT_EQ(s.error.status(), 400) << v;
  }
}

TEST(HttpRequestParser, FramesAChunkedBody) {
  EXPECT_EQ(parse_request(post_with("Transfer-Encoding: chunked\r\n")).body.kind,
            Framing::kChunked);
  EXPECT_EQ(parse_request(post_with("transfer-encoding:  Chunked \r\n")).body.kind,
            Framing::kChunked);
}

TEST(HttpRequestParser, RejectsContentLengthWithTransferEncoding) {
  // Request smuggling: a proxy and a server that frame the body differently (RFC 9112 §6.3).
  RequestSnapshot s =
      parse_request(post_with("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"));
  EXPECT_EQ(s.error.code, ParseErrc::kContentLengthWithTransferEncoding);
  EXPECT_EQ(s.error.status(), 400);
  EXPECT_NE(s.error.message().find("both Content-Length and Transfer-Encoding"), std::string::npos);
  EXPECT_EQ(request_error(post_with("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n")),
            ParseErrc::kContentLengthWithTransferEncoding);
}

TEST(HttpRequestParser, RejectsTransferEncodingsThatDoNotEndInChunkedOnce) {
  EXPECT_EQ(request_error(post_with("Transfer-Encoding: gzip\r\n")), ParseErrc::kChunkedNotLast);
  EXPECT_EQ(request_error(post_with("Transfer-Encoding: chunked, gzip\r\n")),
            ParseErrc::kChunkedNotLast);
  EXPECT_EQ(request_error(post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n")),
            ParseErrc::kChunkedNotLast);
  EXPECT_EQ(request_error(post_with("Transfer-Encoding: chunked, chunked\r\n")),
            ParseErrc::kBadTransferEncoding);
  EXPECT_EQ(request_error(post_with("Transfer-Encoding: \r\n")), ParseErrc::kBadTransferEncoding);
  EXPECT_EQ(request_error(post_with("Transfer-Encoding: chunked;x=1\r\n")),
            ParseErrc::kChunkedNotLast);
}

TEST(HttpRequestParser, AnswersOtherTransferCodingsBeforeChunkedWith501) {
  RequestSnapshot s = parse_request(post_with("Transfer-Encoding: gzip, chunked\r\n"));
  EXPECT_EQ(s.error.code, ParseErrc::kUnsupportedTransferCoding);
  EXPECT_EQ(s.error.status(), 501);
  EXPECT_EQ(request_error(post_with("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n")),
            ParseErrc::kUnsupportedTransferCoding);
}

TEST(HttpRequestParser, RejectsTransferEncodingInHttp10) {
  EXPECT_EQ(request_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ParseErrc::kTransferEncodingInHttp10);
}

// ---- Host ----

TEST(HttpRequestParser, RequiresExactlyOneValidHostInHttp11) {
  RequestSnapshot s = parse_request("GET / HTTP/1.1\r\nX: y\r\n\r\n");
  EXPECT_EQ(s.error.code, ParseErrc::kMissingHost);
  EXPECT_EQ(s.error.offset, 24u);
  EXPECT_EQ(request_error("GET / HTTP/1.0\r\n\r\n"), ParseErrc::kNone);
  EXPECT_EQ(request_error(get_with("Host: h\r\n")), ParseErrc::kDuplicateHost);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), ParseErrc::kBadHost);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), ParseErrc::kBadHost);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: user@h\r\n\r\n"), ParseErrc::kBadHost);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), ParseErrc::kNone);
  EXPECT_EQ(request_error("GET / HTTP/1.1\r\nHost:\r\n\r\n"), ParseErrc::kNone);
}

// ---- Connection, Expect, Upgrade ----

TEST(HttpRequestParser, KeepsAliveByDefaultIn11AndOnlyOnRequestIn10) {
  EXPECT_TRUE(parse_request(kWrkGet).keep_alive);
  EXPECT_FALSE(parse_request(get_with("Connection: close\r\n")).keep_alive);
  EXPECT_FALSE(parse_request(get_with("Connection: Upgrade, CLOSE\r\n")).keep_alive);
  EXPECT_FALSE(parse_request("GET / HTTP/1.0\r\n\r\n").keep_alive);
  EXPECT_TRUE(parse_request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
  EXPECT_FALSE(
      parse_request("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")
          .keep_alive);
}

TEST(HttpRequestParser, SeesExpect100ContinueIn11Only) {
  EXPECT_TRUE(
      parse_request(post_with("Expect: 100-Continue\r\nContent-Length: 9\r\n")).expect_continue);
  EXPECT_FALSE(parse_request("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
  EXPECT_FALSE(parse_request(post_with("Expect: something-else\r\n")).expect_continue);
}

TEST(HttpRequestParser, SeesAWebSocketUpgrade) {
  RequestSnapshot s = parse_request(get_with(
      "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"));
  ASSERT_EQ(s.status, ParseStatus::kDone);
  EXPECT_EQ(s.upgrade, "websocket");
  EXPECT_TRUE(s.websocket);
  // Upgrade counts only when Connection names it (RFC 9110 §7.8).
  s = parse_request(get_with("Upgrade: websocket\r\n"));
  EXPECT_EQ(s.upgrade, "");
  EXPECT_FALSE(s.websocket);
  s = parse_request(get_with("Connection: upgrade\r\nUpgrade: h2c\r\n"));
  EXPECT_EQ(s.upgrade, "h2c");
  EXPECT_FALSE(s.websocket);
}

// ---- Limits ----

TEST(HttpRequestParser, AnswersARequestLineOverItsLimitWith414) {
  HeadLimits limits{.max_head = 1024, .max_start_line = 32, .max_headers = 10};
  std::string fits = "GET /" + std::string(16, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT_EQ(fits.find('\n') + 1, 32u);
  EXPECT_EQ(parse_request(fits, limits).status, ParseStatus::kDone);
  std::string over = "GET /" + std::string(17, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestSnapshot s = parse_request(over, limits);
  EXPECT_EQ(s.error.code, ParseErrc::kStartLineTooLong);
  EXPECT_EQ(s.error.status(), 414);
  EXPECT_EQ(s.error.offset, 32u);
  // Without waiting for the line's end.
  RequestParser p(limits);
  EXPECT_EQ(p.parse(over.substr(0, 31)), ParseStatus::kNeedMore);
  EXPECT_EQ(p.parse(over.substr(0, 32)), ParseStatus::kError);
  EXPECT_EQ(p.error().message(), "request or status line too long at byte 32");
}

TEST(HttpRequestParser, AnswersAHeadOverItsLimitWith431) {
  std::string msg = get_with("X: " + std::string(100, 'v') + "\r\n");
  HeadLimits fits{.max_head = msg.size(), .max_start_line = 64, .max_headers = 10};
  EXPECT_EQ(parse_request(msg, fits).status, ParseStatus::kDone);
  HeadLimits under{.max_head = msg.size() - 1, .max_start_line = 64, .max_headers = 10};
  RequestSnapshot s = parse_request(msg, under);
  EXPECT_EQ(s.error.code, ParseErrc::kHeadTooLarge);
  EXPECT_EQ(s.error.status(), 431);
  EXPECT_EQ(s.error.offset, msg.size() - 1);
  // A field line that never ends is refused once it crosses the limit.
  RequestParser p(under);
  std::string endless = "GET / HTTP/1.1\r\nX: " + std::string(200, 'v');
  EXPECT_EQ(p.parse(endless), ParseStatus::kError);
  EXPECT_EQ(p.error().code, ParseErrc::kHeadTooLarge);
}

TEST(HttpRequestParser, AnswersTooManyFieldsWith431) {
  HeadLimits limits{.max_head = 1024, .max_start_line = 64, .max_headers = 3};
  EXPECT_EQ(parse_request(get_with("A: 1\r\nB: 2\r\n"), limits).status, ParseStatus::kDone);
  RequestSnapshot s = parse_request(get_with("A: 1\r\nB: 2\r\nC: 3\r\n"), limits);
  EXPECT_EQ(s.error.code, ParseErrc::kTooManyHeaders);
  EXPECT_EQ(s.error.status(), 431);
  EXPECT_NE(s.error.message().find("too many header fields at byte"), std::string::npos);
}

TEST(HttpRequestParser, LimitsTheEmptyLinesBeforeTheRequestLine) {
  HeadLimits limits{.max_head = 16, .max_start_line = 16, .max_headers = 3};
  std::string crlfs;
  for (int i = 0; i < 20; ++i) crlfs += "\r\n";
  EXPECT_EQ(request_error(crlfs, limits), ParseErrc::kHeadTooLarge);
}

TEST(HttpRequestParser, ReusesItsFieldStorageAfterReset) {
  RequestParser p;
  std::string msg(kBrowserGet);
  ASSERT_EQ(p.parse(msg), ParseStatus::kDone);
  const void* storage = &p.head().headers[0];
  p.reset();
  ASSERT_EQ(p.parse(msg), ParseStatus::kDone);
  EXPECT_EQ(static_cast<const void*>(&p.head().headers[0]), storage);
}

// ---- Responses ----

using weft::http::ResponseParser;
using weft::http::test::feed_response;
using weft::http::test::ResponseSnapshot;

namespace {

ResponseSnapshot parse_response(std::string_view msg, Method method = Method::kGet) {
  return feed_response(msg, {}, method);
}

ParseErrc response_error(std::string_view msg, Method method = Method::kGet) {
  ResponseSnapshot s = parse_response(msg, method);
  return s.status == ParseStatus::kError ? s.error.code : ParseErrc::kNone;
}

}  // namespace

TEST(HttpResponseParser, ParsesAStatusLineAndFields) {
  std::string msg = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nServer: nginx\r\n\r\nHello, World!";
  ResponseSnapshot s = parse_response(msg);
  ASSERT_EQ(s.status, ParseStatus::kDone);
  EXPECT_EQ(s.status_code, 200);
  EXPECT_EQ(s.reason, "OK");
  EXPECT_EQ(s.version_minor, 1);
  EXPECT_EQ(s.consumed, msg.size() - 13);
  EXPECT_EQ(s.body, (BodyFraming{Framing::kLength, 13}));
  EXPECT_TRUE(s.keep_alive);
  EXPECT_EQ(s.fields.size(), 2u);
}

TEST(HttpResponseParser, AcceptsAnEmptyOrMissingReason) {
  EXPECT_EQ(parse_response("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n").reason, "");
  ResponseSnapshot s = parse_response("HTTP/1.1 204\r\n\r\n");
  ASSERT_EQ(s.status, ParseStatus::kDone);
  EXPECT_EQ(s.status_code, 204);
  EXPECT_EQ(s.reason, "");
  EXPECT_EQ(parse_response("HTTP/1.1 500 Internal \t Error\r\n\r\n").reason, "Internal \t Error");
}

TEST(HttpResponseParser, RejectsMalformedStatusLines) {
  EXPECT_EQ(response_error("HTTP/1.1 20 OK\r\n\r\n"), ParseErrc::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 2000 OK\r\n\r\n"), ParseErrc::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 abc OK\r\n\r\n"), ParseErrc::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 099 OK\r\n\r\n"), ParseErrc::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1  200 OK\r\n\r\n"), ParseErrc::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 200 O\x01K\r\n\r\n"), ParseErrc::kBadStatusLine);
  EXPECT_EQ(response_error("HTTP/1.1 200 O\rK\r\n\r\n"), ParseErrc::kBareCr);
  EXPECT_EQ(response_error("HTTP/1.1 200 OK\n\r\n"), ParseErrc::kBareLf);
  EXPECT_EQ(response_error("HTTX/1.1 200 OK\r\n\r\n"), ParseErrc::kBadVersion);
  EXPECT_EQ(response_error("HTTP/2.0 200 OK\r\n\r\n"), ParseErrc::kUnsupportedVersion);
  EXPECT_EQ(response_error("ICY 200 OK\r\n\r\n"), ParseErrc::kBadStatusLine);
}

TEST(HttpResponseParser, GivesNoBodyToHeadResponses1xx204And304) {
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", Method::kHead).body,
            BodyFraming{});
  EXPECT_EQ(
      parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::kHead).body,
      BodyFraming{});
  EXPECT_EQ(parse_response("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n").body,
            BodyFraming{});
  EXPECT_EQ(parse_response("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n").body,
            BodyFraming{});
  ResponseSnapshot s = parse_response("HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(s.body, BodyFraming{});
  EXPECT_TRUE(s.keep_alive);
}

TEST(HttpResponseParser, GivesNoBodyToA2xxAnswerToConnect) {
  EXPECT_EQ(parse_response("HTTP/1.1 200 Connection established\r\n\r\n", Method::kConnect).body,
            BodyFraming{});
  EXPECT_EQ(
      parse_response("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 3\r\n\r\n", Method::kConnect).body,
      (BodyFraming{Framing::kLength, 3}));
}

TEST(HttpResponseParser, FramesChunkedLengthAndUntilClose) {
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").body.kind,
            Framing::kChunked);
  ResponseSnapshot s = parse_response("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(s.body.kind, Framing::kUntilClose);
  EXPECT_FALSE(s.keep_alive);
  s = parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
  EXPECT_EQ(s.body.kind, Framing::kUntilClose);
  EXPECT_FALSE(s.keep_alive);
  s = parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  EXPECT_EQ(s.body.kind, Framing::kChunked);
  EXPECT_TRUE(s.keep_alive);
}

TEST(HttpResponseParser, LetsTransferEncodingWinOverContentLengthAndDropsTheConnection) {
  ResponseSnapshot s =
      parse_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(s.body.kind, Framing::kChunked);
  EXPECT_FALSE(s.keep_alive);
}

TEST(HttpResponseParser, RejectsBadFramingFields) {
  EXPECT_EQ(response_error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            ParseErrc::kBadContentLength);
  EXPECT_EQ(response_error("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            ParseErrc::kConflictingContentLength);
  EXPECT_EQ(response_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
            ParseErrc::kBadTransferEncoding);
  EXPECT_EQ(response_error("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ParseErrc::kTransferEncodingInHttp10);
  EXPECT_EQ(response_error("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"), ParseErrc::kObsFold);
}

TEST(HttpResponseParser, KeepsAliveByVersionAndConnection) {
  EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                   .keep_alive);
  EXPECT_FALSE(parse_response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_TRUE(
      parse_response("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
          .keep_alive);
}

TEST(HttpResponseParser, SeesTheProtocolOfA101) {
  ResponseSnapshot s = parse_response(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  EXPECT_EQ(s.status_code, 101);
  EXPECT_EQ(s.upgrade, "websocket");
  EXPECT_EQ(s.body, BodyFraming{});
}

TEST(HttpResponseParser, ParsesTheFinalResponseAfterAnInterimOne) {
  std::string buffer =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
  ResponseParser p({}, Method::kPost);
  ASSERT_EQ(p.parse(buffer), ParseStatus::kDone);
  EXPECT_TRUE(p.head().interim());
  std::size_t used = p.consumed();
  p.reset(Method::kPost);
  ASSERT_EQ(p.parse(std::string_view(buffer).substr(used)), ParseStatus::kDone);
  EXPECT_EQ(p.head().status, 201);
  EXPECT_EQ(used + p.consumed(), buffer.size());
}

TEST(HttpResponseParser, EverySplitGivesTheSameResultAsTheWhole) {
  const std::vector<std::string> messages = {
      "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 06 Dec 2026 11:00:00 GMT\r\n"
      "Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n",
      "HTTP/1.1 404\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n",
      "HTTP/1.1 2x0 OK\r\n\r\n",
  };
  for (const std::string& msg : messages) {
    ResponseSnapshot whole = parse_response(msg);
    for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
      EXPECT_EQ(feed_response(msg, {cut}), whole) << "cut at " << cut << " of " << msg;
    }
    EXPECT_EQ(feed_response(msg, every_byte(msg.size())), whole) << msg;
  }
}

TEST(HttpResponseParser, LimitsItsStatusLineAndHead) {
  HeadLimits limits{.max_head = 64, .max_start_line = 20, .max_headers = 1};
  EXPECT_EQ(
      feed_response("HTTP/1.1 200 A long reason\r\n\r\n", {}, Method::kGet, limits).error.code,
      ParseErrc::kStartLineTooLong);
  EXPECT_EQ(
      feed_response("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", {}, Method::kGet, limits).error.code,
      ParseErrc::kTooManyHeaders);
}

// ---- Chunked bodies ----

using weft::http::ChunkedDecoder;
using weft::http::ChunkedLimits;
using weft::http::test::feed_chunked;

namespace {

constexpr std::string_view kWikipedia =
    "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";

ParseErrc chunked_error(std::string_view body, const ChunkedLimits& limits = {}) {
  auto s = feed_chunked(body, {}, limits);
  return s.status == ChunkedDecoder::Status::kError ? s.error.code : ParseErrc::kNone;
}

}  // namespace

TEST(ChunkedDecoder, DecodesChunksWithoutCopyingThem) {
  std::string body(kWikipedia);
  ChunkedDecoder d;
  std::string_view in = body;
  std::string out;
  for (;;) {
    auto r = d.decode(in);
    if (r.status != ChunkedDecoder::Status::kData) {
      ASSERT_EQ(r.status, ChunkedDecoder::Status::kDone);
      in.remove_prefix(r.consumed);
      break;
    }
    EXPECT_GE(r.data.data(), body.data());
    EXPECT_LE(r.data.data() + r.data.size(), body.data() + body.size());
    out += r.data;
    in.remove_prefix(r.consumed);
  }
  EXPECT_EQ(out, "Wikipedia in\r\n\r\nchunks.");
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(d.body_size(), 23u);
}

TEST(ChunkedDecoder, StopsAtTheEndOfTheBodyAndStaysDone) {
  std::string buffer = std::string(kWikipedia) + "GET / HTTP/1.1\r\n";
  auto s = feed_chunked(buffer, {});
  EXPECT_EQ(s.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(s.consumed, kWikipedia.size());
  ChunkedDecoder d;
  std::string_view in = buffer;
  while (true) {
    auto r = d.decode(in);
    in.remove_prefix(r.consumed);
    if (r.status == ChunkedDecoder::Status::kDone) break;
  }
  auto again = d.decode(in);
  EXPECT_EQ(again.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(again.consumed, 0u);
}

TEST(ChunkedDecoder, EverySplitGivesTheSameResultAsTheWhole) {
  const std::vector<std::string> bodies = {
      std::string(kWikipedia),
      "a;name=value;flag\r\n0123456789\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
      "A \t; x=\"quoted; string\"\r\n0123456789\r\n00\r\n\r\n",
      "5\r\nabcde\n0\r\n\r\n",
      "3\r\nabc\r\n0\r\nBad Trailer: x\r\n\r\n",
      "fffffffffffffffff\r\n",
  };
  for (const std::string& body : bodies) {
    auto whole = feed_chunked(body, {});
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
      bool bad_view = false;
      EXPECT_EQ(feed_chunked(body, {cut}, {}, &bad_view), whole)
          << "cut at " << cut << ": " << body;
      EXPECT_FALSE(bad_view);
    }
    EXPECT_EQ(feed_chunked(body, every_byte(body.size())), whole) << body;
  }
}

TEST(ChunkedDecoder, ReadsHexSizesInEitherCase) {
  auto s = feed_chunked(
      "1A\r\n" + std::string(26, 'x') + "\r\n1a\r\n" + std::string(26, 'y') + "\r\n0\r\n\r\n", {});
  EXPECT_EQ(s.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(s.data.size(), 52u);
}

TEST(ChunkedDecoder, RejectsInvalidChunkSizes) {
  EXPECT_EQ(chunked_error("x\r\n"), ParseErrc::kBadChunkSize);
  EXPECT_EQ(chunked_error("-1\r\n"), ParseErrc::kBadChunkSize);
  EXPECT_EQ(chunked_error("0x1\r\n"), ParseErrc::kBadChunkSize);
  EXPECT_EQ(chunked_error("\r\n"), ParseErrc::kBadChunkSize);
  EXPECT_EQ(chunked_error(" 1\r\n"), ParseErrc::kBadChunkSize);
  EXPECT_EQ(chunked_error("+1\r\n"), ParseErrc::kBadChunkSize);
  EXPECT_EQ(chunked_error("1 \r\nx\r\n0\r\n\r\n"), ParseErrc::kBadChunkExtension);
}

TEST(ChunkedDecoder, RejectsASizeThatCannotFit64Bits) {
  EXPECT_EQ(chunked_error("ffffffffffffffff\r\n"), ParseErrc::kNone);
  auto s = feed_chunked("10000000000000000\r\n", {});
  EXPECT_EQ(s.error.code, ParseErrc::kChunkSizeTooLong);
  EXPECT_EQ(s.error.offset, 16u);
  EXPECT_EQ(chunked_error("00000000000000001\r\n"), ParseErrc::kChunkSizeTooLong);
}

TEST(ChunkedDecoder, AnswersABodyOverItsLimitWith413BeforeReadingIt) {
  ChunkedLimits limits{.max_body = 10};
  EXPECT_EQ(chunked_error("5\r\n12345\r\n5\r\n12345\r\n0\r\n\r\n", limits), ParseErrc::kNone);
  auto s = feed_chunked("5\r\n12345\r\n6\r\n", {}, limits);
  EXPECT_EQ(s.error.code, ParseErrc::kBodyTooLarge);
  EXPECT_EQ(s.error.status(), 413);
  EXPECT_EQ(s.error.offset, 10u);
  EXPECT_EQ(chunked_error("ffffffffffffffff\r\n", limits), ParseErrc::kBodyTooLarge);
}

TEST(ChunkedDecoder, SkipsExtensionsWithinTheirLimit) {
  ChunkedLimits limits{.max_extensions = 10};
  EXPECT_EQ(chunked_error("1;abcdefghi\r\nx\r\n0\r\n\r\n", limits), ParseErrc::kNone);
  EXPECT_EQ(chunked_error("1;abcdefghij\r\nx\r\n0\r\n\r\n", limits),
            ParseErrc::kChunkExtensionsTooLong);
  // The limit is on the whole body: many small extensions add up.
  EXPECT_EQ(chunked_error("1;abcd\r\nx\r\n1;abcd\r\nx\r\n1;abcd\r\nx\r\n0\r\n\r\n", limits),
            ParseErrc::kChunkExtensionsTooLong);
  EXPECT_EQ(chunked_error("1;a\x01\r\nx\r\n0\r\n\r\n"), ParseErrc::kBadChunkExtension);
}

TEST(ChunkedDecoder, RejectsBareLineEndsInFraming) {
  EXPECT_EQ(chunked_error("1\nx\r\n0\r\n\r\n"), ParseErrc::kBareLf);
  EXPECT_EQ(chunked_error("1\r\nx\n0\r\n\r\n"), ParseErrc::kBareLf);
  EXPECT_EQ(chunked_error("1\r\nx\r\n0\r\n\n"), ParseErrc::kBareLf);
  auto s = feed_chunked("1\r\nx\rX0\r\n\r\n", {});
  EXPECT_EQ(s.error.code, ParseErrc::kBareCr);
  EXPECT_EQ(s.error.offset, 4u);
  EXPECT_EQ(chunked_error("1\rx"), ParseErrc::kBareCr);
}

TEST(ChunkedDecoder, RejectsDataLongerThanItsChunk) {
  auto s = feed_chunked("3\r\nabcd\r\n0\r\n\r\n", {});
  EXPECT_EQ(s.error.code, ParseErrc::kBadChunkEnd);
  EXPECT_EQ(s.error.offset, 6u);
  EXPECT_EQ(s.data, "abc");
}

TEST(ChunkedDecoder, ChecksAndDropsTrailers) {
  auto s = feed_chunked("0\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n", {});
  EXPECT_EQ(s.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(chunked_error("0\r\nX: a\r\n continued\r\n\r\n"), ParseErrc::kObsFold);
  EXPECT_EQ(chunked_error("0\r\nX : a\r\n\r\n"), ParseErrc::kSpaceBeforeColon);
  EXPECT_EQ(chunked_error("0\r\nX(: a\r\n\r\n"), ParseErrc::kBadTrailer);
  EXPECT_EQ(chunked_error("0\r\nX: a\x7f\r\n\r\n"), ParseErrc::kBadTrailer);
}

TEST(ChunkedDecoder, AnswersTrailersOverTheirLimitWith431) {
  ChunkedLimits limits{.max_trailers = 12};
  EXPECT_EQ(chunked_error("0\r\nX: 12345\r\n\r\n", limits), ParseErrc::kNone);
  auto s = feed_chunked("0\r\nX: 123456\r\n\r\n", {}, limits);
  EXPECT_EQ(s.error.code, ParseErrc::kTrailersTooLarge);
  EXPECT_EQ(s.error.status(), 431);
}

TEST(ChunkedDecoder, StartsOverAfterReset) {
  ChunkedDecoder d({.max_body = 8});
  std::string_view in = "5\r\n12345\r\n0\r\n\r\n";
  while (d.decode(in).status == ChunkedDecoder::Status::kData) {
  }
  d.reset();
  auto r = d.decode("3\r\nabc");
  EXPECT_EQ(r.status, ChunkedDecoder::Status::kData);
  EXPECT_EQ(r.data, "abc");
  EXPECT_EQ(d.body_size(), 3u);
}

// ---- Targets, percent-decoding, queries ----

TEST(RequestTarget, SplitsPathAndQuery) {
  using weft::http::split_target;
  auto o = split_target("/a/b?x=1&y=2", TargetForm::kOrigin);
  EXPECT_EQ(o.path, "/a/b");
  EXPECT_EQ(o.query, "x=1&y=2");
  EXPECT_EQ(split_target("/a", TargetForm::kOrigin).query, "");
  auto a = split_target("http://example.com:8080/p?q", TargetForm::kAbsolute);
  EXPECT_EQ(a.authority, "example.com:8080");
  EXPECT_EQ(a.path, "/p");
  EXPECT_EQ(a.query, "q");
  auto bare = split_target("http://example.com?q", TargetForm::kAbsolute);
  EXPECT_EQ(bare.authority, "example.com");
  EXPECT_EQ(bare.path, "/");
  EXPECT_EQ(bare.query, "q");
  EXPECT_EQ(split_target("example.com:443", TargetForm::kAuthority).authority, "example.com:443");
  EXPECT_EQ(split_target("*", TargetForm::kAsterisk).path, "");
}

TEST(RequestTarget, DecodesPercentEscapesInPaths) {
  EXPECT_EQ(weft::http::decode_path("/a%20b/%E2%82%ac+c"), "/a b/\xe2\x82\xac+c");
  EXPECT_EQ(weft::http::decode_path("/plain"), "/plain");
  std::string out = "x";
  weft::http::percent_decode_append("a+b%2B", out, true);
  EXPECT_EQ(out, "xa b+");
}

TEST(RequestTarget, RejectsBadEscapesNamingTheByte) {
  for (auto [in, at] : std::vector<std::pair<std::string, std::string>>{
           {"/a%G1", "byte 2"}, {"/a%4", "byte 2"}, {"/a%", "byte 2"}, {"%x%20", "byte 0"}}) {
    try {
      (void)weft::http::decode_path(in);
      ADD_FAILURE() << in;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("bad percent escape at " + at), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW((void)weft::http::decode_path("/a%00b"), std::invalid_argument);
}

TEST(RequestTarget, ParsesQueryPairs) {
  using weft::http::QueryParam;
  EXPECT_EQ(weft::http::parse_query("a=1&b=x%20y&c=p+q&&flag&e=&=v&x=a=b"),
            (std::vector<QueryParam>{{"a", "1"},
                                     {"b", "x y"},
                                     {"c", "p q"},
                                     {"flag", ""},
                                     {"e", ""},
                                     {"", "v"},
                                     {"x", "a=b"}}));
  EXPECT_TRUE(weft::http::parse_query("").empty());
  EXPECT_EQ(weft::http::parse_query("k%3D=%26v%00"),
            (std::vector<QueryParam>{{"k=", "&v"s + '\0'}}));
}

TEST(RequestTarget, NamesTheOffsetOfABadEscapeInTheQuery) {
  try {
    (void)weft::http::parse_query("a=1&b=%zz");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("at byte 6"), std::string::npos) << e.what();
  }
}
