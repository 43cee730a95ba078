// weft::net TCP: echo round trips, half-close, errors naming the address, cancellation and
// timeouts of reads, a reader and a writer at once, and many connections across workers.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "stress_scale.hpp"

using namespace std::chrono_literals;
using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;

namespace {

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s));
}

std::string text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

TcpListener listen_local() {
  return TcpListener::bind(SocketAddress::ip("127.0.0.1", 0));
}

/// True if `fd` is in one of this process's epoll instances (/proc/self/fdinfo of every
/// eventpoll fd lists the fds it watches as "tfd: N").
bool in_an_epoll(int fd) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(entry.path(), ec).string() != "anon_inode:[eventpoll]") {
      continue;
    }
    std::ifstream info("/proc/self/fdinfo/" + entry.path().filename().string());
    std::string line;
    while (std::getline(info, line)) {
      std::istringstream words(line);
      std::string key;
      int watched = -1;
      if (words >> key >> watched && key == "tfd:" && watched == fd) return true;
    }
  }
  return false;
}

/// Echoes everything it reads on `s` until end of stream, then half-closes.
weft::Task<void> echo(TcpStream s) {
  std::vector<std::byte> buf(4096);
  for (;;) {
    std::size_t n = co_await s.read(buf);
    if (n == 0) break;
    co_await s.write_all(std::span(buf).first(n));
  }
  s.shutdown();
}

weft::Task<void> serve(TcpListener& l, int connections) {
  std::vector<weft::JoinHandle<void>> hs;
  for (int i = 0; i < connections; ++i) {
    auto [s, peer] = co_await l.accept();
    EXPECT_EQ(peer.host(), "127.0.0.1");
    hs.push_back(weft::spawn(echo(std::move(s))));
  }
  for (auto& h : hs) co_await h;
}

/// Writes `msg`, half-closes, and reads until end of stream.
weft::Task<std::string> round_trip(SocketAddress to, std::string msg) {
  TcpStream c = co_await TcpStream::connect(to);
  co_await c.write_all(bytes(msg));
  c.shutdown();
  std::string got;
  std::vector<std::byte> buf(1000);
  for (;;) {
    std::size_t n = co_await c.read(buf);
    if (n == 0) break;
    got += text(std::span(buf).first(n));
  }
  co_return got;
}

class TcpWorkers : public testing::TestWithParam<std::size_t> {};

TEST_P(TcpWorkers, EchoesAMessageAndEndsTheStreamOnHalfClose) {
  weft::RuntimeOptions o;
  o.workers = GetParam();
  std::string got = weft::run(
      []() -> weft::Task<std::string> {
        TcpListener l = listen_local();
        auto server = weft::spawn(serve(l, 1));
        std::string r = co_await round_trip(l.local_address(), "hello, weft");
        co_await server;
        co_return r;
      }(),
      o);
  EXPECT_EQ(got, "hello, weft");
}

TEST_P(TcpWorkers, ALargeTransferArrivesWhole) {
  weft::RuntimeOptions o;
  o.workers = GetParam();
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        auto server = weft::spawn(serve(l, 1));
        std::string big(4 << 20, '\0');
        for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 251);
        std::string r = co_await round_trip(l.local_address(), big);
        EXPECT_TRUE(r == big);
        co_await server;
      }(),
      o);
}

INSTANTIATE_TEST_SUITE_P(Workers, TcpWorkers, testing::Values(1, 2));

TEST(Tcp, ConnectToAClosedPortNamesTheAddressAndTheReason) {
  weft::run([]() -> weft::Task<void> {
    // A port that was just free: bind, note it, close.
    SocketAddress addr;
    {
      TcpListener l = listen_local();
      addr = l.local_address();
    }
    try {
      co_await TcpStream::connect(addr);
      ADD_FAILURE() << "connected to a closed port";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ECONNREFUSED);
      EXPECT_NE(std::string(e.what()).find("connect " + addr.to_string()), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
    }
  }());
}

TEST(Tcp, BindToAnAddressInUseNamesIt) {
  TcpListener a = listen_local();
  SocketAddress addr = a.local_address();
  weft::net::ListenOptions o;
  o.reuse_address = false;
  try {
    TcpListener::bind(addr, o);
    ADD_FAILURE() << "bound twice";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE);
    EXPECT_NE(std::string(e.what()).find("bind " + addr.to_string()), std::string::npos);
  }
}

