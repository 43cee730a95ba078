// ws::connect: the client's opening handshake (ws_connect.hpp).
#include "weft/io/http/ws_connect.hpp"

#include <charconv>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/io/http/headers.hpp>
#include <weft/io/net/resolve.hpp>
#include <weft/io/tls/stream.hpp>
#include <weft/runtime/cancel.hpp>
#include <weft/runtime/errors.hpp>

#include "response_parser.hpp"
#include "ws_handshake.hpp"

namespace weft::http::ws {

namespace {

// The parts of a ws:// or wss:// URL that connecting needs.
struct WsUrl {
  bool secure = false;
  std::string host;  // without brackets, to resolve and to check a certificate against
  std::uint16_t port = 0;
  std::string host_field;  // the Host header: brackets kept, the port unless the default
  std::string target;      // path and query, "/" at least
};

[[noreturn]] void bad_url(std::string_view url, std::string_view why) {
  throw std::invalid_argument("weft::http::ws::connect: " + std::string(why) + " in URL '" +
                              std::string(url) + "'");
}

bool has_ctl(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) return true;
  }
  return false;
}

WsUrl parse_url(std::string_view url) {
  WsUrl u;
  std::size_t colon = url.find("://");
  if (colon == std::string_view::npos) bad_url(url, "no scheme (ws:// or wss://)");
  std::string_view scheme = url.substr(0, colon);
  if (iequals(scheme, "ws")) {
    u.secure = false;
  } else if (iequals(scheme, "wss")) {
    u.secure = true;
  } else {
    bad_url(url, "the scheme '" + std::string(scheme) + "' (not ws or wss)");
  }
  std::string_view rest = url.substr(colon + 3);
  if (has_ctl(rest)) bad_url(url, "a space or control character");
  if (rest.find('#') != std::string_view::npos) bad_url(url, "a fragment (RFC 6455 §3)");
  std::size_t path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view target = path_at == std::string_view::npos ? "" : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos) bad_url(url, "user information");
  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) bad_url(url, "an unclosed '[' in the host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad_url(url, "text after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    std::size_t c = authority.rfind(':');
    host = authority.substr(0, c);
    if (c != std::string_view::npos) port = authority.substr(c + 1);
  }
  if (host.empty()) bad_url(url, "no host");
  u.host = std::string(host);
  u.port = u.secure ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      bad_url(url, "the port '" + std::string(port) + "'");
    }
    u.port = static_cast<std::uint16_t>(value);
  }
  u.host_field = authority.front() == '[' ? "[" + u.host + "]" : u.host;
  if (u.port != (u.secure ? 443 : 80)) u.host_field += ":" + std::to_string(u.port);
  u.target = target.empty() ? "/" : std::string(target);
  if (u.target.front() == '?') u.target.insert(0, "/");
  return u;
}

void check_field(std::string_view name, std::string_view value) {
  auto bad = [](std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; };
  if (name.empty() || bad(name) || bad(value) || name.find(':') != std::string_view::npos) {
    throw std::invalid_argument("weft::http::ws::connect: the header field '" + std::string(name) +
                                "' has an empty name, a colon or CR/LF");
  }
}

std::string request_head(std::string_view host, std::string_view target, const std::string& key,
                         const ConnectOptions& o) {
  std::string r;
  r.reserve(256);
  r += "GET ";
  r += target;
  r += " HTTP/1.1\r\nHost: ";
  r += host;
  r += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  r += key;
  r += "\r\nSec-WebSocket-Version: 13\r\n";
  if (!o.subprotocols.empty()) {
    r += "Sec-WebSocket-Protocol: ";
    for (std::size_t i = 0; i < o.subprotocols.size(); ++i) {
      if (i) r += ", ";
      r += o.subprotocols[i];
    }
    r += "\r\n";
  }
  for (const auto& [name, value] : o.headers) {
    r += name;
    r += ": ";
    r += value;
    r += "\r\n";
  }
  r += "\r\n";
  return r;
}

