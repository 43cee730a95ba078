// Opt-in wait counters of sockets (Socket::track_waits, weft::metrics::expose): a read that
// finds nothing, an accept before the connection, a write into a full send buffer and a
// read a timeout cancels are each one wait of their direction, with its time; waits that an
// edge ends at once are none; counters move with the socket, and an exposed stream shows on
// the metrics as "socket read" and "socket write".
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;

TcpListener listen_local() {
  return TcpListener::bind(SocketAddress::ip("127.0.0.1", 0));
}

/// Yields (bounded) until `ready()` holds.
template <class Ready>
weft::Task<void> until(Ready ready) {
  for (int i = 0; i < 1'000'000 && !ready(); ++i) co_await weft::yield_now();
}

weft::Task<std::size_t> read_some(TcpStream& s) {
  std::vector<std::byte> buf(64);
  co_return co_await s.read(buf);
}

}  // namespace

TEST(SocketWaits, AnUntrackedSocketReportsNothing) {
  weft::net::Socket s;
  EXPECT_FALSE(s.read_wait_stats().tracked);
  EXPECT_FALSE(s.write_wait_stats().tracked);
}

TEST(SocketWaits, AReadThatFindsNothingAndAnAcceptBeforeItsConnectionAreOneWaitEach) {
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        l.socket().track_waits();
        auto accepting = weft::spawn(l.accept());
        co_await until([&] { return l.socket().read_wait_stats().waiting == 1; });
        TcpStream c = co_await TcpStream::connect(l.local_address());
        auto [s, peer] = co_await accepting;
        const weft::WaitStats accepts = l.socket().read_wait_stats();
        EXPECT_EQ(accepts.waits, 1u);
        EXPECT_EQ(accepts.ended, 1u);
        EXPECT_EQ(accepts.waiting, 0u);

        s.socket().track_waits();
        auto reading = weft::spawn(read_some(s));
        co_await until([&] { return s.socket().read_wait_stats().waiting == 1; });
        co_await weft::sleep(2ms);  // the wait lasts at least this
        co_await c.write_all("ping");
        EXPECT_EQ(co_await reading, 4u);
        const weft::WaitStats reads = s.socket().read_wait_stats();
        EXPECT_EQ(reads.waits, 1u);
        EXPECT_EQ(reads.ended, 1u);
        EXPECT_EQ(reads.cancelled, 0u);
        EXPECT_EQ(reads.max_waiting, 1u);
        EXPECT_GE(reads.max_wait, 2ms);
        EXPECT_EQ(s.socket().write_wait_stats().waits, 0u);

        co_await c.write_all("pong");  // taken without waiting: no wait
        std::vector<std::byte> one(1);
        co_await until([&] { return s.socket().try_recv(one).has_value(); });
        EXPECT_EQ(s.socket().read_wait_stats().waits, 1u);
      }(),
      {.workers = 2});
}

TEST(SocketWaits, AWriteIntoAFullSendBufferWaitsAndATimedOutReadIsCancelled) {
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        TcpStream c = co_await TcpStream::connect(l.local_address());
        auto [s, peer] = co_await l.accept();
        c.socket().track_waits();
        // More than both buffers hold: the writer waits until the peer reads.
        const std::string big(8 << 20, 'x');
        auto writing = weft::spawn(c.write_all(big));
        co_await until([&] { return c.socket().write_wait_stats().waiting == 1; });
        std::vector<std::byte> buf(1 << 16);
        std::size_t got = 0;
        while (got < big.size()) got += co_await s.read(buf);
        co_await writing;
        const weft::WaitStats writes = c.socket().write_wait_stats();
        EXPECT_GE(writes.waits, 1u);
        EXPECT_EQ(writes.ended, writes.waits);
        EXPECT_EQ(writes.waiting, 0u);

        EXPECT_THROW(co_await weft::wait_for(read_some(c), 5ms), weft::TimeoutError);
        const weft::WaitStats reads = c.socket().read_wait_stats();
        EXPECT_EQ(reads.waits, 1u);
        EXPECT_EQ(reads.cancelled, 1u);
        EXPECT_EQ(reads.waiting, 0u);
      }(),
      {.workers = 2});
}

TEST(SocketWaits, AnExposedStreamShowsBothDirectionsAndItsCountersMoveWithIt) {
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        TcpStream c = co_await TcpStream::connect(l.local_address());
        auto [s, peer] = co_await l.accept();
        s.socket().track_waits();
        auto reading = weft::spawn(read_some(s));
        co_await until([&] { return s.socket().read_wait_stats().waiting == 1; });
        co_await c.write_all("x");
        co_await reading;
        TcpStream moved = std::move(s);
        EXPECT_EQ(moved.socket().read_wait_stats().waits, 1u);
        weft::metrics::Exposure exposed = weft::metrics::expose("upstream", moved);
        bool read_side = false, write_side = false;
        for (const auto& w : weft::current_runtime().metrics().waits) {
          if (w.name != "upstream") continue;
          if (w.kind == "socket read") read_side = w.stats.waits == 1;
          if (w.kind == "socket write") write_side = w.stats.tracked;
        }
        EXPECT_TRUE(read_side);
        EXPECT_TRUE(write_side);
      }(),
      {.workers = 2});
}