TEST(Tcp, NonNumericHostIsAnInvalidArgument) {
  EXPECT_THROW(SocketAddress::ip("not-an-ip", 80), std::invalid_argument);
  EXPECT_EQ(SocketAddress::ip("[::1]", 80).to_string(), "[::1]:80");
  EXPECT_EQ(SocketAddress::ip("10.0.0.1", 8080).to_string(), "10.0.0.1:8080");
}

TEST(Tcp, ReadExactAtEndOfStreamRaisesIncompleteReadWithTheCounts) {
  weft::run([]() -> weft::Task<void> {
    TcpListener l = listen_local();
    auto server = weft::spawn([](TcpListener& l) -> weft::Task<void> {
      auto [s, peer] = co_await l.accept();
      co_await s.write_all(bytes("abc"));
      s.shutdown();
      std::byte b[1];
      co_await s.read(b);  // until the client closes
    }(l));
    TcpStream c = co_await TcpStream::connect(l.local_address());
    std::byte buf[5];
    try {
      co_await c.read_exact(buf);
      ADD_FAILURE() << "read_exact returned";
    } catch (const weft::net::IncompleteRead& e) {
      EXPECT_EQ(e.got(), 3u);
      EXPECT_EQ(e.expected(), 5u);
      EXPECT_NE(std::string(e.what()).find("3 of 5"), std::string::npos) << e.what();
    }
    c.close();
    co_await server;
  }());
}

TEST(Tcp, PeerResetIsASystemErrorNamingThePeer) {
  weft::run([]() -> weft::Task<void> {
    TcpListener l = listen_local();
    auto server = weft::spawn([](TcpListener& l) -> weft::Task<void> {
      auto [s, peer] = co_await l.accept();
      std::byte b[1];
      co_await s.read_exact(b);  // the client's byte: it is connected
      linger lg{1, 0};           // close with RST
      ::setsockopt(s.socket().fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      s.close();
    }(l));
    TcpStream c = co_await TcpStream::connect(l.local_address());
    co_await c.write_all(bytes("x"));
    co_await server;
    std::byte buf[16];
    try {
      for (int i = 0; i < 1000; ++i) {  // the RST has arrived: the first read sees it
        co_await c.read(buf);
      }
      ADD_FAILURE() << "no error after the peer reset";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ECONNRESET);
      EXPECT_NE(std::string(e.what()).find("read 127.0.0.1:"), std::string::npos) << e.what();
    }
  }());
}

TEST(Tcp, ATimedOutReadLosesNoDataAndTheStreamGoesOn) {
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        TcpStream c = co_await TcpStream::connect(l.local_address());
        auto [s, peer] = co_await l.accept();
        std::byte buf[8];
        EXPECT_THROW(co_await weft::wait_for(c.read(buf), 50ms), weft::TimeoutError);
        co_await s.write_all(bytes("late"));
        std::size_t n = co_await c.read(buf);
        EXPECT_EQ(text(std::span(buf).first(n)), "late");
      }(),
      {.workers = 1, .clock = weft::ClockKind::Virtual});
}

TEST(Tcp, ACancelledAcceptLeavesTheConnectionForTheNextAccept) {
  weft::run([]() -> weft::Task<void> {
    TcpListener l = listen_local();
    auto waiting = weft::spawn(l.accept());
    co_await weft::yield_now();
    waiting.cancel();
    EXPECT_THROW(co_await waiting, weft::CancelledError);
    TcpStream c = co_await TcpStream::connect(l.local_address());
    auto [s, peer] = co_await l.accept();
    EXPECT_EQ(peer, c.local_address());
  }());
}

TEST(Tcp, OneTaskReadsWhileAnotherWrites) {
  weft::RuntimeOptions o;
  o.workers = 2;
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        auto server = weft::spawn(serve(l, 1));
        TcpStream c = co_await TcpStream::connect(l.local_address());
        constexpr std::size_t kTotal = 8 << 20;  // far more than the socket buffers hold
        auto writer = weft::spawn([](TcpStream& c) -> weft::Task<void> {
          std::vector<std::byte> chunk(64 << 10, std::byte{'w'});
          for (std::size_t sent = 0; sent < kTotal; sent += chunk.size()) {
            co_await c.write_all(chunk);
          }
          c.shutdown();
        }(c));
        std::size_t got = 0;
        std::vector<std::byte> buf(64 << 10);
        for (;;) {
          std::size_t n = co_await c.read(buf);
          if (n == 0) break;
          got += n;
        }
        co_await writer;
        co_await server;
        EXPECT_EQ(got, kTotal);
      }(),
      o);
}

