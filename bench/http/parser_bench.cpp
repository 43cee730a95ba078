// weft's HTTP/1.1 request parser (io/src/http/request_parser.hpp) against Debian's
// libhttp-parser (nodejs/http-parser 2.9), the parser issue 17 would use unless weft's is
// faster. Each benchmark parses one request head per iteration from a buffer that holds it
// whole, as a server's read of a keep-alive connection does: a wrk GET (one field) and a
// browser GET (twelve fields).
//
// The fair minimum for http_parser is what a server needs from any parser: it is given
// callbacks that record the method, the target and each field's name and value as spans
// (no copy), and keep-alive is read at the end. weft's parser does that and more (Host,
// framing, Expect and Upgrade are derived, the field views are checked). Reported:
// time per request, requests/s (items_per_second) and bytes/s of head parsed.
#include <benchmark/benchmark.h>

#include <http_parser.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "http/request_parser.hpp"

namespace {

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

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "parser_bench: %s\n", what);
  std::abort();
}

void weft_parse(benchmark::State& state, std::string_view request) {
  weft::http::RequestParser parser;
  for (auto _ : state) {
    parser.reset();
    if (parser.parse(request) != weft::http::ParseStatus::kDone) fail("weft: not parsed");
    benchmark::DoNotOptimize(parser.head());
  }
  if (parser.head().headers.empty()) fail("weft: no fields");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * request.size()));
}

/// What the callbacks record: spans into the buffer, as weft's parser gives.
struct Spans {
  struct Span {
    const char* at;
    std::size_t size;
  };
  Span url{};
  std::array<Span, 32> names{}, values{};
  std::size_t fields = 0;
  bool complete = false;
};

Spans* spans_of(http_parser* p) {
  return static_cast<Spans*>(p->data);
}

// A field's name or value may arrive in several calls when it spans reads; from one buffer
// each arrives once, so a call always starts a new span.
const http_parser_settings kSettings = [] {
  http_parser_settings s{};
  s.on_url = [](http_parser* p, const char* at, std::size_t n) {
    spans_of(p)->url = {at, n};
    return 0;
  };
  s.on_header_field = [](http_parser* p, const char* at, std::size_t n) {
    Spans* r = spans_of(p);
    if (r->fields == r->names.size()) return 1;
    r->names[r->fields] = {at, n};
    return 0;
  };
  s.on_header_value = [](http_parser* p, const char* at, std::size_t n) {
    Spans* r = spans_of(p);
    r->values[r->fields++] = {at, n};
    return 0;
  };
  s.on_headers_complete = [](http_parser* p) {
    spans_of(p)->complete = true;
    return 0;
  };
  return s;
}();

void http_parser_parse(benchmark::State& state, std::string_view request) {
  http_parser parser;
  Spans spans;
  for (auto _ : state) {
    http_parser_init(&parser, HTTP_REQUEST);
    spans = {};
    parser.data = &spans;
    std::size_t n = http_parser_execute(&parser, &kSettings, request.data(), request.size());
    if (n != request.size() || !spans.complete) fail("http_parser: not parsed");
    bool keep_alive = http_should_keep_alive(&parser) != 0;
    benchmark::DoNotOptimize(keep_alive);
    benchmark::DoNotOptimize(spans);
  }
  if (spans.fields == 0) fail("http_parser: no fields");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * request.size()));
}

}  // namespace

BENCHMARK_CAPTURE(weft_parse, wrk_get, kWrkGet);
BENCHMARK_CAPTURE(http_parser_parse, wrk_get, kWrkGet);
BENCHMARK_CAPTURE(weft_parse, browser_get, kBrowserGet);
BENCHMARK_CAPTURE(http_parser_parse, browser_get, kBrowserGet);

BENCHMARK_MAIN();
