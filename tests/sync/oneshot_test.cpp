// weft::oneshot<T>: one value from sender to receiver, the closed and dropped sides, misuse
// errors, cancellation and timeouts that leave the value in the channel, values destroyed
// exactly once, and ping-pong and cancel-versus-send races across workers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include "stress_scale.hpp"
#include "sync_test_util.hpp"

using namespace std::chrono_literals;
using weft::test::settle;
using weft::test::virtual_clock;

namespace {

/// Counts live instances, to check that every value is destroyed exactly once.
struct Tracked {
  static inline std::atomic<int> live{0};
  int v = 0;
  explicit Tracked(int x) : v(x) { live.fetch_add(1); }
  Tracked(Tracked&& o) noexcept : v(o.v) { live.fetch_add(1); }
  Tracked(const Tracked&) = delete;
  ~Tracked() { live.fetch_sub(1); }
};

template <class T>
weft::Task<T> receive(weft::OneshotReceiver<T>& rx, std::atomic<int>& arrived) {
  arrived.fetch_add(1);
  co_return co_await rx.recv();
}

TEST(Oneshot, ValueSentBeforeTheReceiveIsReceivedAtOnce) {
  weft::run(
      []() -> weft::Task<void> {
        auto [tx, rx] = weft::oneshot<std::string>();
        EXPECT_FALSE(tx.is_closed());
        EXPECT_TRUE(tx.send("hello"));
        EXPECT_EQ(co_await rx.recv(), "hello");
      }(),
      virtual_clock());
}

TEST(Oneshot, ReceiveWaitsForTheValueSentByAnotherTask) {
  weft::run(
      []() -> weft::Task<void> {
        auto [tx, rx] = weft::oneshot<int>();
        std::atomic<int> arrived{0};
        auto h = weft::spawn(receive(rx, arrived));
        co_await settle(arrived, 1);
        EXPECT_FALSE(h.done());
        EXPECT_TRUE(tx.send(42));
        EXPECT_EQ(co_await h, 42);
      }(),
      virtual_clock());
}

TEST(Oneshot, SendFromAPlainThreadWakesTheTask) {
  weft::Runtime rt({.workers = 2});
  auto [tx, rx] = weft::oneshot<int>();
  std::atomic<int> arrived{0};
  auto h = rt.spawn(receive(rx, arrived));
  while (arrived.load() == 0) std::this_thread::yield();
  EXPECT_TRUE(tx.send(7));
  EXPECT_EQ(rt.block_on([](weft::JoinHandle<int> h) -> weft::Task<int> {
    co_return co_await h;
  }(std::move(h))),
            7);
}

TEST(Oneshot, SenderDroppedWithoutSendingRaisesChannelClosedInTheWaitingReceiver) {
  weft::run(
      []() -> weft::Task<void> {
        auto [tx, rx] = weft::oneshot<int>();
        std::atomic<int> arrived{0};
        auto h = weft::spawn(receive(rx, arrived));
        co_await settle(arrived, 1);
        { auto dropped = std::move(tx); }
        try {
          co_await h;
          ADD_FAILURE() << "no exception";
        } catch (const weft::ChannelClosed& e) {
          EXPECT_NE(std::string(e.what()).find("dropped without sending"), std::string::npos);
        }
        EXPECT_THROW(rx.try_recv(), weft::ChannelClosed);
      }(),
      virtual_clock());
}

TEST(Oneshot, SenderDroppedBeforeTheReceiveRaisesChannelClosedAtOnce) {
  weft::run(
      []() -> weft::Task<void> {
        auto [tx, rx] = weft::oneshot<int>();
        tx = weft::OneshotSender<int>();  // the old sender is dropped
        EXPECT_THROW(co_await rx.recv(), weft::ChannelClosed);
      }(),
      virtual_clock());
}

TEST(Oneshot, SecondSendThrowsUsageError) {
  auto [tx, rx] = weft::oneshot<int>();
  EXPECT_TRUE(tx.send(1));
  try {
    tx.send(2);
    FAIL() << "no exception";
  } catch (const weft::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("already sent"), std::string::npos);
  }
  EXPECT_EQ(rx.try_recv(), std::optional<int>(1));
}