TEST(Tcp, TryReadFindsNothingUntilDataArrivesAndReadableWaitsForIt) {
  weft::run([]() -> weft::Task<void> {
    TcpListener l = listen_local();
    TcpStream c = co_await TcpStream::connect(l.local_address());
    auto [s, peer] = co_await l.accept();
    std::byte buf[16];
    EXPECT_EQ(c.try_read(buf), std::nullopt);  // nothing sent yet
    auto reader = weft::spawn([](TcpStream& c) -> weft::Task<std::string> {
      std::byte buf[16];
      for (int tries = 0; tries < 100; ++tries) {  // a wake-up without data tries again
        co_await c.readable();
        if (auto n = c.try_read(buf)) co_return text(std::span(buf).first(*n));
      }
      co_return "no data after 100 wake-ups";
    }(c));
    co_await weft::yield_now();
    EXPECT_FALSE(reader.done());  // readable() waits: the last try found nothing
    co_await s.write_all(bytes("hello"));
    EXPECT_EQ(co_await reader, "hello");
    s.shutdown();
    co_await c.readable();
    EXPECT_EQ(c.try_read(buf), std::optional<std::size_t>(0));  // end of stream
  }());
}

TEST(Tcp, AReadThatEmptiesTheQueueMakesTheNextWaitForNewDataWithoutTrying) {
  // A TCP read that returns fewer bytes than asked emptied the receive queue: readable()
  // and read() then wait for an edge instead of making the read(2) that would say EAGAIN.
  weft::run([]() -> weft::Task<void> {
    TcpListener l = listen_local();
    TcpStream c = co_await TcpStream::connect(l.local_address());
    auto [s, peer] = co_await l.accept();
    co_await s.write_all(bytes("abc"));
    std::byte buf[16];
    std::optional<std::size_t> n;
    for (int tries = 0; tries < 100 && !n; ++tries) {
      co_await c.readable();
      n = c.try_read(buf);
    }
    EXPECT_EQ(n, std::optional<std::size_t>(3));  // short: the queue is empty now
    auto waiting = weft::spawn([](TcpStream& c) -> weft::Task<void> { co_await c.readable(); }(c));
    for (int i = 0; i < 10; ++i) co_await weft::yield_now();
    EXPECT_FALSE(waiting.done());  // no new data, so no edge: it waits
    co_await s.write_all(bytes("de"));
    co_await waiting;
    EXPECT_EQ(c.try_read(buf), std::optional<std::size_t>(2));
    // The same for read(): it waits for the next bytes after a short read.
    auto reading = weft::spawn([](TcpStream& c) -> weft::Task<std::string> {
      std::byte b[16];
      const std::size_t got = co_await c.read(b);
      co_return text(std::span(b).first(got));
    }(c));
    for (int i = 0; i < 10; ++i) co_await weft::yield_now();
    EXPECT_FALSE(reading.done());
    co_await s.write_all(bytes("fgh"));
    EXPECT_EQ(co_await reading, "fgh");
  }());
}

TEST(Tcp, DataAndEndOfStreamInOneEventEndTheReadAfterTheShortOneAtOnce) {
  // The bytes and the FIN come in one event (one worker: the writer does both before the
  // epoll is polled). The short read that takes the bytes must not wait for an edge after
  // it: none comes after a hang-up, and the next read finds end of stream at once.
  weft::run([]() -> weft::Task<void> {
    TcpListener l = listen_local();
    TcpStream c = co_await TcpStream::connect(l.local_address());
    auto [s, peer] = co_await l.accept();
    auto reader = weft::spawn([](TcpStream& c) -> weft::Task<std::string> {
      std::byte b[16];
      const std::size_t got = co_await c.read(b);  // waits (nothing sent yet)
      std::string all = text(std::span(b).first(got));
      const std::size_t end = co_await weft::wait_for(c.read(b), 10s);
      if (end != 0) all += "+more";
      co_return all;
    }(c));
    co_await weft::yield_now();  // the reader waits in the epoll now
    co_await s.write_all(bytes("last"));
    s.shutdown();
    EXPECT_EQ(co_await reader, "last");
  }());
}

