// weft::broadcast<T>: every subscriber sees every later message, exact lag counts, closing
// when the last sender goes, cancellation and timeouts that consume nothing, bad input, and
// many senders and receivers across workers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include "stress_scale.hpp"
#include "sync_test_util.hpp"

using namespace std::chrono_literals;
using weft::test::settle;
using weft::test::virtual_clock;

namespace {

weft::Task<int> receive(weft::BroadcastReceiver<int>& rx, std::atomic<int>& arrived) {
  arrived.fetch_add(1);
  co_return co_await rx.recv();
}

TEST(Broadcast, ZeroCapacityThrowsInvalidArgument) {
  try {
    (void)weft::broadcast<int>(0);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("capacity"), std::string::npos);
  }
}

TEST(Broadcast, EverySubscriberSeesEveryMessageSentAfterItSubscribed) {
  weft::run(
      []() -> weft::Task<void> {
        auto tx = weft::broadcast<std::string>(8);
        auto early = tx.subscribe();
        EXPECT_EQ(tx.send("one"), 1u);
        auto late = tx.subscribe();
        EXPECT_EQ(tx.receiver_count(), 2u);
        EXPECT_EQ(tx.send("two"), 2u);
        EXPECT_EQ(co_await early.recv(), "one");
        EXPECT_EQ(co_await early.recv(), "two");
        EXPECT_EQ(co_await late.recv(), "two");
        EXPECT_EQ(early.try_recv(), std::nullopt);
        EXPECT_EQ(late.try_recv(), std::nullopt);
      }(),
      virtual_clock());
}

TEST(Broadcast, SendWithoutReceiversReturnsZeroAndKeepsNothing) {
  auto tx = weft::broadcast<int>(4);
  EXPECT_EQ(tx.send(1), 0u);
  auto rx = tx.subscribe();
  EXPECT_EQ(rx.try_recv(), std::nullopt);
  EXPECT_EQ(tx.send(2), 1u);
  EXPECT_EQ(rx.try_recv(), std::optional<int>(2));
}

TEST(Broadcast, WaitingReceiversAreAllWokenBySend) {
  weft::run(
      []() -> weft::Task<void> {
        auto tx = weft::broadcast<int>(2);
        std::vector<weft::BroadcastReceiver<int>> rxs;
        for (int i = 0; i < 5; ++i) rxs.push_back(tx.subscribe());
        std::atomic<int> arrived{0};
        std::vector<weft::JoinHandle<int>> hs;
        for (auto& rx : rxs) hs.push_back(weft::spawn(receive(rx, arrived)));
        co_await settle(arrived, 5);
        EXPECT_EQ(tx.send(7), 5u);
        for (auto& h : hs) EXPECT_EQ(co_await h, 7);
      }(),
      virtual_clock());
}

TEST(Broadcast, SlowReceiverGetsLaggedWithTheExactCountThenTheOldestMessages) {
  weft::run(
      []() -> weft::Task<void> {
        auto tx = weft::broadcast<int>(4);
        auto rx = tx.subscribe();
        for (int i = 0; i < 10; ++i) tx.send(i);
        try {
          co_await rx.recv();
          ADD_FAILURE() << "no exception";
        } catch (const weft::Lagged& e) {
          EXPECT_EQ(e.missed(), 6u);
          EXPECT_NE(std::string(e.what()).find("missed 6"), std::string::npos);
        }
        for (int i = 6; i < 10; ++i) EXPECT_EQ(co_await rx.recv(), i);
        EXPECT_EQ(rx.try_recv(), std::nullopt);
        for (int i = 10; i < 15; ++i) tx.send(i);
        EXPECT_THROW(rx.try_recv(), weft::Lagged);  // missed 1, then goes on from 11
        EXPECT_EQ(rx.try_recv(), std::optional<int>(11));
      }(),
      virtual_clock());
}