Task<WebSocket> handshake(net::AnyStream stream, std::string host, std::string target,
                          ConnectOptions o, std::string url) {
  auto fail = [&](std::string_view why, int status) -> HandshakeError {
    return HandshakeError("websocket handshake " + url + ": " + std::string(why), status);
  };
  if (target.empty() || target.front() != '/' || has_ctl(target) || has_ctl(host)) {
    throw std::invalid_argument("weft::http::ws::connect: the target '" + target +
                                "' does not start with '/' or holds a space or control "
                                "character");
  }
  for (const std::string& p : o.subprotocols) {
    if (p.empty() || has_ctl(p) || p.find(',') != std::string::npos) {
      throw std::invalid_argument("weft::http::ws::connect: the subprotocol '" + p +
                                  "' is empty or holds a comma, space or control character");
    }
  }
  for (const auto& [name, value] : o.headers) check_field(name, value);

  std::string key = detail::generate_key();
  co_await stream.write_all(request_head(host, target, key, o));

  ResponseParser parser(HeadLimits{.max_head = o.max_response_head,
                                   .max_start_line = o.max_response_head,
                                   .max_headers = 100},
                        Method::kGet);
  std::vector<char> buf(4096);
  std::size_t used = 0;
  for (;;) {
    if (used == buf.size()) buf.resize(buf.size() * 2);
    std::size_t n = co_await stream.read(std::as_writable_bytes(std::span(buf).subspan(used)));
    if (n == 0) throw fail("the server closed the connection before its response", 0);
    used += n;
    ParseStatus st = parser.parse(std::string_view(buf.data(), used));
    if (st == ParseStatus::kNeedMore) continue;
    if (st == ParseStatus::kError) throw fail("bad response: " + parser.error().message(), 0);
    break;
  }
  const ResponseHead& h = parser.head();
  if (h.status != 101) {
    throw fail("the server answered " + std::to_string(h.status) +
                   (h.reason.empty() ? "" : " " + std::string(h.reason)) + " instead of 101",
               h.status);
  }
  if (!has_token(h.upgrade, "websocket")) {
    throw fail("the 101 response does not upgrade to websocket", h.status);
  }
  if (!h.headers.has_token("Connection", "upgrade")) {
    throw fail("the 101 response has no 'Connection: upgrade'", h.status);
  }
  std::optional<std::string_view> accept = h.headers.get("Sec-WebSocket-Accept");
  if (!accept || *accept != detail::accept_key(key)) {
    throw fail("Sec-WebSocket-Accept does not match the key sent", h.status);
  }
  if (h.headers.contains("Sec-WebSocket-Extensions")) {
    throw fail("the server chose an extension, and none was offered", h.status);
  }
  std::string subprotocol;
  if (std::optional<std::string_view> p = h.headers.get("Sec-WebSocket-Protocol")) {
    bool offered = false;
    for (const std::string& mine : o.subprotocols) offered = offered || mine == *p;
    if (!offered)
      throw fail(
          "the server chose the subprotocol '" + std::string(*p) + "', which was not offered",
          h.status);
    subprotocol = std::string(*p);
  }
  std::span<const std::byte> rest =
      std::as_bytes(std::span(buf.data() + parser.consumed(), used - parser.consumed()));
  co_return WebSocket(std::move(stream), Role::kClient, rest, std::move(subprotocol), o.options);
}

Task<WebSocket> connect_url(WsUrl u, ConnectOptions o, std::string url) {
  net::TcpStream tcp = co_await net::connect_host(u.host, u.port);
  net::AnyStream stream;
  if (u.secure) {
    tls::Context ctx = o.tls ? *o.tls : tls::Context::client();
    stream = co_await tls::connect(std::move(tcp), ctx, u.host);
  } else {
    stream = std::move(tcp);
  }
  co_return co_await handshake(std::move(stream), u.host_field, u.target, std::move(o),
                               std::move(url));
}

Task<WebSocket> with_timeout(Task<WebSocket> t, std::chrono::milliseconds timeout,
                             std::string url) {
  try {
    co_return co_await wait_for(std::move(t), timeout);
  } catch (const TimeoutError&) {
    throw TimeoutError("websocket connect " + url + ": timed out after " +
                       std::to_string(timeout.count()) + " ms");
  }
}

}  // namespace

Task<WebSocket> connect(std::string_view url, ConnectOptions options) {
  WsUrl u = parse_url(url);  // throws before the task starts
  std::string name(url);
  std::chrono::milliseconds timeout = options.timeout;
  return with_timeout(connect_url(std::move(u), std::move(options), name), timeout, name);
}

Task<WebSocket> connect(net::AnyStream stream, std::string_view host, std::string_view target,
                        ConnectOptions options) {
  std::string url = std::string(host) + std::string(target);
  std::chrono::milliseconds timeout = options.timeout;
  return with_timeout(
      handshake(std::move(stream), std::string(host), std::string(target), std::move(options), url),
      timeout, url);
}

}  // namespace weft::http::ws
