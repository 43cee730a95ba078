#include "weft/io/http/client_url.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace weft::http {

namespace {

[[noreturn]] void bad_url(std::string_view url, const std::string& why) {
  throw std::invalid_argument("http::Url \"" + std::string(url) + "\": " + why);
}

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

/// Whether `c` may appear in a request-target as sent (RFC 3986's characters, '%' included,
/// and the few others servers take in practice): printable ASCII but space, '"', '<', '>',
/// '\\', '^', '`', '{', '|', '}' are fine for a server; weft refuses only what breaks the
/// request line or the head: controls, space, DEL and bytes over 0x7e.
bool target_char(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f;
}

bool host_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~' || c == '%' || c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' ||
         c == ')' || c == '*' || c == '+' || c == ',' || c == ';' || c == '=';
}

/// RFC 3986 §5.2.4: removes "." and ".." segments from an absolute path.
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> out;
  bool trailing_slash = false;
  std::size_t i = 1;  // path[0] == '/'
  while (i <= path.size()) {
    std::size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(i, slash - i);
    trailing_slash = false;
    if (seg == ".") {
      trailing_slash = true;
    } else if (seg == "..") {
      if (!out.empty()) out.pop_back();
      trailing_slash = true;
    } else {
      out.push_back(seg);
    }
    i = slash + 1;
  }
  std::string result;
  for (std::string_view seg : out) {
    result += '/';
    result += seg;
  }
  if (trailing_slash || result.empty()) result += '/';
  return result;
}

void check_target(std::string_view url, std::string_view part) {
  for (char c : part) {
    if (!target_char(c)) bad_url(url, "a space, control or non-ASCII character in the path");
  }
}

/// Splits "path?query#fragment" into the URL's path and query.
void set_path_and_query(Url& u, std::string_view url, std::string_view rest) {
  if (std::size_t hash = rest.find('#'); hash != std::string_view::npos)
    rest = rest.substr(0, hash);
  check_target(url, rest);
  std::size_t q = rest.find('?');
  std::string_view path = rest.substr(0, q);
  u.has_query = q != std::string_view::npos;
  u.query = u.has_query ? std::string(rest.substr(q + 1)) : std::string();
  u.path = path.empty() ? std::string("/") : remove_dot_segments(path);
}

}  // namespace

Url Url::parse(std::string_view text) {
  Url u;
  std::size_t colon = text.find("://");
  if (colon == std::string_view::npos) bad_url(text, "not an absolute http:// or https:// URL");
  for (char c : text.substr(0, colon)) u.scheme += lower(c);
  if (u.scheme == "http") {
    u.port = 80;
  } else if (u.scheme == "https") {
    u.port = 443;
  } else {
    bad_url(text, "unsupported scheme \"" + u.scheme + "\" (http and https only)");
  }
  std::string_view rest = text.substr(colon + 3);
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    bad_url(text, "credentials in the URL are not supported");
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) bad_url(text, "an IPv6 address without its ']'");
    std::string host(authority.substr(1, close - 1));
    in6_addr a6{};
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
      bad_url(text, "invalid IPv6 address \"" + host + "\"");
    }
    u.host = host;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad_url(text, "unexpected characters after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) bad_url(text, "an empty port");
    }
  } else {
    std::size_t c = authority.rfind(':');
    std::string_view host = authority.substr(0, c);
    if (c != std::string_view::npos) {
      port = authority.substr(c + 1);
      if (port.empty()) bad_url(text, "an empty port");
    }
    for (char ch : host) {
      char l = lower(ch);
      if (!host_char(l)) bad_url(text, "invalid character in the host");
      u.host += l;
    }
  }
  if (u.host.empty()) bad_url(text, "no host");
  if (!port.empty()) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535) {
      bad_url(text, "invalid port \"" + std::string(port) + "\"");
    }
    u.port = static_cast<std::uint16_t>(value);
  }
  set_path_and_query(u, text, rest);
  return u;
}

Url Url::resolve(std::string_view ref) const {
  // RFC 3986 §5.2.2, for the forms a Location field takes.
  std::size_t scheme_end = ref.find(':');
  std::size_t first_delim = ref.find_first_of("/?#");
  if (scheme_end != std::string_view::npos &&
      (first_delim == std::string_view::npos || scheme_end < first_delim)) {
    return parse(ref);  // absolute
  }
  if (ref.substr(0, 2) == "//") return parse(scheme + ":" + std::string(ref));
  Url u = *this;
  if (ref.empty()) return u;
  if (std::size_t hash = ref.find('#'); hash != std::string_view::npos) ref = ref.substr(0, hash);
  if (ref.empty()) return u;
  if (ref.front() == '?') {
    check_target(ref, ref);
    u.has_query = true;
    u.query = std::string(ref.substr(1));
    return u;
  }
  if (ref.front() == '/') {
    set_path_and_query(u, ref, ref);
    return u;
  }
  // A relative path: merged with the base path's directory (§5.2.3).
  std::string merged = path.substr(0, path.rfind('/') + 1);
  merged += ref;
  set_path_and_query(u, ref, merged);
  return u;
}

std::string Url::target() const {
  std::string t = path;
  if (has_query) {
    t += '?';
    t += query;
  }
  return t;
}

std::string Url::authority() const {
  std::string a = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (is_tls() ? 443 : 80)) {
    a += ':';
    a += std::to_string(port);
  }
  return a;
}

std::string Url::to_string() const {
  return scheme + "://" + authority() + target();
}

}  // namespace weft::http