TEST(Oneshot, SecondReceiveThrowsUsageError) {
  weft::run(
      []() -> weft::Task<void> {
        auto [tx, rx] = weft::oneshot<int>();
        tx.send(5);
        EXPECT_EQ(co_await rx.recv(), 5);
        EXPECT_THROW((void)rx.recv(), weft::UsageError);
        EXPECT_THROW(rx.try_recv(), weft::UsageError);
      }(),
      virtual_clock());
}

TEST(Oneshot, OnlyRecvMakesTheReceiveAwaiter) {
  using Awaiter = weft::OneshotReceiver<int>::RecvAwaiter;
  // Its constructor takes the channel's shared state, which is no part of the API.
  static_assert(!std::is_constructible_v<Awaiter, weft::detail::OneshotState<int>*>);
  static_assert(std::is_nothrow_move_constructible_v<Awaiter>);  // wait_for moves it
}

TEST(Oneshot, SendAfterTheReceiverWasDroppedReturnsFalseAndDestroysTheValue) {
  Tracked::live = 0;
  {
    auto [tx, rx] = weft::oneshot<Tracked>();
    { auto dropped = std::move(rx); }
    EXPECT_TRUE(tx.is_closed());
    EXPECT_FALSE(tx.send(Tracked(1)));
  }
  EXPECT_EQ(Tracked::live.load(), 0);
}

TEST(Oneshot, TryRecvIsEmptyUntilTheValueIsSent) {
  auto [tx, rx] = weft::oneshot<std::unique_ptr<int>>();
  EXPECT_EQ(rx.try_recv(), std::nullopt);
  tx.send(std::make_unique<int>(3));
  auto v = rx.try_recv();
  ASSERT_TRUE(v && *v);
  EXPECT_EQ(**v, 3);
}

TEST(Oneshot, UnreceivedValuesAreDestroyedWithTheChannel) {
  Tracked::live = 0;
  {
    auto [tx, rx] = weft::oneshot<Tracked>();
    tx.send(Tracked(1));
    EXPECT_EQ(Tracked::live.load(), 1);
  }
  EXPECT_EQ(Tracked::live.load(), 0);
  {
    auto [tx, rx] = weft::oneshot<Tracked>();
    tx.send(Tracked(2));
    auto v = rx.try_recv();
    EXPECT_EQ(v->v, 2);
  }
  EXPECT_EQ(Tracked::live.load(), 0);
}

TEST(Oneshot, TimedOutReceiveLeavesTheValueForTheNextReceive) {
  weft::run(
      []() -> weft::Task<void> {
        auto [tx, rx] = weft::oneshot<int>();
        EXPECT_THROW(co_await weft::wait_for(rx.recv(), 5ms), weft::TimeoutError);
        tx.send(9);
        EXPECT_EQ(co_await weft::wait_for(rx.recv(), 5ms), 9);
      }(),
      virtual_clock(2));
}

TEST(Oneshot, CancelledReceiveLeavesTheValueForTheNextReceive) {
  weft::run(
      []() -> weft::Task<void> {
        auto [tx, rx] = weft::oneshot<int>();
        std::atomic<int> arrived{0};
        auto h = weft::spawn(receive(rx, arrived));
        co_await settle(arrived, 1);
        h.cancel();
        tx.send(11);  // the cancellation claimed the wait first: the value stays
        EXPECT_THROW(co_await h, weft::CancelledError);
        EXPECT_EQ(co_await rx.recv(), 11);
      }(),
      virtual_clock());
}

