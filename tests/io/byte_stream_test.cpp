// weft::net::ByteStream and AnyStream: which types model the concept, finish_writing as a
// half-close of TCP and Unix streams, an AnyStream forwarding every operation to the stream
// inside, moving it (the moved-from one is empty and says so when used), and reaching the
// stream inside: tcp() for TCP's options, target<S>() for the stream's own type.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

#include "rot13_stream.hpp"

using weft::net::AnyStream;
using weft::net::ByteStream;
using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;
using weft::net::UnixStream;
using weft::test::Rot13Stream;

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
  static_assert(ByteStream<AnyStream>);
  static_assert(ByteStream<Rot13Stream>);
  static_assert(!ByteStream<NoFinishWriting>);
  static_assert(!ByteStream<int>);
  static_assert(std::is_convertible_v<TcpStream, AnyStream>);
  static_assert(!std::is_copy_constructible_v<AnyStream>);
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

TEST(AnyStream, ForwardsEveryOperationToTheStreamInside) {
  weft::run(
      []() -> weft::Task<void> {
        auto [tcp_a, tcp_b] = co_await tcp_pair();
        const SocketAddress local = tcp_a.local_address(), peer = tcp_a.peer_address();
        AnyStream a = std::move(tcp_a);
        AnyStream b = std::move(tcp_b);
        EXPECT_TRUE(a);
        EXPECT_EQ(a.local_address(), local);
        EXPECT_EQ(a.peer_address(), peer);
        co_await a.write_all("one,");
        std::string two = "two,", three = "three";
        iovec iov[2] = {{two.data(), two.size()}, {three.data(), three.size()}};
        co_await a.writev(iov);
        co_await a.finish_writing();
        EXPECT_EQ(co_await read_to_end(b), "one,two,three");
        co_await b.write_all("reply");
        b.close();
        EXPECT_EQ(co_await read_to_end(a), "reply");
      }(),
      virtual_clock());
}

TEST(AnyStream, AMovedStreamKeepsItsConnectionAndTheEmptyOneLeftBehindSaysSoWhenUsed) {
  weft::run(
      []() -> weft::Task<void> {
        auto [x, y] = UnixStream::pair();
        AnyStream a = std::move(x);
        AnyStream moved(std::move(a));
        AnyStream assigned;
        assigned = std::move(moved);
        co_await assigned.write_all("through two moves");
        co_await assigned.finish_writing();
        EXPECT_EQ(co_await read_to_end(y), "through two moves");

        EXPECT_FALSE(a);
        EXPECT_FALSE(moved);
        EXPECT_EQ(a.tcp(), nullptr);
        EXPECT_EQ(a.target<UnixStream>(), nullptr);
        a.close();  // nothing to close, and no error
        std::vector<std::byte> buf(4);
        try {
          (void)co_await a.read(buf);
          ADD_FAILURE() << "read from an empty AnyStream";
        } catch (const weft::UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("AnyStream::read"), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
        }
        EXPECT_THROW((void)a.finish_writing(), weft::UsageError);
        EXPECT_THROW((void)a.peer_address(), weft::UsageError);
      }(),
      virtual_clock());
}

TEST(AnyStream, AssigningOverAStreamClosesTheOneItHeld) {
  weft::run(
      []() -> weft::Task<void> {
        auto [x, y] = UnixStream::pair();
        auto [other, unused] = UnixStream::pair();
        AnyStream a = std::move(x);
        a = std::move(other);
        EXPECT_EQ(co_await read_to_end(y), "");  // x was closed
      }(),
      virtual_clock());
}

/// The checks of TcpGivesTheTcpConnection... (plain code, where ASSERT may end them).
void expect_tcp_reachable(TcpStream tcp_a, TcpStream tcp_b) {
  AnyStream a = std::move(tcp_a);
  ASSERT_NE(a.tcp(), nullptr);
  EXPECT_EQ(a.tcp(), a.target<TcpStream>());
  a.tcp()->set_nodelay(false);
  int on = 1;
  socklen_t len = sizeof on;
  ASSERT_EQ(::getsockopt(a.tcp()->socket().fd(), IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
  EXPECT_EQ(on, 0);
  EXPECT_EQ(a.target<UnixStream>(), nullptr);

  // A stream over TCP that exposes its connection (as TLS does) is reached through it.
  AnyStream wrapped = Rot13Stream(std::move(tcp_b));
  ASSERT_NE(wrapped.target<Rot13Stream>(), nullptr);
  EXPECT_NE(wrapped.tcp(), nullptr);
  EXPECT_EQ(wrapped.tcp(), wrapped.target<Rot13Stream>()->tcp());
  EXPECT_EQ(wrapped.target<TcpStream>(), nullptr);

  auto [x, y] = UnixStream::pair();
  AnyStream u = std::move(x);
  EXPECT_EQ(u.tcp(), nullptr);  // TCP's options do not apply
  EXPECT_EQ(u.target<TcpStream>(), nullptr);
  ASSERT_NE(u.target<UnixStream>(), nullptr);
  EXPECT_EQ(u.target<UnixStream>()->peer_credentials().pid, ::getpid());
}

TEST(AnyStream, TcpGivesTheTcpConnectionForItsOptionsAndNullptrForAUnixStream) {
  weft::run(
      []() -> weft::Task<void> {
        auto [a, b] = co_await tcp_pair();
        expect_tcp_reachable(std::move(a), std::move(b));
      }(),
      virtual_clock());
}
