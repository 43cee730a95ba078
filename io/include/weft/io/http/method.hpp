// weft::http::Method: the request methods of RFC 9110 §9 and PATCH (RFC 5789), and kOther
// for any other token; a request keeps the method's name as sent beside it.
#pragma once

#include <cstdint>
#include <string_view>

namespace weft::http {

/// A request method. Method names are case-sensitive (RFC 9110 §9.1): "get" is kOther.
enum class Method : std::uint8_t {
  kGet,
  kHead,
  kPost,
  kPut,
  kDelete,
  kConnect,
  kOptions,
  kTrace,
  kPatch,
  kOther,
};

/// The method's name ("GET"); "" for kOther, whose name only the request knows.
constexpr std::string_view method_name(Method m) noexcept {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kConnect:
      return "CONNECT";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kTrace:
      return "TRACE";
    case Method::kPatch:
      return "PATCH";
    case Method::kOther:
      break;
  }
  return "";
}

/// The Method named `name` (case-sensitive), kOther if it is none of the known ones.
constexpr Method method_from_name(std::string_view name) noexcept {
  switch (name.size()) {
    case 3:
      if (name == "GET") return Method::kGet;
      if (name == "PUT") return Method::kPut;
      break;
    case 4:
      if (name == "HEAD") return Method::kHead;
      if (name == "POST") return Method::kPost;
      break;
    case 5:
      if (name == "PATCH") return Method::kPatch;
      if (name == "TRACE") return Method::kTrace;
      break;
    case 6:
      if (name == "DELETE") return Method::kDelete;
      break;
    case 7:
      if (name == "CONNECT") return Method::kConnect;
      if (name == "OPTIONS") return Method::kOptions;
      break;
    default:
      break;
  }
  return Method::kOther;
}

}  // namespace weft::http
