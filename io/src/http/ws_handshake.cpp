// The WebSocket handshake's computations (ws_handshake.hpp).
#include "ws_handshake.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>

#include "ws_mask.hpp"

namespace weft::http::ws::detail {

namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::span<const unsigned char> in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v =
        (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kBase64Alphabet[(v >> shift) & 0x3F];
  }
  const std::size_t rest = in.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t{in[i]} << 16;
    if (rest == 2) v |= std::uint32_t{in[i + 1]} << 8;
    out += kBase64Alphabet[(v >> 18) & 0x3F];
    out += kBase64Alphabet[(v >> 12) & 0x3F];
    out += rest == 2 ? kBase64Alphabet[(v >> 6) & 0x3F] : '=';
    out += '=';
  }
  return out;
}

// An element of an HTTP list without its optional whitespace (RFC 9110 §5.6.1).
std::string_view trim_ows(std::string_view s) {
  const std::size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

}  // namespace

std::string accept_key(std::string_view key) {
  std::string input;
  input.reserve(key.size() + kHandshakeGuid.size());
  input.append(key).append(kHandshakeGuid);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
  unsigned int size = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("weft::http::ws: SHA-1 of the Sec-WebSocket-Key failed (OpenSSL)");
  }
  return base64(std::span(digest).first(size));
}

bool is_valid_key(std::string_view key) noexcept {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22,
                     [](char c) { return kBase64Alphabet.find(c) != std::string_view::npos; });
}

std::string generate_key() {
  std::array<std::byte, 16> nonce;
  random_bytes(nonce);
  return base64({reinterpret_cast<const unsigned char*>(nonce.data()), nonce.size()});
}

std::optional<std::string_view> select_subprotocol(std::string_view offered,
                                                   std::span<const std::string> supported) {
  for (const std::string& name : supported) {
    if (name.empty()) continue;
    std::string_view rest = offered;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      if (trim_ows(rest.substr(0, comma)) == name) return name;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return std::nullopt;
}

}  // namespace weft::http::ws::detail
