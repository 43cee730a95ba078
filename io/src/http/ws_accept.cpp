// The server's side of the WebSocket opening handshake (ws_accept.hpp).
#include "ws_accept.hpp"

#include <optional>
#include <string_view>

#include "ws_handshake.hpp"

namespace weft::http::ws::detail {

namespace {

UpgradeAnswer refuse(int status, std::string why, std::string_view extra_fields = {}) {
  UpgradeAnswer a;
  a.status = status;
  a.response = status == 426 ? "HTTP/1.1 426 Upgrade Required\r\n" : "HTTP/1.1 400 Bad Request\r\n";
  a.response += extra_fields;
  a.response += "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  a.response += std::to_string(why.size() + 1);
  a.response += "\r\n\r\n";
  a.response += why;
  a.response += '\n';
  a.detail = std::move(why);
  return a;
}

}  // namespace

UpgradeAnswer answer_upgrade(const RequestHead& req, std::span<const std::string> subprotocols) {
  if (req.method != Method::kGet) {
    return refuse(400, "a WebSocket handshake must be a GET, not " + std::string(req.method_name));
  }
  if (req.version_minor < 1) return refuse(400, "a WebSocket handshake needs HTTP/1.1");
  if (!req.websocket_upgrade()) {
    return refuse(400, "the request has no 'Upgrade: websocket' with 'Connection: upgrade'");
  }
  if (req.headers.count("Sec-WebSocket-Key") != 1) {
    return refuse(400, "the request needs exactly one Sec-WebSocket-Key");
  }
  const std::string_view key = req.headers.get_or("Sec-WebSocket-Key", "");
  if (!is_valid_key(key)) {
    return refuse(400, "the Sec-WebSocket-Key is not the base64 of 16 bytes");
  }
  if (req.headers.count("Sec-WebSocket-Version") != 1 ||
      req.headers.get_or("Sec-WebSocket-Version", "") != "13") {
    return refuse(426, "this server speaks WebSocket version 13", "Sec-WebSocket-Version: 13\r\n");
  }
  // Several Sec-WebSocket-Protocol lines form one list (RFC 9110 §5.3).
  std::string offered;
  for (const HeaderField& f : req.headers) {
    if (!iequals(f.name, "Sec-WebSocket-Protocol")) continue;
    if (!offered.empty()) offered += ',';
    offered += f.value;
  }
  UpgradeAnswer a;
  a.status = 101;
  if (std::optional<std::string_view> chosen = select_subprotocol(offered, subprotocols)) {
    a.detail = std::string(*chosen);
  }
  a.response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  a.response += accept_key(key);
  a.response += "\r\n";
  if (!a.detail.empty()) {
    a.response += "Sec-WebSocket-Protocol: ";
    a.response += a.detail;
    a.response += "\r\n";
  }
  a.response += "\r\n";
  return a;
}

}  // namespace weft::http::ws::detail
