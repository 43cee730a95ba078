// weft::http::Response's constructors (response.hpp); the connection serializes it.
#include "weft/io/http/response.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace weft::http {

namespace {

/// The Content-Type of a file by its extension: the few a static site needs.
const char* type_of(const std::filesystem::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".svg") return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

int Response::checked(int status) {
  if (status < 100 || status > 999) {
    throw std::invalid_argument("http::Response: status " + std::to_string(status) +
                                " is not in 100..999");
  }
  return status;
}

Response Response::stream(BodyProducer producer, std::string_view content_type, int status) {
  if (!producer) throw std::invalid_argument("http::Response::stream: empty producer");
  Response r(status);
  r.kind_ = Kind::kStream;
  r.producer_ = std::move(producer);
  if (!content_type.empty()) r.headers_.set("Content-Type", content_type);
  return r;
}

Response Response::file(std::filesystem::path path, std::string_view content_type) {
  Response r(status::kOk);
  r.kind_ = Kind::kFile;
  if (content_type.empty()) {
    r.default_type_ = type_of(path);
  } else {
    r.headers_.set("Content-Type", content_type);
  }
  r.path_ = std::move(path);
  return r;
}

Response Response::websocket(WebSocketHandler handler, WebSocketOptions options) {
  if (!handler) throw std::invalid_argument("http::Response::websocket: empty handler");
  Response r(status::kSwitchingProtocols);
  r.kind_ = Kind::kWebSocket;
  r.ws_handler_ = std::move(handler);
  r.ws_options_ = std::move(options);
  return r;
}

}  // namespace weft::http