TEST(OneshotDeathTest, DestroyingAReceiverThatATaskAwaitsAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(weft::run(
                   []() -> weft::Task<void> {
                     auto [tx, rx] = weft::oneshot<int>();
                     auto owned = std::make_unique<weft::OneshotReceiver<int>>(std::move(rx));
                     std::atomic<int> arrived{0};
                     auto h = weft::spawn(receive(*owned, arrived));
                     co_await settle(arrived, 1);
                     owned.reset();
                   }(),
                   virtual_clock()),
               "weft::OneshotReceiver destroyed while 1 waiter");
}

// ---- stress ----

// Ping-pong, as in the benchmark, on oneshots only: every request carries the reply's
// sender and the receiver of the next request.
struct Request {
  int value;
  weft::OneshotSender<int> reply;
  weft::OneshotReceiver<Request> next;
};

weft::Task<void> pong(weft::OneshotReceiver<Request> requests, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    Request req = co_await requests.recv();
    EXPECT_TRUE(req.reply.send(req.value + 1));
    requests = std::move(req.next);
  }
}

weft::Task<long> ping(weft::OneshotSender<Request> requests, int rounds) {
  long sum = 0;
  for (int r = 0; r < rounds; ++r) {
    auto [reply_tx, reply_rx] = weft::oneshot<int>();
    auto [next_tx, next_rx] = weft::oneshot<Request>();
    EXPECT_TRUE(requests.send(Request{r, std::move(reply_tx), std::move(next_rx)}));
    requests = std::move(next_tx);
    sum += co_await reply_rx.recv();
  }
  co_return sum;
}

TEST(OneshotStress, PingPongPairsAcrossWorkersGetEveryReply) {
  const int pairs = static_cast<int>(weft::test::scaled(200, 10));
  constexpr int kRounds = 100;
  long total = weft::run(
      [](int pairs) -> weft::Task<long> {
        std::vector<weft::JoinHandle<void>> pongs;
        std::vector<weft::JoinHandle<long>> pings;
        for (int p = 0; p < pairs; ++p) {
          auto [tx, rx] = weft::oneshot<Request>();
          pongs.push_back(weft::spawn(pong(std::move(rx), kRounds)));
          pings.push_back(weft::spawn(ping(std::move(tx), kRounds)));
        }
        long total = 0;
        for (auto& h : pings) total += co_await h;
        for (auto& h : pongs) co_await h;
        co_return total;
      }(pairs),
      {.workers = 4});
  // Each ping sums r + 1 for r in [0, kRounds).
  EXPECT_EQ(total, static_cast<long>(pairs) * kRounds * (kRounds + 1) / 2);
}

struct Delivery {
  std::atomic<long> received{0};
  std::atomic<long> timeouts{0};
  std::atomic<long> closed{0};
};

weft::Task<void> receive_patiently(weft::OneshotReceiver<int> rx, int expected, Delivery& d,
                                   unsigned seed) {
  std::mt19937 rng(seed);
  for (;;) {
    try {
      int v = co_await weft::wait_for(rx.recv(), std::chrono::microseconds(rng() % 1500));
      EXPECT_EQ(v, expected);
      d.received.fetch_add(1);
      co_return;
    } catch (const weft::TimeoutError&) {
      d.timeouts.fetch_add(1);  // the value, if it came meanwhile, is still in the channel
    } catch (const weft::ChannelClosed&) {
      d.closed.fetch_add(1);
      co_return;
    }
  }
}

weft::Task<void> send_later(weft::OneshotSender<int> tx, int value, unsigned seed) {
  std::mt19937 rng(seed);
  co_await weft::sleep(std::chrono::microseconds(rng() % 3000));
  if (rng() % 16 == 0) co_return;  // dropped without sending: the receiver gets ChannelClosed
  tx.send(value);
}

