// Copies of what the HTTP parsers produced, owning their strings, so that the result of one
// parse can be compared with another's over a different buffer: the unit tests
// (tests/io/http_parser_test.cpp) and the fuzzers (tests/fuzz/) check that a message fed in
// pieces parses exactly as it does whole. Each feed_* helper runs a parser over one
// message; `cuts` are the prefix lengths given before the whole, each in a fresh buffer (so
// the parser must follow its buffer as a growing std::vector's would move).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/chunked_decoder.hpp"
#include "http/request_parser.hpp"
#include "http/response_parser.hpp"

namespace weft::http::test {

using Fields = std::vector<std::pair<std::string, std::string>>;

inline Fields copy_fields(const HeaderView& h) {
  Fields out;
  for (const HeaderField& f : h) out.emplace_back(std::string(f.name), std::string(f.value));
  return out;
}

struct RequestSnapshot {
  ParseStatus status = ParseStatus::kNeedMore;
  std::size_t consumed = 0;
  ParseError error;
  Method method = Method::kOther;
  std::string method_name, target;
  TargetForm target_form = TargetForm::kOrigin;
  int version_minor = 0;
  Fields fields;
  BodyFraming body;
  bool keep_alive = false, expect_continue = false, websocket = false;
  std::string upgrade;
  friend bool operator==(const RequestSnapshot&, const RequestSnapshot&) = default;
};

inline RequestSnapshot snapshot(const RequestParser& p, ParseStatus status) {
  RequestSnapshot s;
  s.status = status;
  if (status == ParseStatus::kError) s.error = p.error();
  if (status != ParseStatus::kDone) return s;
  const RequestHead& h = p.head();
  s.consumed = p.consumed();
  s.method = h.method;
  s.method_name = h.method_name;
  s.target = h.target;
  s.target_form = h.target_form;
  s.version_minor = h.version_minor;
  s.fields = copy_fields(h.headers);
  s.body = h.body;
  s.keep_alive = h.keep_alive;
  s.expect_continue = h.expect_continue;
  s.websocket = h.websocket_upgrade();
  s.upgrade = h.upgrade;
  return s;
}

/// Parses `msg` after giving the parser each prefix in `cuts` (ascending) in a buffer of its
/// own; stops early at the first kDone or kError, as a server would.
inline RequestSnapshot feed_request(std::string_view msg, const std::vector<std::size_t>& cuts,
                                    const HeadLimits& limits = {}) {
  RequestParser p(limits);
  for (std::size_t cut : cuts) {
    std::string part(msg.substr(0, cut));
    ParseStatus s = p.parse(part);
    if (s != ParseStatus::kNeedMore) return snapshot(p, s);
  }
  std::string whole(msg);
  return snapshot(p, p.parse(whole));
}

struct ResponseSnapshot {
  ParseStatus status = ParseStatus::kNeedMore;
  std::size_t consumed = 0;
  ParseError error;
  int status_code = 0;
  std::string reason;
  int version_minor = 0;
  Fields fields;
  BodyFraming body;
  bool keep_alive = false;
  std::string upgrade;
  friend bool operator==(const ResponseSnapshot&, const ResponseSnapshot&) = default;
};

inline ResponseSnapshot snapshot(const ResponseParser& p, ParseStatus status) {
  ResponseSnapshot s;
  s.status = status;
  if (status == ParseStatus::kError) s.error = p.error();
  if (status != ParseStatus::kDone) return s;
  const ResponseHead& h = p.head();
  s.consumed = p.consumed();
  s.status_code = h.status;
  s.reason = h.reason;
  s.version_minor = h.version_minor;
  s.fields = copy_fields(h.headers);
  s.body = h.body;
  s.keep_alive = h.keep_alive;
  s.upgrade = h.upgrade;
  return s;
}

inline ResponseSnapshot feed_response(std::string_view msg, const std::vector<std::size_t>& cuts,
                                      Method method = Method::kGet, const HeadLimits& limits = {}) {
  ResponseParser p(limits, method);
  for (std::size_t cut : cuts) {
    std::string part(msg.substr(0, cut));
    ParseStatus s = p.parse(part);
    if (s != ParseStatus::kNeedMore) return snapshot(p, s);
  }
  std::string whole(msg);
  return snapshot(p, p.parse(whole));
}

struct ChunkedSnapshot {
  ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;
  std::size_t consumed = 0;  ///< bytes of the input the body took (0 after an error)
  std::string data;
  ParseError error;
  friend bool operator==(const ChunkedSnapshot&, const ChunkedSnapshot&) = default;
};

/// Decodes `body` given in pieces that end at each of `cuts` (ascending) and then at its end;
/// each piece is copied into a buffer of its own, and the data views must point into it.
/// `bad_view` is set if one does not.
inline ChunkedSnapshot feed_chunked(std::string_view body, std::vector<std::size_t> cuts,
                                    const ChunkedLimits& limits = {}, bool* bad_view = nullptr) {
  ChunkedDecoder d(limits);
  ChunkedSnapshot s;
  cuts.push_back(body.size());
  std::size_t start = 0;
  for (std::size_t cut : cuts) {
    if (cut < start) continue;
    std::string piece(body.substr(start, cut - start));
    std::string_view in = piece;
    for (;;) {
      ChunkedDecoder::Result r = d.decode(in);
      s.consumed += r.consumed;
      if (r.status == ChunkedDecoder::Status::kData) {
        bool inside =
            r.data.data() >= in.data() && r.data.data() + r.data.size() <= in.data() + in.size();
        if (!inside && bad_view != nullptr) *bad_view = true;
        s.data += r.data;
        in.remove_prefix(r.consumed);
        continue;
      }
      s.status = r.status;
      if (r.status == ChunkedDecoder::Status::kError) {
        s.error = d.error();
        s.consumed = 0;  // how much came before the error depends on the pieces
      }
      if (r.status != ChunkedDecoder::Status::kNeedMore) return s;
      break;
    }
    start = cut;
  }
  return s;
}

}  // namespace weft::http::test
