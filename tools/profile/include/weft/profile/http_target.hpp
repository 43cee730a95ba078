// HttpTarget: a request/response target over HTTP/1.1 with keep-alive, as a web server or
// an API is driven. Each session is a client of one connection, so the closed loop's
// concurrency is the number of connections the server sees, as with wrk; a request counts
// as done once the whole response body has been read, and a status other than 2xx fails it,
// so a server that answers 503 under load does not look fast.
#pragma once

#include <memory>
#include <string>

#include <weft/io/http.hpp>

#include "weft/profile/target.hpp"

namespace weft::profile {

class HttpTarget : public Target {
 public:
  /// Requests `method` `url` (http:// or https://, verified against the system's trust
  /// store), sending `body` if not empty. Throws std::invalid_argument for a URL that
  /// Url::parse rejects.
  HttpTarget(std::string url, http::Method method = http::Method::kGet, std::string body = {});

  /// A session on a connection of its own, proven by one request (so that connect() throws
  /// what the first request would: ClientConnectionError naming the address, or a status).
  Task<std::unique_ptr<Session>> connect() override;
  /// "http METHOD URL".
  std::string describe() const override;

 private:
  std::string url_;
  http::Method method_;
  std::string body_;
};

}  // namespace weft::profile
