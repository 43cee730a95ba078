// Fuzzes weft::http::RequestParser (and the target decoders on what it accepts). The input
// is a connection's bytes: requests are parsed one after another, as a server would, while
// the previous one kept the connection alive. Invariants, for each request:
// - consumed() is within the bytes given, and an error's offset too;
// - every view (method, target, field names and values, Upgrade) lies inside the input;
// - fed in pieces (cuts_for), each piece in a new buffer, the parse gives the same result;
// - a request with a body framed by length skips its body; a chunked one stops the run.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/request_parser.hpp"
#include "http/target.hpp"
#include "http_snapshot.hpp"

using weft::fuzz::check;
using weft::fuzz::inside;
using namespace weft::http;

namespace {

// Small enough that the fuzzer reaches each limit.
constexpr HeadLimits kLimits{.max_head = 2048, .max_start_line = 512, .max_headers = 24};

void check_target(const RequestHead& h) {
  TargetParts parts = split_target(h.target, h.target_form);
  check(parts.path.empty() || parts.path == "/" || inside(parts.path, h.target),
        "path inside the target");
  check(inside(parts.query, h.target) || parts.query.empty(), "query inside the target");
  try {
    (void)decode_path(parts.path);
  } catch (const std::invalid_argument&) {
  }
  try {
    for (const QueryParam& p : parse_query(parts.query)) {
      check(p.name.size() + p.value.size() <= parts.query.size(), "decoding only shrinks");
    }
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  RequestParser p(kLimits);
  for (int message = 0; message < 8 && !rest.empty(); ++message) {
    p.reset();
    ParseStatus s = p.parse(rest);
    check(test::feed_request(rest, weft::fuzz::cuts_for(rest), kLimits) == test::snapshot(p, s),
          "pieces parse as the whole");
    if (s == ParseStatus::kError) {
      check(p.error().offset <= rest.size(), "error offset within the input");
      check(p.error().status() >= 400, "an error status");
      return 0;
    }
    if (s == ParseStatus::kNeedMore) return 0;
    const RequestHead& h = p.head();
    check(p.consumed() > 0 && p.consumed() <= rest.size(), "consumed within the input");
    std::string_view head = rest.substr(0, p.consumed());
    check(inside(h.method_name, head) && inside(h.target, head), "start line inside the head");
    check(!h.target.empty() && !h.method_name.empty(), "method and target not empty");
    check(h.upgrade.empty() || inside(h.upgrade, head), "upgrade inside the head");
    for (const HeaderField& f : h.headers) {
      check(inside(f.name, head) && inside(f.value, head), "field inside the head");
      check(!f.name.empty(), "field name not empty");
    }
    check(h.headers.size() <= kLimits.max_headers, "field limit kept");
    check(p.consumed() <= kLimits.max_head, "head limit kept");
    check_target(h);
    rest.remove_prefix(p.consumed());
    if (h.body.kind == Framing::kChunked || !h.keep_alive) return 0;
    if (h.body.kind == Framing::kLength) {
      if (h.body.length > rest.size()) return 0;
      rest.remove_prefix(h.body.length);
    }
  }
  return 0;
}
