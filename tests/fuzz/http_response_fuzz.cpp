// Fuzzes weft::http::ResponseParser. The input is what a client connection reads, parsed
// once as the answer to a GET, once to a HEAD and once to a CONNECT; responses follow one
// another while they keep the connection alive (after a 1xx, the same request's next one).
// Invariants, for each response:
// - consumed() is within the bytes given, and an error's offset too;
// - every view (reason, field names and values, Upgrade) lies inside the input;
// - fed in pieces (cuts_for), each piece in a new buffer, the parse gives the same result
//   (checked for the GET run);
// - the framing follows RFC 9112 §6.3: no body for HEAD, 1xx, 204, 304 and a 2xx to
//   CONNECT; a body read until close never leaves the connection alive.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/response_parser.hpp"
#include "http_snapshot.hpp"

using weft::fuzz::check;
using weft::fuzz::inside;
using namespace weft::http;

namespace {

constexpr HeadLimits kLimits{.max_head = 2048, .max_start_line = 512, .max_headers = 24};

/// `split`: also compare with the parse fed in pieces (once per input is enough: the
/// method only matters once the head is complete).
void run(std::string_view rest, Method method, bool split) {
  ResponseParser p(kLimits, method);
  for (int message = 0; message < 8 && !rest.empty(); ++message) {
    p.reset(method);
    ParseStatus s = p.parse(rest);
    check(!split || test::feed_response(rest, weft::fuzz::cuts_for(rest), method, kLimits) ==
                        test::snapshot(p, s),
          "pieces parse as the whole");
    if (s == ParseStatus::kError) {
      check(p.error().offset <= rest.size(), "error offset within the input");
      return;
    }
    if (s == ParseStatus::kNeedMore) return;
    const ResponseHead& h = p.head();
    check(p.consumed() > 0 && p.consumed() <= rest.size(), "consumed within the input");
    std::string_view head = rest.substr(0, p.consumed());
    check(inside(h.reason, head), "reason inside the head");
    check(h.upgrade.empty() || inside(h.upgrade, head), "upgrade inside the head");
    for (const HeaderField& f : h.headers) {
      check(inside(f.name, head) && inside(f.value, head), "field inside the head");
    }
    check(h.status >= 100 && h.status <= 999, "a three-digit status");
    const bool no_body = method == Method::kHead || h.interim() || h.status == 204 ||
                         h.status == 304 ||
                         (method == Method::kConnect && h.status >= 200 && h.status < 300);
    check(!no_body || h.body.kind == Framing::kNone, "no body where RFC 9112 gives none");
    check(h.body.kind != Framing::kUntilClose || !h.keep_alive, "until close is not reused");
    rest.remove_prefix(p.consumed());
    if (h.interim()) continue;
    if (h.body.kind == Framing::kChunked || !h.keep_alive) return;
    if (h.body.kind == Framing::kLength) {
      if (h.body.length > rest.size()) return;
      rest.remove_prefix(h.body.length);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  run(input, Method::kGet, true);
  run(input, Method::kHead, false);
  run(input, Method::kConnect, false);
  return 0;
}
