// weft::http::Url: the http:// and https:// URLs the client fetches, split into what a
// request needs (the connection's scheme, host and port; the request-target's path and
// query) and resolved against a base for redirects (RFC 3986 §5.2).
//
// Parsing checks structure, not spelling: the path and query are kept exactly as given,
// percent-encoding included (a server may tell "%2F" from "/"), except that a character a
// request line cannot carry (a space, a control character, anything over 0x7e) is refused
// rather than silently encoded. Userinfo ("user:pass@") is refused: the client does not send
// credentials from URLs. The fragment ("#...") is dropped, as a user agent never sends it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weft::http {

/// A parsed http:// or https:// URL. Plain data; any thread.
struct Url {
  /// "http" or "https" (lower-cased).
  std::string scheme;
  /// The host: a lower-cased name, an IPv4 address, or an IPv6 address without brackets.
  std::string host;
  /// The port: as given, else 80 for http and 443 for https.
  std::uint16_t port = 80;
  /// The path, starting with '/' ("/" when the URL has none), still percent-encoded.
  std::string path = "/";
  /// The query after '?', without the '?'; empty if none.
  std::string query;
  /// Whether the URL had a '?' (an empty query "x?" is kept as given).
  bool has_query = false;

  /// Parses `text`. Throws std::invalid_argument naming the URL and the fault: another
  /// scheme ("ftp://..."), no host, a bad port, userinfo, a character a request cannot carry.
  static Url parse(std::string_view text);

  /// The URL `reference` (a Location field: absolute, "//host/path", "/path", "path",
  /// "?query") names relative to this one (RFC 3986 §5.2, with dot segments removed).
  /// Throws std::invalid_argument as parse() does.
  Url resolve(std::string_view reference) const;

  /// True for https.
  bool is_tls() const noexcept { return scheme == "https"; }
  /// The request-target: path, then '?' and the query if there was one.
  std::string target() const;
  /// The Host field's value: the host (bracketed if IPv6) and ":port" unless the default.
  std::string authority() const;
  /// The whole URL, normalised: "http://example.com:8080/a?b".
  std::string to_string() const;

  friend bool operator==(const Url&, const Url&) = default;
};

}  // namespace weft::http
