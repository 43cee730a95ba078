// weft::net::UdpSocket: round trips over IPv4 and IPv6, connected mode, truncation of a
// datagram larger than the buffer, a timed-out receive that loses nothing, errors that name
// the operation and address (and leak no descriptor), and many datagrams across workers.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "open_fds.hpp"
#include "stress_scale.hpp"

using namespace std::chrono_literals;
using weft::net::SocketAddress;
using weft::net::UdpSocket;

namespace {

using weft_test::open_fds;

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s));
}

std::string text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

UdpSocket bind_local() {
  return UdpSocket::bind(SocketAddress::ip("127.0.0.1", 0));
}

/// Whether this machine can bind a socket to ::1.
bool has_ipv6_loopback() {
  try {
    UdpSocket::bind(SocketAddress::ip("::1", 0));
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

/// Receives one datagram on `s` and sends it back upper-cased; returns its text.
weft::Task<std::string> echo_once(UdpSocket& s) {
  std::vector<std::byte> buf(1500);
  auto [n, from] = co_await s.recv_from(buf);
  std::string msg = text(std::span(buf).first(n));
  std::string reply = msg;
  for (char& c : reply) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  co_await s.send_to(bytes(reply), from);
  co_return msg;
}

/// Sends `msg` from a new socket bound to `local_host` to `server`, checks the reply's
/// sender, and returns the reply.
weft::Task<std::string> ask(std::string local_host, SocketAddress server, std::string msg) {
  UdpSocket c = UdpSocket::bind(SocketAddress::ip(local_host, 0));
  std::size_t sent = co_await c.send_to(bytes(msg), server);
  EXPECT_EQ(sent, msg.size());
  std::vector<std::byte> buf(1500);
  auto [n, from] = co_await c.recv_from(buf);
  EXPECT_EQ(from, server);
  co_return text(std::span(buf).first(n));
}

class UdpWorkers : public testing::TestWithParam<std::size_t> {};

TEST_P(UdpWorkers, ADatagramMakesARoundTripOverIPv4) {
  weft::RuntimeOptions o;
  o.workers = GetParam();
  weft::run(
      []() -> weft::Task<void> {
        UdpSocket server = bind_local();
        SocketAddress addr = server.local_address();
        EXPECT_EQ(addr.host(), "127.0.0.1");
        EXPECT_NE(addr.port(), 0);
        auto echo = weft::spawn(echo_once(server));
        EXPECT_EQ(co_await ask("127.0.0.1", addr, "hello, udp"), "HELLO, UDP");
        EXPECT_EQ(co_await echo, "hello, udp");
      }(),
      o);
}

INSTANTIATE_TEST_SUITE_P(Workers, UdpWorkers, testing::Values(1, 2));

TEST(Udp, ADatagramMakesARoundTripOverIPv6) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
  weft::run([]() -> weft::Task<void> {
    UdpSocket server = UdpSocket::bind(SocketAddress::ip("::1", 0));
    SocketAddress addr = server.local_address();
    EXPECT_EQ(addr.family(), AF_INET6);
    EXPECT_EQ(addr.host(), "::1");
    auto echo = weft::spawn(echo_once(server));
    EXPECT_EQ(co_await ask("::1", addr, "over six"), "OVER SIX");
    EXPECT_EQ(co_await echo, "over six");
  }());
}

TEST(Udp, AConnectedSocketTalksOnlyWithItsPeer) {
  weft::run([]() -> weft::Task<void> {
    UdpSocket a = bind_local();
    UdpSocket b = bind_local();
    UdpSocket stranger = bind_local();
    a.connect(b.local_address());
    b.connect(a.local_address());
    EXPECT_EQ(a.peer_address(), b.local_address());
    // The kernel drops datagrams to a connected socket from anyone but its peer.
    co_await stranger.send_to(bytes("intruder"), a.local_address());
    EXPECT_EQ(co_await b.send(bytes("from b")), 6u);
    std::byte buf[64];
    std::size_t n = co_await a.recv(buf);
    EXPECT_EQ(text(std::span(buf).first(n)), "from b");
    co_await a.send(bytes("from a"));
    n = co_await b.recv(buf);
    EXPECT_EQ(text(std::span(buf).first(n)), "from a");
  }());
}

TEST(Udp, ADatagramLargerThanTheBufferIsTruncatedAndTheRestDiscarded) {
  weft::run([]() -> weft::Task<void> {
    UdpSocket server = bind_local();
    UdpSocket client = bind_local();
    co_await client.send_to(bytes("0123456789abcdef"), server.local_address());
    co_await client.send_to(bytes("next"), server.local_address());
    std::byte small[10];
    auto [n, from] = co_await server.recv_from(small);
    EXPECT_EQ(n, sizeof small);
    EXPECT_EQ(text(std::span(small).first(n)), "0123456789");
    EXPECT_EQ(from, client.local_address());
    // The tail of the first datagram is gone: the next receive gets the next datagram.
    std::byte buf[64];
    auto [m, from2] = co_await server.recv_from(buf);
    EXPECT_EQ(text(std::span(buf).first(m)), "next");
  }());
}

TEST(Udp, AnEmptyDatagramIsReceivedAsZeroBytes) {
  weft::run([]() -> weft::Task<void> {
    UdpSocket server = bind_local();
    UdpSocket client = bind_local();
    EXPECT_EQ(co_await client.send_to({}, server.local_address()), 0u);
    std::byte buf[16];
    auto [n, from] = co_await server.recv_from(buf);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(from, client.local_address());
  }());
}

TEST(Udp, ATimedOutRecvFromLosesNoDatagram) {
  weft::run(
      []() -> weft::Task<void> {
        UdpSocket server = bind_local();
        UdpSocket client = bind_local();
        std::byte buf[16];
        EXPECT_THROW(co_await weft::wait_for(server.recv_from(buf), 50ms), weft::TimeoutError);
        co_await client.send_to(bytes("late"), server.local_address());
        auto [n, from] = co_await server.recv_from(buf);
        EXPECT_EQ(text(std::span(buf).first(n)), "late");
        EXPECT_EQ(from, client.local_address());
      }(),
      {.workers = 1, .clock = weft::ClockKind::Virtual});
}

TEST(Udp, ACancelledRecvLeavesTheDatagramForTheNextOne) {
  weft::run([]() -> weft::Task<void> {
    UdpSocket server = bind_local();
    UdpSocket client = bind_local();
    auto waiting = weft::spawn([](UdpSocket& s) -> weft::Task<std::size_t> {
      std::byte b[16];
      auto [n, from] = co_await s.recv_from(b);
      co_return n;
    }(server));
    co_await weft::yield_now();  // it waits now
    waiting.cancel();
    EXPECT_THROW(co_await waiting, weft::CancelledError);
    co_await client.send_to(bytes("kept"), server.local_address());
    std::byte buf[16];
    auto [n, from] = co_await server.recv_from(buf);
    EXPECT_EQ(text(std::span(buf).first(n)), "kept");
  }());
}

TEST(Udp, RecvOnAConnectedSocketWhosePeerIsClosedIsRefusedNamingThePeer) {
  weft::run([]() -> weft::Task<void> {
    SocketAddress gone;
    {
      UdpSocket s = bind_local();
      gone = s.local_address();
    }
    UdpSocket c = bind_local();
    c.connect(gone);
    co_await c.send(bytes("anyone?"));  // the ICMP port-unreachable comes back as an error
    std::byte buf[16];
    try {
      co_await weft::wait_for(c.recv(buf), 10s);
      ADD_FAILURE() << "recv returned";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ECONNREFUSED);
      EXPECT_NE(std::string(e.what()).find("recv " + gone.to_string()), std::string::npos)
          << e.what();
    }
  }());
}