TEST(Broadcast, ReceiverDrainsThenGetsChannelClosedOnceEverySenderIsGone) {
  weft::run(
      []() -> weft::Task<void> {
        auto tx = weft::broadcast<int>(4);
        auto rx = tx.subscribe();
        auto tx2 = tx.clone();
        weft::BroadcastSender<int> tx3 = tx2;
        tx.send(1);
        tx2.send(2);
        { auto gone = std::move(tx); }
        { auto gone = std::move(tx2); }
        EXPECT_EQ(rx.try_recv(), std::optional<int>(1));
        EXPECT_EQ(rx.try_recv(), std::optional<int>(2));
        EXPECT_EQ(rx.try_recv(), std::nullopt);  // tx3 still lives
        tx3.send(3);
        tx3.send(4);
        { auto gone = std::move(tx3); }
        EXPECT_EQ(co_await rx.recv(), 3);
        EXPECT_EQ(co_await rx.recv(), 4);
        try {
          co_await rx.recv();
          ADD_FAILURE() << "no exception";
        } catch (const weft::ChannelClosed& e) {
          EXPECT_NE(std::string(e.what()).find("every sender"), std::string::npos);
        }
        EXPECT_THROW(rx.try_recv(), weft::ChannelClosed);
      }(),
      virtual_clock());
}

TEST(Broadcast, DroppingTheLastSenderWakesWaitingReceiversWithChannelClosed) {
  weft::run(
      []() -> weft::Task<void> {
        auto tx = std::make_unique<weft::BroadcastSender<int>>(weft::broadcast<int>(4));
        auto rx = tx->subscribe();
        std::atomic<int> arrived{0};
        auto h = weft::spawn(receive(rx, arrived));
        co_await settle(arrived, 1);
        tx.reset();
        EXPECT_THROW(co_await h, weft::ChannelClosed);
      }(),
      virtual_clock());
}

TEST(Broadcast, CancelledReceiveConsumesNothing) {
  weft::run(
      []() -> weft::Task<void> {
        auto tx = weft::broadcast<int>(4);
        auto rx = tx.subscribe();
        std::atomic<int> arrived{0};
        auto h = weft::spawn(receive(rx, arrived));
        co_await settle(arrived, 1);
        h.cancel();
        tx.send(5);
        EXPECT_THROW(co_await h, weft::CancelledError);
        EXPECT_EQ(co_await rx.recv(), 5);
      }(),
      virtual_clock());
}

TEST(Broadcast, TimedOutReceiveConsumesNothing) {
  weft::run(
      []() -> weft::Task<void> {
        auto tx = weft::broadcast<int>(4);
        auto rx = tx.subscribe();
        EXPECT_THROW(co_await weft::wait_for(rx.recv(), 5ms), weft::TimeoutError);
        tx.send(6);
        EXPECT_EQ(co_await weft::wait_for(rx.recv(), 5ms), 6);
      }(),
      virtual_clock(2));
}

TEST(Broadcast, ResubscribeStartsAtTheNextMessage) {
  auto tx = weft::broadcast<int>(4);
  auto rx = tx.subscribe();
  tx.send(1);
  auto rx2 = rx.resubscribe();
  tx.send(2);
  EXPECT_EQ(rx.try_recv(), std::optional<int>(1));
  EXPECT_EQ(rx2.try_recv(), std::optional<int>(2));
  EXPECT_EQ(tx.receiver_count(), 2u);
}

TEST(Broadcast, MovedFromHandlesThrowUsageError) {
  auto tx = weft::broadcast<int>(4);
  auto rx = tx.subscribe();
  auto tx2 = std::move(tx);
  auto rx2 = std::move(rx);
  EXPECT_THROW(tx.send(1), weft::UsageError);
  EXPECT_THROW((void)tx.subscribe(), weft::UsageError);
  EXPECT_THROW(rx.try_recv(), weft::UsageError);
  EXPECT_EQ(tx2.send(1), 1u);
  EXPECT_EQ(rx2.try_recv(), std::optional<int>(1));
}

TEST(BroadcastDeathTest, DestroyingAReceiverThatATaskAwaitsAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(weft::run(
                   []() -> weft::Task<void> {
                     auto tx = weft::broadcast<int>(4);
                     auto rx = std::make_unique<weft::BroadcastReceiver<int>>(tx.subscribe());
                     std::atomic<int> arrived{0};
                     auto h = weft::spawn(receive(*rx, arrived));
                     co_await settle(arrived, 1);
                     rx.reset();
                   }(),
                   virtual_clock()),
               "weft::BroadcastReceiver destroyed while 1 waiter");
}

