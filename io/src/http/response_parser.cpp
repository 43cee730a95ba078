#include "response_parser.hpp"

#include <cstring>

#include "chars.hpp"

namespace weft::http {

ParseStatus ResponseParser::parse(std::string_view data) {
  if (const char* from = follow(data)) {
    move_view(head_.reason, from, base_);
    move_view(head_.upgrade, from, base_);
  }
  switch (phase_) {
    case Phase::kStartLine: {
      ParseStatus s = parse_status_line(data);
      if (s != ParseStatus::kDone) return s;
      phase_ = Phase::kFields;
      [[fallthrough]];
    }
    case Phase::kFields: {
      ParseStatus s = parse_fields(data);
      if (s != ParseStatus::kDone) return s;
      return finish();
    }
    case Phase::kDone:
      return ParseStatus::kDone;
    case Phase::kError:
      break;
  }
  return ParseStatus::kError;
}

ParseStatus ResponseParser::parse_status_line(std::string_view data) {
  const char* p = data.data();
  if (pos_ >= data.size()) return ParseStatus::kNeedMore;
  if (p[pos_] == '\n') return fail(ParseErrc::kBareLf, pos_);
  const std::size_t line_limit = pos_ + limits_.max_start_line;
  const bool head_limit_first = limits_.max_head < line_limit;
  std::size_t lf = 0;
  switch (find_line(data, head_limit_first ? limits_.max_head : line_limit, lf)) {
    case Line::kFound:
      break;
    case Line::kNeedMore:
      return ParseStatus::kNeedMore;
    case Line::kTooLong:
      return head_limit_first ? fail(ParseErrc::kHeadTooLarge, limits_.max_head)
                              : fail(ParseErrc::kStartLineTooLong, line_limit);
  }
  if (p[lf - 1] != '\r') return fail(ParseErrc::kBareLf, lf);
  const std::size_t cr = lf - 1;

  // HTTP-version SP 3DIGIT [SP reason-phrase]
  if (cr - pos_ < 12) return fail(ParseErrc::kBadStatusLine, pos_);
  const char* v = p + pos_;
  if (std::memcmp(v, "HTTP/", 5) != 0 || !chars::is_digit(static_cast<unsigned char>(v[5])) ||
      v[6] != '.' || !chars::is_digit(static_cast<unsigned char>(v[7]))) {
    return fail(ParseErrc::kBadVersion, pos_);
  }
  if (v[5] != '1') return fail(ParseErrc::kUnsupportedVersion, pos_);
  if (v[8] != ' ') return fail(ParseErrc::kBadStatusLine, pos_ + 8);
  for (std::size_t i = 9; i < 12; ++i) {
    if (!chars::is_digit(static_cast<unsigned char>(v[i])) || (i == 9 && v[i] == '0')) {
      return fail(ParseErrc::kBadStatusLine, pos_ + i);
    }
  }
  std::size_t reason = pos_ + 12;
  if (reason < cr) {
    if (p[reason] != ' ') return fail(ParseErrc::kBadStatusLine, reason);
    ++reason;
    std::size_t bad = chars::skip_value(p, reason, cr);
    if (bad != cr) {
      return fail(p[bad] == '\r' ? ParseErrc::kBareCr : ParseErrc::kBadStatusLine, bad);
    }
  }
  head_.version_minor = v[7] == '0' ? 0 : 1;
  head_.status = (v[9] - '0') * 100 + (v[10] - '0') * 10 + (v[11] - '0');
  head_.reason = std::string_view(p + reason, cr - reason);
  pos_ = scan_ = lf + 1;
  return ParseStatus::kDone;
}

ParseStatus ResponseParser::finish() {
  const detail::FieldSummary s = summarize(false);
  if (s.error) return fail(s.error.code, s.error.offset);
  const bool http10 = head_.version_minor == 0;
  if (s.has_transfer_encoding) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
    if (http10) return fail(ParseErrc::kTransferEncodingInHttp10, s.transfer_encoding_at);
    if (s.codings == 0 || s.chunked_misplaced) {
      return fail(ParseErrc::kBadTransferEncoding, s.transfer_encoding_at);
    }
  }
  bool keep_alive = http10 ? s.keep_alive && !s.close : !s.close;

  const int st = head_.status;
  const bool no_body = head_.interim() || st == 204 || st == 304 ||
                       request_method_ == Method::kHead ||
                       (request_method_ == Method::kConnect && st >= 200 && st < 300);
  if (no_body) {
    head_.body = {Framing::kNone, 0};
  } else if (s.has_transfer_encoding) {
    head_.body = {s.chunked_last ? Framing::kChunked : Framing::kUntilClose, 0};
    // With Content-Length as well, the message may be an attempt at smuggling: the
    // connection is not reused (RFC 9112 §6.3, item 3).
    if (s.has_length || !s.chunked_last) keep_alive = false;
  } else if (s.has_length) {
    head_.body = {s.length == 0 ? Framing::kNone : Framing::kLength, s.length};
  } else {
    head_.body = {Framing::kUntilClose, 0};
    keep_alive = false;
  }
  head_.keep_alive = keep_alive;
  if (st == 101) head_.upgrade = s.upgrade_value;
  head_.headers = HeaderView(fields_);
  phase_ = Phase::kDone;
  return ParseStatus::kDone;
}

}  // namespace weft::http