TEST(OneshotStress, ReceivesTimingOutWhileValuesArriveLoseNoValue) {
  const int channels = static_cast<int>(weft::test::scaled(4000, 100));
  Delivery d;
  weft::run(
      [](int channels, Delivery& d) -> weft::Task<void> {
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < channels; ++i) {
          auto [tx, rx] = weft::oneshot<int>();
          hs.push_back(weft::spawn(receive_patiently(std::move(rx), i, d, 7u * i)));
          hs.push_back(weft::spawn(send_later(std::move(tx), i, 13u * i + 1)));
        }
        for (auto& h : hs) co_await h;
      }(channels, d),
      virtual_clock(4));
  EXPECT_EQ(d.received.load() + d.closed.load(), channels);
  EXPECT_GT(d.timeouts.load(), 0);
}

// A plain thread cancels each receiver just as the value is sent, so the cancellation wins or
// loses the claim of the wait at every point of the send.
TEST(OneshotStress, CancellingReceiversWhileValuesArriveLosesNoValue) {
  const int channels = static_cast<int>(weft::test::scaled(3000, 100));
  std::atomic<int> go{-1}, cancelled_in{-1};
  std::atomic<weft::JoinHandle<int>*> victim{nullptr};
  std::thread canceller([&] {
    for (int i = 0; i < channels; ++i) {
      while (go.load() != i) std::this_thread::yield();
      victim.load()->cancel();
      cancelled_in.store(i);
    }
  });
  std::atomic<long> got_in_task{0}, got_after{0};
  weft::run(
      [](int channels, std::atomic<int>& go, std::atomic<int>& cancelled_in,
         std::atomic<weft::JoinHandle<int>*>& victim, std::atomic<long>& got_in_task,
         std::atomic<long>& got_after) -> weft::Task<void> {
        for (int i = 0; i < channels; ++i) {
          auto [tx, rx] = weft::oneshot<int>();
          std::atomic<int> arrived{0};
          auto h = weft::spawn(receive(rx, arrived));
          while (arrived.load() == 0) co_await weft::yield_now();
          victim.store(&h);
          go.store(i);
          EXPECT_TRUE(tx.send(i));  // races with the cancel
          while (cancelled_in.load() != i) co_await weft::yield_now();
          bool cancelled = false;
          try {
            EXPECT_EQ(co_await h, i);
            got_in_task.fetch_add(1);
          } catch (const weft::CancelledError&) {
            cancelled = true;
          }
          if (cancelled) {
            EXPECT_EQ(co_await rx.recv(), i);  // the value stayed in the channel
            got_after.fetch_add(1);
          }
        }
      }(channels, go, cancelled_in, victim, got_in_task, got_after),
      {.workers = 2});
  canceller.join();
  EXPECT_EQ(got_in_task.load() + got_after.load(), channels);
}

// A plain thread sends each value just as the task starts to receive it, so the send lands
// before, during or after the receive registers its wait.
TEST(OneshotStress, SendsFromAPlainThreadRacingTheReceivesDeliverEveryValue) {
  const int channels = static_cast<int>(weft::test::scaled(20000, 500));
  std::vector<weft::OneshotSender<int>> txs;
  std::vector<weft::OneshotReceiver<int>> rxs;
  for (int i = 0; i < channels; ++i) {
    auto [tx, rx] = weft::oneshot<int>();
    txs.push_back(std::move(tx));
    rxs.push_back(std::move(rx));
  }
  std::atomic<int> ready{-1};
  std::thread sender([&] {
    for (int i = 0; i < channels; ++i) {
      while (ready.load() < i) std::this_thread::yield();
      EXPECT_TRUE(txs[i].send(i));
    }
  });
  long sum = weft::run(
      [](std::vector<weft::OneshotReceiver<int>>& rxs,
         std::atomic<int>& ready) -> weft::Task<long> {
        long sum = 0;
        for (int i = 0; i < static_cast<int>(rxs.size()); ++i) {
          ready.store(i);
          sum += co_await rxs[i].recv();
        }
        co_return sum;
      }(rxs, ready),
      {.workers = 2});
  sender.join();
  EXPECT_EQ(sum, static_cast<long>(channels) * (channels - 1) / 2);
}

}  // namespace
