#include "target.hpp"

#include <stdexcept>

namespace weft::http {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// percent_decode_append, with `base` added to the offsets its errors name.
void decode_into(std::string_view in, std::string& out, bool plus_is_space, std::size_t base) {
  out.reserve(out.size() + in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
      int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        throw std::invalid_argument("bad percent escape at byte " + std::to_string(base + i) +
                                    ": \"" + std::string(in.substr(i, 3)) +
                                    "\" (a '%' needs two hex digits)");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

TargetParts split_target(std::string_view target, TargetForm form) noexcept {
  TargetParts parts;
  switch (form) {
    case TargetForm::kAsterisk:
      return parts;
    case TargetForm::kAuthority:
      parts.authority = target;
      return parts;
    case TargetForm::kAbsolute: {
      // scheme "://" authority path-abempty ["?" query]; "scheme:rest" has no authority.
      std::size_t colon = target.find(':');
      std::string_view rest = target.substr(colon + 1);
      if (rest.starts_with("//")) {
        rest.remove_prefix(2);
        std::size_t end = rest.find_first_of("/?");
        parts.authority = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
      }
      target = rest;
      break;
    }
    case TargetForm::kOrigin:
      break;
  }
  std::size_t q = target.find('?');
  parts.path = target.substr(0, q);
  if (q != std::string_view::npos) parts.query = target.substr(q + 1);
  if (parts.path.empty()) parts.path = "/";
  return parts;
}

void percent_decode_append(std::string_view in, std::string& out, bool plus_is_space) {
  decode_into(in, out, plus_is_space, 0);
}

std::string decode_path(std::string_view in) {
  std::string out;
  decode_into(in, out, false, 0);
  if (out.find('\0') != std::string::npos) {
    throw std::invalid_argument("path \"" + std::string(in) + "\" decodes to a NUL byte (%00)");
  }
  return out;
}

std::vector<QueryParam> parse_query(std::string_view query) {
  std::vector<QueryParam> params;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t amp = query.find('&', start);
    std::size_t end = amp == std::string_view::npos ? query.size() : amp;
    std::string_view element = query.substr(start, end - start);
    if (!element.empty()) {
      std::size_t eq = element.find('=');
      QueryParam p;
      decode_into(element.substr(0, eq), p.name, true, start);
      if (eq != std::string_view::npos) {
        decode_into(element.substr(eq + 1), p.value, true, start + eq + 1);
      }
      params.push_back(std::move(p));
    }
    start = end + 1;
  }
  return params;
}

}  // namespace weft::http