TEST(Tcp, TryWriteFillsTheSocketThenWritableWaitsUntilThePeerReads) {
  weft::RuntimeOptions o;
  o.workers = 2;
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        TcpStream c = co_await TcpStream::connect(l.local_address());
        auto [s, peer] = co_await l.accept();
        std::vector<std::byte> chunk(64 << 10, std::byte{'x'});
        std::size_t sent = 0;
        bool full = false;
        for (int i = 0; i < 10'000 && !full; ++i) {  // loopback buffers hold a few MiB at most
          if (auto n = c.try_write(chunk)) {
            sent += *n;
          } else {
            full = true;
          }
        }
        EXPECT_TRUE(full) << "the socket never filled after " << sent << " bytes";
        if (!full) co_return;
        auto drain = weft::spawn([](TcpStream& s, std::size_t want) -> weft::Task<std::size_t> {
          std::vector<std::byte> buf(64 << 10);
          std::size_t got = 0;
          while (got < want) {
            std::size_t n = co_await s.read(buf);
            if (n == 0) break;
            got += n;
          }
          co_return got;
        }(s, sent + 1));
        std::optional<std::size_t> more;
        for (int tries = 0; tries < 1000 && !more; ++tries) {
          co_await c.writable();
          more = c.try_write(std::span(chunk).first(1));
        }
        EXPECT_EQ(more, std::optional<std::size_t>(1));
        EXPECT_EQ(co_await drain, sent + 1);
      }(),
      o);
}

/// Writes `chunk` with try_write until `s` refuses it (at most 10,000 times: loopback
/// buffers hold a few MiB at most); the bytes written.
std::size_t fill(TcpStream& s, std::span<const std::byte> chunk) {
  std::size_t sent = 0;
  for (int i = 0; i < 10'000; ++i) {
    const std::optional<std::size_t> n = s.try_write(chunk);
    if (!n) return sent;
    sent += *n;
  }
  ADD_FAILURE() << "the socket never filled after " << sent << " bytes";
  return sent;
}

TEST(Tcp, WriteAndWritevOnAFullSocketWaitUntilThePeerReadsAndEveryByteArrives) {
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        TcpStream c = co_await TcpStream::connect(l.local_address());
        auto [s, peer] = co_await l.accept();
        const std::vector<std::byte> chunk(64 << 10, std::byte{'x'});
        std::size_t sent = fill(c, chunk);
        // One worker: the writer runs while nothing reads, so both of its writes find the
        // socket full, and wait until this task reads.
        auto writer = weft::spawn(
            [](TcpStream& c, std::span<const std::byte> chunk) -> weft::Task<std::size_t> {
              std::size_t n = co_await c.write(chunk);
              n += fill(c, chunk);
              std::vector<std::byte> tail(3000, std::byte{'x'});
              iovec iov[2] = {{const_cast<std::byte*>(chunk.data()), chunk.size()},
                              {tail.data(), tail.size()}};
              co_await c.writev(iov);
              c.shutdown();
              co_return n + chunk.size() + tail.size();
            }(c, chunk));
        std::vector<std::byte> buf(64 << 10);
        std::size_t got = 0;
        bool all_x = true;
        for (;;) {
          const std::size_t n = co_await s.read(buf);
          if (n == 0) break;
          for (std::size_t i = 0; i < n; ++i) all_x = all_x && buf[i] == std::byte{'x'};
          got += n;
        }
        sent += co_await writer;
        EXPECT_EQ(got, sent);
        EXPECT_TRUE(all_x);
      }(),
      {.workers = 1});
}

TEST(Tcp, ACancelledReadableLeavesTheDataForTheNextTry) {
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        TcpStream c = co_await TcpStream::connect(l.local_address());
        auto [s, peer] = co_await l.accept();
        std::byte buf[8];
        EXPECT_EQ(c.try_read(buf), std::nullopt);
        EXPECT_THROW(co_await weft::wait_for(c.readable(), 50ms), weft::TimeoutError);
        co_await s.write_all(bytes("late"));
        std::optional<std::size_t> n;
        for (int tries = 0; tries < 100 && !n; ++tries) {
          co_await c.readable();
          n = c.try_read(buf);
        }
        EXPECT_TRUE(n.has_value());
        if (n) {
          EXPECT_EQ(text(std::span(buf).first(*n)), "late");
        }
      }(),
      {.workers = 1, .clock = weft::ClockKind::Virtual});
}

