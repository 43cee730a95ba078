// A user-defined weft::net::ByteStream for the tests of what runs over any stream
// (BufferedStream, Server's wrap step): it rot13s the letters it writes and reads over a
// TcpStream, as TLS transforms its bytes, and may send a goodbye before it ends its writing,
// as TLS sends close_notify. It exposes the TcpStream under it through tcp(), as a TLS stream
// over TCP does.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

namespace weft::test {

/// `s` with every ASCII letter rotated by 13 (its own inverse).
inline std::string rot13(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>('a' + (c - 'a' + 13) % 26);
    if (c >= 'A' && c <= 'Z') c = static_cast<char>('A' + (c - 'A' + 13) % 26);
  }
  return s;
}

class Rot13Stream {
 public:
  /// Over `s`; finish_writing() sends `goodbye` as it is (not rotated), then half-closes.
  explicit Rot13Stream(net::TcpStream s, std::string goodbye = {})
      : s_(std::move(s)), goodbye_(std::move(goodbye)) {}

  Task<std::size_t> read(std::span<std::byte> buf) {
    const std::size_t n = co_await s_.read(buf);
    const std::string plain = rot13(std::string(reinterpret_cast<const char*>(buf.data()), n));
    std::memcpy(buf.data(), plain.data(), n);
    co_return n;
  }
  Task<void> write_all(std::span<const std::byte> buf) {
    co_await s_.write_all(
        rot13(std::string(reinterpret_cast<const char*>(buf.data()), buf.size())));
  }
  Task<void> writev(std::span<iovec> iov) {
    std::string all;
    for (const iovec& v : iov) all.append(static_cast<const char*>(v.iov_base), v.iov_len);
    co_await s_.write_all(rot13(std::move(all)));
  }
  Task<void> finish_writing() {
    if (!goodbye_.empty()) co_await s_.write_all(goodbye_);
    co_await s_.finish_writing();
  }
  void close() noexcept { s_.close(); }
  net::SocketAddress peer_address() const { return s_.peer_address(); }
  net::SocketAddress local_address() const { return s_.local_address(); }
  net::TcpStream* tcp() noexcept { return &s_; }

 private:
  net::TcpStream s_;
  std::string goodbye_;
};

static_assert(net::ByteStream<Rot13Stream>);

}  // namespace weft::test
