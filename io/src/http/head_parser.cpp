#include "head_parser.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "chars.hpp"
#include "weft/runtime/errors.hpp"

namespace weft::http::detail {

namespace {

/// The room fields_ gets on first use: a browser sends about a dozen fields.
constexpr std::size_t kInitialFields = 16;

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Calls `f(element)` for each non-empty element of a comma-separated list, trimmed;
/// RFC 9110 §5.6.1 asks recipients to accept and ignore empty elements ("a, , b").
template <class F>
void for_each_element(std::string_view list, F&& f) {
  for (;;) {
    std::size_t comma = list.find(',');
    std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

/// 1*DIGIT without overflow; false if `s` is not that.
bool parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!chars::is_digit(static_cast<unsigned char>(c))) return false;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

/// Whether a field name (a token, already checked) equals `lower`, a lower-case name made of
/// letters and '-'. For token characters, c | 0x20 maps exactly the upper-case letters onto
/// the lower-case ones, and only '-' itself onto '-'.
bool name_is(std::string_view name, std::string_view lower) noexcept {
  if (name.size() != lower.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if ((name[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

}  // namespace

void HeadParser::reset_head() noexcept {
  phase_ = Phase::kStartLine;
  pos_ = scan_ = consumed_ = 0;
  colon_ = kNoColon;
  base_ = nullptr;
  error_ = {};
  fields_.clear();
}

const char* HeadParser::follow(std::string_view data) {
  // The bytes read so far must still be there: the head's lines, or what consumed() named.
  std::size_t seen = phase_ == Phase::kDone ? consumed_ : scan_;
  if (data.size() < seen) {
    throw UsageError("http parser: called with " + std::to_string(data.size()) +
                     " bytes after it had read " + std::to_string(seen) +
                     "; pass the whole message from its first byte each time");
  }
  if (data.data() == base_) return nullptr;
  const char* from = base_;
  base_ = data.data();
  if (from == nullptr) return nullptr;
  for (HeaderField& f : fields_) {
    move_view(f.name, from, base_);
    move_view(f.value, from, base_);
  }
  return from;
}

void HeadParser::move_view(std::string_view& v, const char* from, const char* to) noexcept {
  if (v.data() == nullptr) return;
  // The old buffer may be gone: the offset is computed from addresses, never read through.
  auto offset = reinterpret_cast<std::uintptr_t>(v.data()) - reinterpret_cast<std::uintptr_t>(from);
  v = std::string_view(to + offset, v.size());
}

HeadParser::Line HeadParser::find_line(std::string_view data, std::size_t limit_end,
                                       std::size_t& lf) noexcept {
  std::size_t end = data.size() < limit_end ? data.size() : limit_end;
  if (scan_ < end) {
    const void* found = std::memchr(data.data() + scan_, '\n', end - scan_);
    if (found != nullptr) {
      lf = static_cast<std::size_t>(static_cast<const char*>(found) - data.data());
      return Line::kFound;
    }
    scan_ = end;
  }
  return data.size() >= limit_end ? Line::kTooLong : Line::kNeedMore;
}

ParseStatus HeadParser::parse_fields(std::string_view data) {
  const char* p = data.data();
  const std::size_t n = data.size();
  // A field line's LF must come before max_head: no scan goes past `end`, and a scan that
  // reaches it either waits for more bytes or, at the limit, fails.
  const std::size_t end = n < limits_.max_head ? n : limits_.max_head;
  auto more_or_too_large = [&] {
    return n >= limits_.max_head ? fail(ParseErrc::kHeadTooLarge, limits_.max_head)
                                 : ParseStatus::kNeedMore;
  };
  if (fields_.capacity() == 0) fields_.reserve(kInitialFields);
  for (;;) {
    if (scan_ == pos_) {
      // A line's first byte: the empty line that ends the head, or a field line.
      if (pos_ + 2 > limits_.max_head) return fail(ParseErrc::kHeadTooLarge, limits_.max_head);
      if (pos_ >= n) return ParseStatus::kNeedMore;
      char c = p[pos_];
      if (c == '\r') {
        if (pos_ + 1 >= n) return ParseStatus::kNeedMore;
        if (p[pos_ + 1] != '\n') return fail(ParseErrc::kBareCr, pos_);
        pos_ += 2;
        scan_ = consumed_ = pos_;
        return ParseStatus::kDone;
      }
      if (c == '\n') return fail(ParseErrc::kBareLf, pos_);
      if (c == ' ' || c == '\t') return fail(ParseErrc::kObsFold, pos_);
      if (fields_.size() >= limits_.max_headers) return fail(ParseErrc::kTooManyHeaders, pos_);
      colon_ = kNoColon;
    }
    if (colon_ == kNoColon) {
      const std::size_t k = chars::skip(chars::kToken, p, scan_, end);
      if (k == end) {
        scan_ = k;
        return more_or_too_large();
      }
      const char c = p[k];
      if (c != ':' || k == pos_) {
        ParseErrc code = c == '\n'                             ? ParseErrc::kBareLf
                         : k > pos_ && (c == ' ' || c == '\t') ? ParseErrc::kSpaceBeforeColon
                                                               : ParseErrc::kBadHeaderName;
        return fail(code, k);
      }
      colon_ = k;
      scan_ = k + 1;
    }
    // The value, OWS included, up to its CR.
    const std::size_t cr = chars::skip_value(p, scan_, end);
    if (cr + 1 >= end) {
      if (cr < end && p[cr] != '\r') {
        return fail(p[cr] == '\n' ? ParseErrc::kBareLf : ParseErrc::kBadHeaderValue, cr);
      }
      scan_ = cr;
      return more_or_too_large();
    }
    if (p[cr] != '\r') {
      return fail(p[cr] == '\n' ? ParseErrc::kBareLf : ParseErrc::kBadHeaderValue, cr);
    }
    if (p[cr + 1] != '\n') return fail(ParseErrc::kBareCr, cr);
    std::size_t v = colon_ + 1;
    while (v < cr && (p[v] == ' ' || p[v] == '\t')) ++v;
    std::size_t e = cr;
    while (e > v && (p[e - 1] == ' ' || p[e - 1] == '\t')) --e;
    fields_.push_back({std::string_view(p + pos_, colon_ - pos_), std::string_view(p + v, e - v)});
    pos_ = scan_ = cr + 2;
  }
}

FieldSummary HeadParser::summarize(bool request) const {
  FieldSummary s;
  auto fail_at = [&](ParseErrc code, const HeaderField& f) {
    if (!s.error) s.error = {code, offset_of(f.name.data())};
  };
  for (const HeaderField& f : fields_) {
    switch (f.name.size()) {
      case 4:
        if (request && name_is(f.name, "host")) {
          if (++s.host_count == 2) fail_at(ParseErrc::kDuplicateHost, f);
          if (chars::skip(chars::kHost, f.value.data(), 0, f.value.size()) != f.value.size()) {
            fail_at(ParseErrc::kBadHost, f);
          }
        }
        break;
      case 6:
        if (name_is(f.name, "expect") && iequals(f.value, "100-continue")) {
          s.expect_continue = true;
        }
        break;
      case 7:
        if (name_is(f.name, "upgrade") && s.upgrade_value.empty()) s.upgrade_value = f.value;
        break;
      case 10:
        if (name_is(f.name, "connection")) {
          for_each_element(f.value, [&](std::string_view t) {
            if (iequals(t, "close")) s.close = true;
            if (iequals(t, "keep-alive")) s.keep_alive = true;
            if (iequals(t, "upgrade")) s.upgrade = true;
          });
        }
        break;
      case 14:
        if (name_is(f.name, "content-length")) {
          // RFC 9110 §8.6: identical values, in one list or in several fields, are one
          // length; anything else (an empty element too) leaves the framing unknowable.
          std::string_view list = f.value;
          for (;;) {
            std::size_t comma = list.find(',');
            std::uint64_t v = 0;
            if (!parse_decimal(trim_ows(list.substr(0, comma)), v)) {
              fail_at(ParseErrc::kBadContentLength, f);
            } else if (s.has_length && v != s.length) {
              fail_at(ParseErrc::kConflictingContentLength, f);
            } else {
              s.has_length = true;
              s.length = v;
            }
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 1);
          }
        }
        break;
      case 17:
        if (name_is(f.name, "transfer-encoding")) {
          if (!s.has_transfer_encoding) s.transfer_encoding_at = offset_of(f.name.data());
          s.has_transfer_encoding = true;
          for_each_element(f.value, [&](std::string_view coding) {
            ++s.codings;
            if (s.chunked_last) s.chunked_misplaced = true;
            s.chunked_last = iequals(coding, "chunked");
          });
        }
        break;
      default:
        break;
    }
  }
  return s;
}

}  // namespace weft::http::detail