TEST(Udp, SendToAnAddressOfTheWrongFamilyNamesItAndTheSocketGoesOn) {
  weft::run([]() -> weft::Task<void> {
    UdpSocket server = bind_local();
    UdpSocket c = bind_local();
    SocketAddress v6 = SocketAddress::ip("::1", 9);
    try {
      co_await c.send_to(bytes("x"), v6);
      ADD_FAILURE() << "an IPv4 socket sent to an IPv6 address";
    } catch (const std::system_error& e) {
      EXPECT_NE(std::string(e.what()).find("send_to [::1]:9"), std::string::npos) << e.what();
    }
    co_await c.send_to(bytes("still fine"), server.local_address());
    std::byte buf[32];
    auto [n, from] = co_await server.recv_from(buf);
    EXPECT_EQ(text(std::span(buf).first(n)), "still fine");
  }());
}

TEST(Udp, TheSocketsOwnRecvFromWaitsForADatagramAndSendToNamesAWrongAddress) {
  weft::run(
      []() -> weft::Task<void> {
        UdpSocket server = bind_local();
        UdpSocket client = bind_local();
        std::byte buf[16];
        SocketAddress from;
        auto waiting = weft::spawn([](weft::net::Socket& s, std::span<std::byte> b,
                                      SocketAddress& f) -> weft::Task<std::size_t> {
          co_return co_await s.recv_from(b, f);
        }(server.socket(), buf, from));
        co_await weft::yield_now();  // it waits now
        EXPECT_EQ(co_await client.socket().send_to(bytes("ping"), server.local_address()), 4u);
        EXPECT_EQ(co_await waiting, 4u);
        EXPECT_EQ(text(std::span(buf).first(4)), "ping");
        EXPECT_EQ(from, client.local_address());
        try {
          co_await client.socket().send_to(bytes("x"), SocketAddress::ip("::1", 9));
          ADD_FAILURE() << "an IPv4 socket sent to an IPv6 address";
        } catch (const std::system_error& e) {
          EXPECT_NE(std::string(e.what()).find("send_to [::1]:9"), std::string::npos) << e.what();
        }
      }(),
      {.workers = 1});
}

