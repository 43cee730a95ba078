// weft::net::ByteStream: which types model the concept, and finish_writing as a half-close
// of TCP and Unix streams.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

using weft::net::ByteStream;
using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;
using weft::net::UnixStream;

namespace {

std::string text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

weft::RuntimeOptions virtual_clock() {
  return {.workers = 1, .clock = weft::ClockKind::Virtual};
}

/// Reads until the end of the stream.
template <class S>
weft::Task<std::string> read_to_end(S& s) {
  std::string all;
  std::vector<std::byte> buf(64);
  for (;;) {
    const std::size_t n = co_await s.read(buf);
    if (n == 0) co_return all;
    all += text(std::span(buf).first(n));
  }
}

/// A connected TCP pair over loopback: the client's end and the server's end.
weft::Task<std::pair<TcpStream, TcpStream>> tcp_pair() {
  TcpListener l = TcpListener::bind(SocketAddress::ip("127.0.0.1", 0));
  auto connecting = weft::spawn(TcpStream::connect(l.local_address()));
  auto [server_side, peer] = co_await l.accept();
  TcpStream client = co_await connecting;
  co_return std::pair<TcpStream, TcpStream>(std::move(client), std::move(server_side));
}

/// A stream that cannot end its writing: not a ByteStream.
struct NoFinishWriting {
  weft::Task<std::size_t> read(std::span<std::byte>);
  weft::Task<void> write_all(std::span<const std::byte>);
  weft::Task<void> writev(std::span<iovec>);
  void close() noexcept;
  SocketAddress peer_address() const;
  SocketAddress local_address() const;
};

/// `a` ends its writing; `b` reads the end and can still answer, which `a` reads.
template <class S>
weft::Task<void> expect_half_close(S& a, S& b) {
  co_await a.write_all(std::as_bytes(std::span(std::string_view("last words"))));
  co_await a.finish_writing();
  EXPECT_EQ(co_await read_to_end(b), "last words");
  co_await b.write_all(std::as_bytes(std::span(std::string_view("reply"))));
  b.close();
  EXPECT_EQ(co_await read_to_end(a), "reply");
}

}  // namespace

TEST(ByteStream, TcpUnixAndAnyStreamModelItAndAStreamThatCannotFinishWritingDoesNot) {
  static_assert(ByteStream<TcpStream>);
  static_assert(ByteStream<UnixStream>);
  static_assert(!ByteStream<NoFinishWriting>);
  static_assert(!ByteStream<int>);
}

TEST(ByteStream, FinishWritingOfATcpStreamEndsWhatThePeerReadsWhileThisSideStillReads) {
  weft::run(
      []() -> weft::Task<void> {
        auto [a, b] = co_await tcp_pair();
        co_await expect_half_close(a, b);
      }(),
      virtual_clock());
}

TEST(ByteStream, FinishWritingOfAUnixStreamEndsWhatThePeerReadsWhileThisSideStillReads) {
  weft::run(
      []() -> weft::Task<void> {
        auto [a, b] = UnixStream::pair();
        co_await expect_half_close(a, b);
      }(),
      virtual_clock());
}