TEST(Tcp, ReusePortListenersShareAPortAndAStreamTheyAcceptJoinsTheAcceptingWorkersEpoll) {
  // ListenOptions::reuse_port: a connection stays with the worker whose listener the kernel
  // gave it to, so the stream is registered as accept() returns, before any wait on it.
  weft::run([]() -> weft::Task<void> {
    const weft::net::ListenOptions o{.reuse_port = true};
    TcpListener a = TcpListener::bind(SocketAddress::ip("127.0.0.1", 0), o);
    TcpListener b = TcpListener::bind(a.local_address(), o);  // same port: SO_REUSEPORT
    EXPECT_EQ(b.local_address(), a.local_address());
    b.close();  // every connection now goes to a
    TcpStream c = co_await TcpStream::connect(a.local_address());
    auto [s, peer] = co_await a.accept();
    EXPECT_TRUE(in_an_epoll(s.socket().fd()));
    co_await c.write_all(bytes("ok"));
    std::byte buf[2];
    co_await s.read_exact(buf);
    EXPECT_EQ(text(buf), "ok");
  }());
}

TEST(Tcp, AStreamFromAPlainListenerJoinsAnEpollOnlyAtItsFirstWait) {
  // Without reuse_port the stream is registered where its task first waits, so an idle
  // worker that steals a new connection's task serves that connection from then on.
  weft::run([]() -> weft::Task<void> {
    TcpListener l = listen_local();
    TcpStream c = co_await TcpStream::connect(l.local_address());
    auto [s, peer] = co_await l.accept();
    EXPECT_FALSE(in_an_epoll(s.socket().fd()));
    std::byte buf[2];
    auto reading = weft::spawn(s.read_exact(buf));
    // It waits, and so registers, once it has run (bounded: a failure, not a hang).
    for (int i = 0; i < 100'000 && !in_an_epoll(s.socket().fd()); ++i) {
      co_await weft::yield_now();
    }
    EXPECT_TRUE(in_an_epoll(s.socket().fd()));
    co_await c.write_all(bytes("ok"));
    co_await reading;
    EXPECT_EQ(text(buf), "ok");
  }());
}

TEST(Tcp, TryReadOnAClosedStreamIsAUsageError) {
  TcpStream c;
  std::byte buf[4];
  EXPECT_THROW(c.try_read(buf), weft::UsageError);
  EXPECT_THROW(c.try_write(buf), weft::UsageError);
}

TEST(Tcp, IoOnABusyWorkersEpollIsPolledByTheIdleOne) {
  // One task holds worker A in a CPU loop until the echo reply arrives, while that reply's
  // connection waits on A's epoll: the other worker must deliver it.
  weft::RuntimeOptions o;
  o.workers = 2;
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        auto server = weft::spawn(serve(l, 1));
        TcpStream c = co_await TcpStream::connect(l.local_address());
        std::byte buf[4];
        co_await c.write_all(bytes("ping"));
        co_await c.read_exact(buf);  // registers c on this worker's epoll
        std::atomic<bool> got{false};
        auto reader = weft::spawn([](TcpStream& c, std::atomic<bool>& got) -> weft::Task<void> {
          std::byte b[4];
          co_await c.read_exact(b);
          got = true;
        }(c, got));
        co_await c.write_all(bytes("pong"));
        // Hog this worker (no await) until the reader has run elsewhere; bounded.
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!got.load() && std::chrono::steady_clock::now() < deadline) {
        }
        EXPECT_TRUE(got.load());
        co_await reader;
        c.shutdown();
        co_await server;
      }(),
      o);
}

