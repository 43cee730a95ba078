// weft::http::Status: HTTP status codes (RFC 9110 §15 and the common extensions) and their
// standard reason phrases, for the server's responses and the client's checks.
//
// A status is a plain int on the wire and in Response (any 100..999 may be sent); the
// constants name the ones code uses, and reason_phrase() gives the phrase a status line
// carries ("" for a code without a standard one — the line is still valid, RFC 9112 §4).
#pragma once

#include <string_view>

namespace weft::http {

/// Named status codes; a Response takes any int in 100..999.
namespace status {
inline constexpr int kContinue = 100;
inline constexpr int kSwitchingProtocols = 101;
inline constexpr int kOk = 200;
inline constexpr int kCreated = 201;
inline constexpr int kAccepted = 202;
inline constexpr int kNoContent = 204;
inline constexpr int kPartialContent = 206;
inline constexpr int kMovedPermanently = 301;
inline constexpr int kFound = 302;
inline constexpr int kSeeOther = 303;
inline constexpr int kNotModified = 304;
inline constexpr int kTemporaryRedirect = 307;
inline constexpr int kPermanentRedirect = 308;
inline constexpr int kBadRequest = 400;
inline constexpr int kUnauthorized = 401;
inline constexpr int kForbidden = 403;
inline constexpr int kNotFound = 404;
inline constexpr int kMethodNotAllowed = 405;
inline constexpr int kRequestTimeout = 408;
inline constexpr int kConflict = 409;
inline constexpr int kGone = 410;
inline constexpr int kLengthRequired = 411;
inline constexpr int kPayloadTooLarge = 413;
inline constexpr int kUriTooLong = 414;
inline constexpr int kUnsupportedMediaType = 415;
inline constexpr int kExpectationFailed = 417;
inline constexpr int kUnprocessableContent = 422;
inline constexpr int kTooManyRequests = 429;
inline constexpr int kRequestHeaderFieldsTooLarge = 431;
inline constexpr int kInternalServerError = 500;
inline constexpr int kNotImplemented = 501;
inline constexpr int kBadGateway = 502;
inline constexpr int kServiceUnavailable = 503;
inline constexpr int kGatewayTimeout = 504;
inline constexpr int kHttpVersionNotSupported = 505;
}  // namespace status

/// The standard reason phrase of `code` ("Not Found"), or "" if it has none. Any thread.
constexpr std::string_view reason_phrase(int code) noexcept {
  switch (code) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 207:
      return "Multi-Status";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 305:
      return "Use Proxy";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
    case 511:
      return "Network Authentication Required";
    default:
      return "";
  }
}

/// Whether a response with this status never has a body (1xx, 204, 304: RFC 9110 §6.4.1).
constexpr bool status_has_no_body(int code) noexcept {
  return (code >= 100 && code < 200) || code == 204 || code == 304;
}

}  // namespace weft::http
