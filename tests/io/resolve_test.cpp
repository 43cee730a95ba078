// weft::net::resolve, connect_first and connect_host: localhost and numeric hosts, numeric
// hosts never touch the blocking pool, unknown names raise ResolveError naming the host, and
// connecting tries each address in order and reports the last failure without leaking.
#include <gtest/gtest.h>

#include <netdb.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "open_fds.hpp"

using namespace std::chrono_literals;
using weft::net::ResolveError;
using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;

namespace {

using weft_test::open_fds;

/// An address on 127.0.0.1 where nothing listens (it did a moment ago).
SocketAddress closed_port() {
  TcpListener l = TcpListener::bind(SocketAddress::ip("127.0.0.1", 0));
  return l.local_address();
}

TEST(Resolve, LocalhostGivesALoopbackAddress) {
  auto addrs = weft::run(weft::net::resolve("localhost", 80));
  ASSERT_FALSE(addrs.empty());
  bool loopback = false;
  for (const SocketAddress& a : addrs) {
    EXPECT_EQ(a.port(), 80);
    loopback = loopback || a.host() == "127.0.0.1" || a.host() == "::1";
  }
  EXPECT_TRUE(loopback) << addrs.front().to_string();
}

TEST(Resolve, AFamilyKeepsOnlyItsAddresses) {
  auto addrs = weft::run(weft::net::resolve("localhost", 443, AF_INET));
  ASSERT_FALSE(addrs.empty());
  for (const SocketAddress& a : addrs) EXPECT_EQ(a.family(), AF_INET) << a.to_string();
}

TEST(Resolve, ANumericAddressComesBackAsItIs) {
  weft::run([]() -> weft::Task<void> {
    auto v4 = co_await weft::net::resolve("127.0.0.1", 8080);
    EXPECT_EQ(v4.size(), 1u);
    EXPECT_EQ(v4.at(0), SocketAddress::ip("127.0.0.1", 8080));
    auto v6 = co_await weft::net::resolve("::1", 8080);
    EXPECT_EQ(v6.size(), 1u);
    EXPECT_EQ(v6.at(0).to_string(), "[::1]:8080");
    auto bracketed = co_await weft::net::resolve("[2001:db8::7]", 53, AF_INET6);
    EXPECT_EQ(bracketed.size(), 1u);
    EXPECT_EQ(bracketed.at(0).to_string(), "[2001:db8::7]:53");
  }());
}

TEST(Resolve, ANumericAddressNeedsNoBlockingThread) {
  // The pool's only thread is held by a job, so a resolve that used the pool would wait
  // for it (up to its 20 s bound) and the 10 s timeout would fail the test.
  weft::run(
      []() -> weft::Task<void> {
        std::promise<void> release;
        std::shared_future<void> released = release.get_future().share();
        std::atomic<bool> submitted{false};
        auto holder = weft::spawn(
            [](std::shared_future<void> released, std::atomic<bool>& submitted) -> weft::Task<> {
              submitted = true;  // then, on this one worker, the job is queued before we yield
              auto hold = [released] { released.wait_for(20s); };
              co_await weft::to_thread(hold);
            }(released, submitted));
        for (int i = 0; i < 100 && !submitted; ++i) co_await weft::yield_now();
        EXPECT_TRUE(submitted);
        auto addrs = co_await weft::wait_for(weft::net::resolve("10.1.2.3", 7), 10s);
        EXPECT_EQ(addrs.at(0).to_string(), "10.1.2.3:7");
        auto v6 = co_await weft::wait_for(weft::net::resolve("fe80::1", 7), 10s);
        EXPECT_EQ(v6.at(0).to_string(), "[fe80::1]:7");
        release.set_value();
        co_await holder;
      }(),
      {.workers = 1, .max_blocking_threads = 1});
}

TEST(Resolve, ANumericAddressOfTheOtherFamilyIsAResolveError) {
  try {
    weft::run(weft::net::resolve("127.0.0.1", 80, AF_INET6));
    ADD_FAILURE() << "resolved an IPv4 address as IPv6";
  } catch (const ResolveError& e) {
    EXPECT_EQ(e.code(), EAI_ADDRFAMILY);
    EXPECT_EQ(e.host(), "127.0.0.1");
  }
}

TEST(Resolve, AnUnknownNameRaisesResolveErrorNamingIt) {
  const std::string host = "no-such-host.invalid";
  try {
    weft::run(weft::net::resolve(host, 80));
    ADD_FAILURE() << "resolved " << host;
  } catch (const ResolveError& e) {
    EXPECT_EQ(e.host(), host);
    EXPECT_NE(e.code(), 0);
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("resolve " + host + ": ", 0), 0u) << what;
    EXPECT_NE(what.find(::gai_strerror(e.code())), std::string::npos) << what;
  }
}

TEST(Resolve, BadArgumentsAreInvalidArguments) {
  EXPECT_THROW(weft::run(weft::net::resolve("", 80)), std::invalid_argument);
  EXPECT_THROW(weft::run(weft::net::resolve("localhost", 80, AF_UNIX)), std::invalid_argument);
  EXPECT_THROW(weft::run(weft::net::connect_first({})), std::invalid_argument);
}

TEST(Resolve, TheHostMayGoAwayBeforeTheTaskRuns) {
  auto task = [] {
    std::string host = "localhost";
    return weft::net::resolve(std::string_view(host), 80);  // `host` dies here
  }();
  EXPECT_FALSE(weft::run(std::move(task)).empty());
}

TEST(ConnectHost, ReachesAListeningLoopbackPortByNumberAndByName) {
  weft::run([]() -> weft::Task<void> {
    TcpListener l = TcpListener::bind(SocketAddress::ip("127.0.0.1", 0));
    const std::uint16_t port = l.local_address().port();
    for (const char* host : {"127.0.0.1", "localhost"}) {
      TcpStream c = co_await weft::net::connect_host(host, port);
      auto [s, peer] = co_await l.accept();
      EXPECT_EQ(c.peer_address(), l.local_address()) << host;
      EXPECT_EQ(peer, c.local_address()) << host;
      co_await c.write_all("hi");
      std::byte buf[2];
      co_await s.read_exact(buf);
    }
  }());
}

TEST(ConnectHost, AnUnknownHostIsAResolveError) {
  EXPECT_THROW(weft::run(weft::net::connect_host("no-such-host.invalid", 80)), ResolveError);
}

TEST(ConnectFirst, FallsBackToTheNextAddressWhenOneRefuses) {
  weft::run([]() -> weft::Task<void> {
    TcpListener l = TcpListener::bind(SocketAddress::ip("127.0.0.1", 0));
    std::vector<SocketAddress> addrs{closed_port(), l.local_address()};
    TcpStream c = co_await weft::net::connect_first(std::move(addrs));
    EXPECT_EQ(c.peer_address(), l.local_address());
  }());
}

TEST(ConnectFirst, WhenEveryAddressRefusesTheLastErrorIsThrownAndNothingLeaks) {
  weft::run([]() -> weft::Task<void> {
    const SocketAddress first = closed_port();
    const SocketAddress last = closed_port();
    const int before = open_fds();
    for (int i = 0; i < 3; ++i) {
      try {
        std::vector<SocketAddress> addrs{first, last};
        co_await weft::net::connect_first(std::move(addrs));
        ADD_FAILURE() << "connected to a closed port";
      } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ECONNREFUSED);
        EXPECT_NE(std::string(e.what()).find("connect " + last.to_string()), std::string::npos)
            << e.what();
      }
    }
    EXPECT_EQ(open_fds(), before);
  }());
}

}  // namespace
