// Fuzzes weft::http::ChunkedDecoder. The input is a chunked body and whatever follows it.
// Invariants:
// - every call consumes no more than it was given, and data views lie inside its input;
// - the data handed out adds up to body_size() once the body is done, and within max_body;
// - an error's offset lies within the input;
// - fed in pieces (cuts_for), each piece in a new buffer, the decode gives the same data,
//   the same end and the same error;
// - the decoded data, chunked again, decodes to itself.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/chunked_decoder.hpp"
#include "http_snapshot.hpp"

using weft::fuzz::check;
using weft::fuzz::inside;
using namespace weft::http;

namespace {

// Small enough that the fuzzer reaches each limit.
constexpr ChunkedLimits kLimits{.max_body = 4096, .max_extensions = 64, .max_trailers = 256};

std::string chunk(std::string_view data) {
  std::string out;
  char size[32];
  while (!data.empty()) {
    std::size_t n = data.size() < 100 ? data.size() : 100;
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    out += size;
    out += data.substr(0, n);
    out += "\r\n";
    data.remove_prefix(n);
  }
  return out + "0\r\n\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  ChunkedDecoder d(kLimits);
  test::ChunkedSnapshot whole;
  std::string_view in = input;
  for (;;) {
    ChunkedDecoder::Result r = d.decode(in);
    check(r.consumed <= in.size(), "consumed within the input");
    whole.consumed += r.consumed;
    if (r.status == ChunkedDecoder::Status::kData) {
      check(!r.data.empty() && inside(r.data, in), "data inside the input");
      check(r.data.data() + r.data.size() == in.data() + r.consumed, "data ends the consumed");
      whole.data += r.data;
      in.remove_prefix(r.consumed);
      continue;
    }
    whole.status = r.status;
    break;
  }
  check(whole.data.size() <= d.body_size() && d.body_size() <= kLimits.max_body,
        "data within the announced sizes and the limit");
  if (whole.status == ChunkedDecoder::Status::kError) {
    check(d.error().offset < input.size(), "error offset within the input");
    whole.error = d.error();
    whole.consumed = 0;
  }
  if (whole.status == ChunkedDecoder::Status::kDone) {
    check(whole.data.size() == d.body_size(), "a finished body has all its data");
  }
  bool bad_view = false;
  check(test::feed_chunked(input, weft::fuzz::cuts_for(input), kLimits, &bad_view) == whole,
        "pieces decode as the whole");
  check(!bad_view, "data inside each piece");

  if (whole.status == ChunkedDecoder::Status::kDone) {
    test::ChunkedSnapshot again = test::feed_chunked(chunk(whole.data), {}, kLimits);
    check(again.status == ChunkedDecoder::Status::kDone && again.data == whole.data,
          "re-chunked data decodes to itself");
  }
  return 0;
}
