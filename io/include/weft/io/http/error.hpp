// weft::http::HttpError: an exception that a handler (or the server, on its behalf) turns
// into a response with a given status, as aiohttp's web.HTTPException does.
//
// A handler that throws HttpError(404, "no such user") gets a 404 response whose body is
// the message; any other exception becomes a 500 and is reported (ServerOptions::on_error).
// Middleware sees a handler's HttpError as that response (it never sees the exception).
// The server throws it from Request::text() and bytes() for a body over its limit (413) and
// for a malformed body (400), so a handler that does not catch them answers correctly.
#pragma once

#include <stdexcept>
#include <string>

namespace weft::http {

/// A failure that has a status: the server answers it with `status()` and `what()` as the
/// body (text/plain), and does not report it as an error.
class HttpError : public std::runtime_error {
 public:
  /// `status` is 400..599; `message` the response body ("" for the reason phrase).
  HttpError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

class Response;
/// The response the server sends for `e`: its status (500 if outside 100..999) and its
/// message (or the reason phrase) as text.
Response error_response(const HttpError& e);

}  // namespace weft::http
