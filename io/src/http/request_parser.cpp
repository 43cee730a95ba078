#include "request_parser.hpp"

#include <cstring>

#include "chars.hpp"

namespace weft::http {

namespace {

/// "HTTP/1.x" at `v` (8 bytes): the minor version (1 for any x >= 1), or -1 if malformed,
/// -2 for a well-formed version of another major.
int parse_version(const char* v) noexcept {
  if (std::memcmp(v, "HTTP/", 5) != 0 || !chars::is_digit(static_cast<unsigned char>(v[5])) ||
      v[6] != '.' || !chars::is_digit(static_cast<unsigned char>(v[7]))) {
    return -1;
  }
  if (v[5] != '1') return -2;
  return v[7] == '0' ? 0 : 1;
}

/// authority-form (RFC 9112 §3.2.3): uri-host ":" port, the port required and all digits.
bool is_authority(std::string_view t) noexcept {
  std::size_t colon = t.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == t.size()) return false;
  if (chars::skip(chars::kHost, t.data(), 0, colon) != colon) return false;
  for (std::size_t i = colon + 1; i < t.size(); ++i) {
    if (!chars::is_digit(static_cast<unsigned char>(t[i]))) return false;
  }
  return true;
}

/// absolute-form's start: scheme "://" (RFC 3986 §3.1, §3.2). RFC 9112 §3.2.2 allows any
/// absolute-URI, but HTTP's schemes all have an authority, and without the "//" a target
/// like "example.com:80" would read as the scheme "example.com".
bool has_scheme(std::string_view t) noexcept {
  if (t.empty() || !chars::is_alpha(static_cast<unsigned char>(t[0]))) return false;
  for (std::size_t i = 1; i < t.size(); ++i) {
    auto c = static_cast<unsigned char>(t[i]);
    if (c == ':') return t.substr(i + 1).starts_with("//");
    if (!chars::is_alpha(c) && !chars::is_digit(c) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return false;
}

}  // namespace

ParseStatus RequestParser::parse(std::string_view data) {
  if (const char* from = follow(data)) {
    move_view(head_.method_name, from, base_);
    move_view(head_.target, from, base_);
    move_view(head_.upgrade, from, base_);
  }
  switch (phase_) {
    case Phase::kStartLine: {
      ParseStatus s = parse_request_line(data);
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

ParseStatus RequestParser::parse_request_line(std::string_view data) {
  const char* p = data.data();
  const std::size_t n = data.size();
  // RFC 9112 §2.2: a server SHOULD ignore empty lines before the request line (a client
  // may send a CRLF after a POST body).
  while (pos_ < n && p[pos_] == '\r') {
    if (pos_ + 2 > limits_.max_head) return fail(ParseErrc::kHeadTooLarge, limits_.max_head);
    if (pos_ + 1 >= n) return ParseStatus::kNeedMore;
    if (p[pos_ + 1] != '\n') return fail(ParseErrc::kBareCr, pos_);
    pos_ = scan_ = pos_ + 2;
  }
  if (pos_ >= n) return ParseStatus::kNeedMore;
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

  // method SP request-target SP HTTP-version: the method is a token and the version the
  // line's last eight bytes, so whatever lies between is the target, spaces included
  // (which the target's character check then refuses, naming the byte).
  const std::size_t sp1 = chars::skip(chars::kToken, p, pos_, cr);
  if (sp1 == pos_ || sp1 == cr || p[sp1] != ' ') return fail(ParseErrc::kBadMethod, sp1);
  if (cr < sp1 + 11) return fail(ParseErrc::kBadVersion, sp1 + 1);
  const std::size_t version = cr - 8;
  int minor = parse_version(p + version);
  if (minor == -1) return fail(ParseErrc::kBadVersion, version);
  if (minor == -2) return fail(ParseErrc::kUnsupportedVersion, version);
  if (p[version - 1] != ' ') return fail(ParseErrc::kBadVersion, version - 1);
  const std::size_t target_end = version - 1;
  std::size_t bad = chars::skip_target(p, sp1 + 1, target_end);
  if (bad != target_end) return fail(ParseErrc::kBadTarget, bad);

  head_.method_name = std::string_view(p + pos_, sp1 - pos_);
  head_.method = method_from_name(head_.method_name);
  head_.target = std::string_view(p + sp1 + 1, target_end - sp1 - 1);
  head_.version_minor = minor;

  const std::string_view t = head_.target;
  const bool connect = head_.method == Method::kConnect;
  if (connect) {
    if (!is_authority(t)) return fail(ParseErrc::kBadTarget, sp1 + 1);
    head_.target_form = TargetForm::kAuthority;
  } else if (t[0] == '/') {
    head_.target_form = TargetForm::kOrigin;
  } else if (t == "*" && head_.method == Method::kOptions) {
    head_.target_form = TargetForm::kAsterisk;
  } else if (has_scheme(t)) {
    head_.target_form = TargetForm::kAbsolute;
  } else {
    return fail(ParseErrc::kBadTarget, sp1 + 1);
  }
  pos_ = scan_ = lf + 1;
  return ParseStatus::kDone;
}

ParseStatus RequestParser::finish() {
  const detail::FieldSummary s = summarize(true);
  if (s.error) return fail(s.error.code, s.error.offset);
  if (s.host_count == 0 && head_.version_minor == 1) {
    return fail(ParseErrc::kMissingHost, consumed_);
  }
  if (s.has_transfer_encoding) {
    const std::size_t at = s.transfer_encoding_at;
    if (s.has_length) return fail(ParseErrc::kContentLengthWithTransferEncoding, at);
    if (head_.version_minor == 0) return fail(ParseErrc::kTransferEncodingInHttp10, at);
    if (s.codings == 0) return fail(ParseErrc::kBadTransferEncoding, at);
    if (!s.chunked_last) return fail(ParseErrc::kChunkedNotLast, at);
    if (s.chunked_misplaced) return fail(ParseErrc::kBadTransferEncoding, at);
    if (s.codings > 1) return fail(ParseErrc::kUnsupportedTransferCoding, at);
    head_.body = {Framing::kChunked, 0};
  } else if (s.has_length) {
    head_.body = {s.length == 0 ? Framing::kNone : Framing::kLength, s.length};
  }
  head_.keep_alive = head_.version_minor == 1 ? !s.close : s.keep_alive && !s.close;
  head_.expect_continue = s.expect_continue && head_.version_minor == 1;
  if (s.upgrade) head_.upgrade = s.upgrade_value;
  head_.headers = HeaderView(fields_);
  phase_ = Phase::kDone;
  return ParseStatus::kDone;
}

}  // namespace weft::http