// ---- stress ----

struct Seen {
  std::atomic<long> received{0};
  std::atomic<long> missed{0};
  std::atomic<long> out_of_order{0};
  std::atomic<long> timeouts{0};
};

/// Receives until the channel closes; messages are sender * kPerSenderSpan + n, and each
/// sender's n must only grow.
constexpr int kPerSenderSpan = 1 << 20;

weft::Task<void> drain(weft::BroadcastReceiver<int> rx, int senders, Seen& s, unsigned seed,
                       bool with_timeouts) {
  std::mt19937 rng(seed);
  std::vector<int> last(senders, -1);
  for (;;) {
    try {
      int m;
      if (with_timeouts) {
        m = co_await weft::wait_for(rx.recv(), std::chrono::microseconds(rng() % 500));
      } else {
        m = co_await rx.recv();
      }
      int from = m / kPerSenderSpan;
      int n = m % kPerSenderSpan;
      if (n <= last[from]) s.out_of_order.fetch_add(1);
      last[from] = n;
      s.received.fetch_add(1);
    } catch (const weft::Lagged& e) {
      s.missed.fetch_add(static_cast<long>(e.missed()));
    } catch (const weft::TimeoutError&) {
      s.timeouts.fetch_add(1);  // nothing consumed: the next recv gets the message
    } catch (const weft::ChannelClosed&) {
      co_return;
    }
  }
}

weft::Task<void> emit(weft::BroadcastSender<int> tx, int id, int n, unsigned seed, bool pace) {
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    tx.send(id * kPerSenderSpan + i);
    if (pace && rng() % 4 == 0) co_await weft::sleep(std::chrono::microseconds(rng() % 300));
    if (!pace && rng() % 16 == 0) co_await weft::yield_now();
  }
}

/// Runs `senders` senders of `per_sender` messages and `receivers` receivers on 4 workers.
void run_channel(std::size_t capacity, int senders, int per_sender, int receivers, Seen& s,
                 bool with_timeouts) {
  weft::run(
      [](std::size_t capacity, int senders, int per_sender, int receivers, Seen& s,
         bool with_timeouts) -> weft::Task<void> {
        std::vector<weft::JoinHandle<void>> hs;
        {
          auto tx = weft::broadcast<int>(capacity);
          for (int r = 0; r < receivers; ++r) {
            hs.push_back(weft::spawn(drain(tx.subscribe(), senders, s, 5u + r, with_timeouts)));
          }
          for (int i = 0; i < senders; ++i) {
            hs.push_back(weft::spawn(emit(tx, i, per_sender, 90u + i, with_timeouts)));
          }
        }  // our sender goes: the channel closes when the emitters finish
        for (auto& h : hs) co_await h;
      }(capacity, senders, per_sender, receivers, s, with_timeouts),
      with_timeouts ? virtual_clock(4) : weft::RuntimeOptions{.workers = 4});
}

TEST(BroadcastStress, EveryReceiverSeesEveryMessageInOrderWhenNoneLags) {
  constexpr int kSenders = 4;
  constexpr int kReceivers = 8;
  const int per_sender = static_cast<int>(weft::test::scaled(2000, 50));
  Seen s;
  run_channel(static_cast<std::size_t>(kSenders * per_sender), kSenders, per_sender, kReceivers, s,
              /*with_timeouts=*/true);
  EXPECT_EQ(s.received.load(), static_cast<long>(kReceivers) * kSenders * per_sender);
  EXPECT_EQ(s.missed.load(), 0);
  EXPECT_EQ(s.out_of_order.load(), 0);
}

TEST(BroadcastStress, LaggingReceiversAccountForEveryMessage) {
  constexpr int kSenders = 4;
  constexpr int kReceivers = 6;
  const int per_sender = static_cast<int>(weft::test::scaled(5000, 100));
  Seen s;
  run_channel(8, kSenders, per_sender, kReceivers, s, /*with_timeouts=*/false);
  // Received plus reported missed is exactly what was sent, for every receiver.
  EXPECT_EQ(s.received.load() + s.missed.load(),
            static_cast<long>(kReceivers) * kSenders * per_sender);
  EXPECT_EQ(s.out_of_order.load(), 0);
}

}  // namespace