TEST(Tcp, AcceptWhenOutOfFileDescriptorsBacksOffAndServesOnceOneIsFree) {
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        TcpStream c = co_await TcpStream::connect(l.local_address());
        rlimit old{};
        ::getrlimit(RLIMIT_NOFILE, &old);
        // Use up every descriptor below a low limit, so accept fails with EMFILE.
        rlimit low = old;
        low.rlim_cur = 64;
        EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
        std::vector<int> fillers;
        for (int i = 0; i < 64; ++i) {
          int fd = ::dup(0);
          if (fd < 0) break;
          fillers.push_back(fd);
        }
        auto accepting = weft::spawn(l.accept());
        for (int i = 0; i < 5; ++i) co_await weft::sleep(10ms);  // it backs off meanwhile
        EXPECT_FALSE(accepting.done());
        for (int fd : fillers) ::close(fd);
        ::setrlimit(RLIMIT_NOFILE, &old);
        auto [s, peer] = co_await accepting;
        EXPECT_EQ(peer, c.local_address());
      }(),
      // No stall detector: its thread may first run while every descriptor is taken, and
      // UBSan checks the thread's vptr by writing to a pipe, which then fails and makes it
      // report a valid object as having an invalid vptr (a sanitizer artifact, 1 run in 9
      // on one CPU).
      {.workers = 1,
       .clock = weft::ClockKind::Virtual,
       .stall_threshold = std::chrono::milliseconds(0)});
}

weft::Task<void> client(SocketAddress to, int id, int rounds, std::atomic<int>& ok) {
  TcpStream c = co_await TcpStream::connect(to);
  std::string msg =
      "message " + std::to_string(id) + std::string(static_cast<std::size_t>(id % 97), '#');
  std::vector<std::byte> buf(msg.size());
  for (int r = 0; r < rounds; ++r) {
    co_await c.write_all(bytes(msg));
    co_await c.read_exact(buf);
    if (text(buf) != msg) co_return;
  }
  ok.fetch_add(1);
}

TEST(TcpStress, ManyConnectionsAcrossWorkersEchoEveryByte) {
  const int conns = static_cast<int>(weft::test::scaled(200, 20));
  const int rounds = static_cast<int>(weft::test::scaled(100, 10));
  weft::RuntimeOptions o;
  o.workers = 4;
  std::atomic<int> ok{0};
  weft::run(
      [](int conns, int rounds, std::atomic<int>& ok) -> weft::Task<void> {
        TcpListener l = listen_local();
        auto server = weft::spawn(serve(l, conns));
        std::vector<weft::JoinHandle<void>> cs;
        for (int i = 0; i < conns; ++i) {
          cs.push_back(weft::spawn(client(l.local_address(), i, rounds, ok)));
        }
        for (auto& h : cs) co_await h;
        co_await server;
      }(conns, rounds, ok),
      o);
  EXPECT_EQ(ok.load(), conns);
}

struct Tally {
  std::atomic<std::size_t> bytes{0};
  std::atomic<std::uint64_t> sum{0};
};

/// Reads `s` until end of stream, adding what it got to `t`.
weft::Task<void> read_to_end(TcpStream& s, Tally& t) {
  std::byte buf[512];
  for (;;) {
    const std::size_t n = co_await s.read(buf);
    if (n == 0) co_return;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += std::to_integer<unsigned>(buf[i]);
    t.bytes.fetch_add(n);
    t.sum.fetch_add(sum);
  }
}

TEST(TcpStress, TwoTasksReadingOneStreamAtOnceGetEveryByteOnce) {
  // Two readers of one stream on two workers share its blocked-read state (a short read
  // leaves the stream waiting for an edge): between them they get every byte once, and
  // both see the end of stream.
  const std::size_t total = static_cast<std::size_t>(weft::test::scaled(4'000'000, 400'000));
  weft::RuntimeOptions o;
  o.workers = 2;
  Tally t;
  std::uint64_t expected_sum = 0;
  weft::run(
      [](std::size_t total, Tally& t, std::uint64_t& expected_sum) -> weft::Task<void> {
        TcpListener l = listen_local();
        TcpStream c = co_await TcpStream::connect(l.local_address());
        auto [s, peer] = co_await l.accept();
        auto a = weft::spawn(read_to_end(c, t));
        auto b = weft::spawn(read_to_end(c, t));
        std::vector<std::byte> chunk;
        for (std::size_t sent = 0, i = 0; sent < total; ++i) {
          chunk.resize(std::min<std::size_t>(1 + (i * 7919) % 3000, total - sent));
          for (std::size_t k = 0; k < chunk.size(); ++k) {
            chunk[k] = static_cast<std::byte>((sent + k) % 251);
            expected_sum += (sent + k) % 251;
          }
          co_await s.write_all(chunk);
          sent += chunk.size();
        }
        s.shutdown();
        co_await a;
        co_await b;
      }(total, t, expected_sum),
      o);
  EXPECT_EQ(t.bytes.load(), total);
  EXPECT_EQ(t.sum.load(), expected_sum);
}

}  // namespace
