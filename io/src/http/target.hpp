// The request-target's parts and their decoding: the path and query of an origin-form or
// absolute-form target (RFC 9112 §3.2), percent-decoding (RFC 3986 §2.1), and a query
// string's "a=1&b=x%20y" pairs as HTML forms encode them ('+' for a space).
//
// split_target only slices (no copy); the decoders copy into strings, and run when a
// handler asks for decoded values, not for every request. Errors throw std::invalid_argument naming
// the bad escape and its offset; a server answers them with 400.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "message_head.hpp"

namespace weft::http {

/// A target's parts, views into it.
struct TargetParts {
  std::string_view authority;  ///< absolute-form's "host:port", or the whole authority-form
  std::string_view path;       ///< "/a/b"; "/" for an absolute-form target without a path
  std::string_view query;      ///< after '?', without it; empty if none
};

/// Slices a request-target of the given form. "*" has neither path nor query.
TargetParts split_target(std::string_view target, TargetForm form) noexcept;

/// Appends `in` to `out` with each %XX escape decoded, and with '+' as a space if
/// `plus_is_space`. Throws std::invalid_argument if a '%' is not followed by two hex digits.
void percent_decode_append(std::string_view in, std::string& out, bool plus_is_space);

/// `in` with each %XX escape decoded ('+' stays '+'). Throws std::invalid_argument on a bad
/// escape, and on one that decodes to NUL ("%00"), which no file or route name may hold.
std::string decode_path(std::string_view in);

/// One name=value pair of a query string, decoded.
struct QueryParam {
  std::string name;
  std::string value;
  friend bool operator==(const QueryParam&, const QueryParam&) = default;
};

/// The pairs of `query` ("a=1&b=x%20y&flag"), in order, decoded with '+' as a space. Empty
/// elements ("a=1&&b=2") are skipped; an element without '=' has an empty value. Throws
/// std::invalid_argument on a bad escape, naming its offset in `query`.
std::vector<QueryParam> parse_query(std::string_view query);

}  // namespace weft::http