TEST(Udp, BindToAnAddressInUseNamesItAndLeaksNoDescriptor) {
  UdpSocket a = bind_local();
  SocketAddress addr = a.local_address();
  const int before = open_fds();
  for (int i = 0; i < 3; ++i) {
    try {
      UdpSocket::bind(addr);
      ADD_FAILURE() << "bound twice";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EADDRINUSE);
      EXPECT_NE(std::string(e.what()).find("bind " + addr.to_string()), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(Udp, ConnectToAnAddressOfTheWrongFamilyNamesIt) {
  UdpSocket c = bind_local();
  try {
    c.connect(SocketAddress::unix_path("/nonexistent/udp.sock"));
    ADD_FAILURE() << "connected an IPv4 socket to a Unix path";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("connect unix:/nonexistent/udp.sock"), std::string::npos)
        << e.what();
  }
}

TEST(Udp, PeerAddressOfAnUnconnectedSocketIsAnError) {
  UdpSocket c = bind_local();
  try {
    c.peer_address();
    ADD_FAILURE() << "an unconnected socket has a peer";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOTCONN);
  }
}

TEST(Udp, BroadcastCanBeSwitchedOnAndOff) {
  UdpSocket s = bind_local();
  EXPECT_EQ(s.socket().get_option(SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"), 0);
  s.set_broadcast(true);
  EXPECT_NE(s.socket().get_option(SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"), 0);
  s.set_broadcast(false);
  EXPECT_EQ(s.socket().get_option(SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"), 0);
  UdpSocket b = UdpSocket::bind(SocketAddress::ip("127.0.0.1", 0), {.broadcast = true});
  EXPECT_NE(b.socket().get_option(SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"), 0);
}

TEST(Udp, OperationsOnAClosedSocketAreUsageErrors) {
  weft::run([]() -> weft::Task<void> {
    UdpSocket s = bind_local();
    SocketAddress addr = s.local_address();
    s.close();
    EXPECT_FALSE(s.is_open());
    std::byte buf[4];
    EXPECT_THROW(co_await s.recv_from(buf), weft::UsageError);
    EXPECT_THROW(co_await s.send_to(bytes("x"), addr), weft::UsageError);
    EXPECT_THROW(s.connect(addr), weft::UsageError);
  }());
}

/// Echoes datagrams on `s` until cancelled, counting them.
weft::Task<void> echo_forever(UdpSocket& s, std::atomic<long>& echoed) {
  std::vector<std::byte> buf(256);
  for (;;) {
    auto [n, from] = co_await s.recv_from(buf);
    echoed.fetch_add(1, std::memory_order_relaxed);
    co_await s.send_to(std::span(buf).first(n), from);
  }
}

/// Sends `rounds` numbered datagrams one at a time and checks every echo; the count of
/// echoes that matched.
weft::Task<long> lockstep_client(SocketAddress server, int id, int rounds) {
  UdpSocket c = bind_local();
  c.connect(server);
  long ok = 0;
  std::vector<std::byte> buf(256);
  for (int r = 0; r < rounds; ++r) {
    std::string msg = "client " + std::to_string(id) + " round " + std::to_string(r);
    co_await c.send(bytes(msg));
    // Loopback does not drop a lone datagram; the bound only turns a loss into a failure.
    std::size_t n = co_await weft::wait_for(c.recv(buf), 30s);
    if (text(std::span(buf).first(n)) == msg) ++ok;
  }
  co_return ok;
}

TEST(UdpStress, ManyDatagramsAcrossWorkersAreEachEchoedOnce) {
  const int clients = static_cast<int>(weft::test::scaled(64, 8));
  const int rounds = static_cast<int>(weft::test::scaled(200, 20));
  weft::RuntimeOptions o;
  o.workers = 4;
  std::atomic<long> echoed{0};
  long ok = weft::run(
      [](int clients, int rounds, std::atomic<long>& echoed) -> weft::Task<long> {
        UdpSocket server = bind_local();
        // Four tasks receive on one socket at once: each datagram reaches exactly one.
        std::vector<weft::JoinHandle<void>> servers;
        for (int i = 0; i < 4; ++i) servers.push_back(weft::spawn(echo_forever(server, echoed)));
        std::vector<weft::Task<long>> cs;
        for (int i = 0; i < clients; ++i) {
          cs.push_back(lockstep_client(server.local_address(), i, rounds));
        }
        std::vector<long> results = co_await weft::gather(std::move(cs));
        for (auto& s : servers) s.cancel();
        for (auto& s : servers) EXPECT_THROW(co_await s, weft::CancelledError);
        long total = 0;
        for (long r : results) total += r;
        co_return total;
      }(clients, rounds, echoed),
      o);
  EXPECT_EQ(ok, long{clients} * rounds);
  EXPECT_EQ(echoed.load(), long{clients} * rounds);
}

}  // namespace
