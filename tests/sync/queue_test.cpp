// weft::Queue, LifoQueue, PriorityQueue: asyncio's operations, waiting when full or empty,
// cancellation that loses no item, task_done/join, shutdown, plain threads, and stress.
//
// What the three queues share is one typed suite, EveryQueue, run for each of them; the
// order a queue hands its items out in comes from its kind (Fifo, Lifo, Smallest below).
// Then what belongs to one queue: the FIFO ring (growth, ASan poisoning), PriorityQueue's
// Compare, and the FIFO stress tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <weft/runtime/detail/sanitizer.hpp>
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include "stress_scale.hpp"
#include "sync_test_util.hpp"

using namespace std::chrono_literals;
using weft::test::settle;
using weft::test::virtual_clock;

namespace {

// ---- the three kinds of queue ----
// Each kind names its queue template and the order its get() follows: take() removes from
// `items` (in the order they were put) the one a get would return, and kOrderOf312 spells
// that order out for the puts 3, 1, 2.

struct Fifo {
  template <class T>
  using Queue = weft::Queue<T>;
  static constexpr const char* kName = "Fifo";
  static constexpr const char* kQueueName = "weft::Queue";  // in its messages
  static inline const std::vector<int> kOrderOf312{3, 1, 2};
  static int take(std::vector<int>& items) {
    const int v = items.front();
    items.erase(items.begin());
    return v;
  }
};

struct Lifo {
  template <class T>
  using Queue = weft::LifoQueue<T>;
  static constexpr const char* kName = "Lifo";
  static constexpr const char* kQueueName = "weft::LifoQueue";  // in its messages
  static inline const std::vector<int> kOrderOf312{2, 1, 3};
  static int take(std::vector<int>& items) {
    const int v = items.back();
    items.pop_back();
    return v;
  }
};

struct Smallest {
  template <class T>
  using Queue = weft::PriorityQueue<T>;
  static constexpr const char* kName = "Smallest";
  static constexpr const char* kQueueName = "weft::PriorityQueue";  // in its messages
  static inline const std::vector<int> kOrderOf312{1, 2, 3};
  static int take(std::vector<int>& items) {
    const auto it = std::min_element(items.begin(), items.end());
    const int v = *it;
    items.erase(it);
    return v;
  }
};

/// The queue of kind `Kind` holding `T`s.
template <class Kind, class T = int>
using QueueOf = typename Kind::template Queue<T>;

struct KindName {
  template <class Kind>
  static std::string GetName(int) {
    return Kind::kName;
  }
};

using Kinds = ::testing::Types<Fifo, Lifo, Smallest>;

template <class Kind>
class EveryQueue : public ::testing::Test {};
TYPED_TEST_SUITE(EveryQueue, Kinds, KindName);

template <class Kind>
class EveryQueueDeathTest : public ::testing::Test {};
TYPED_TEST_SUITE(EveryQueueDeathTest, Kinds, KindName);

/// Runs `f`, which must throw an `E` whose message contains `words`.
template <class E, class F>
void expect_error(F&& f, const std::string& words) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

// Records the item in `slot`: getters may run in any order once woken, but the first to
// wait gets the first item.
template <class Q>
weft::Task<void> get_into(Q& q, int& slot, std::atomic<int>& arrived) {
  arrived.fetch_add(1);
  slot = co_await q.get();
}

template <class Q>
weft::Task<void> put_one(Q& q, int v, std::atomic<int>& arrived) {
  arrived.fetch_add(1);
  co_await q.put(v);
}

template <class Q>
weft::Task<void> join_and_count(Q& q, std::atomic<int>& arrived, std::atomic<int>& joined) {
  arrived.fetch_add(1);
  co_await q.join();
  joined.fetch_add(1);
}

template <class Q>
weft::Task<void> consume_and_mark_done(Q& q, int n) {
  for (int i = 0; i < n; ++i) {
    (void)co_await q.get();
    co_await weft::yield_now();
    q.task_done();
  }
}

/// A move-only item, ordered by its number.
struct Ticket {
  explicit Ticket(int n) : number(std::make_unique<int>(n)) {}
  std::unique_ptr<int> number;
  friend bool operator<(const Ticket& a, const Ticket& b) { return *a.number < *b.number; }
};

// ---- shared by the three ----

TYPED_TEST(EveryQueue, NowaitGetsReturnTheItemsInTheQueuesOrder) {
  QueueOf<TypeParam> q;
  for (int v : {3, 1, 2}) q.put_nowait(v);
  std::vector<int> got;
  while (!q.empty()) got.push_back(q.get_nowait());
  EXPECT_EQ(got, TypeParam::kOrderOf312);
}

TYPED_TEST(EveryQueue, NowaitOperationsReportFullAndEmptyWithTheirErrors) {
  QueueOf<TypeParam> q(2);
  EXPECT_EQ(q.maxsize(), 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  expect_error<weft::QueueEmpty>([&] { (void)q.get_nowait(); }, "empty");
  q.put_nowait(1);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());
  q.put_nowait(2);
  EXPECT_TRUE(q.full());
  expect_error<weft::QueueFull>([&] { q.put_nowait(3); }, "full");
  EXPECT_EQ(q.qsize(), 2u);  // the refused item was not stored
  std::vector<int> items{1, 2};
  EXPECT_EQ(q.get_nowait(), TypeParam::take(items));
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.get_nowait(), TypeParam::take(items));
  EXPECT_TRUE(q.empty());
  expect_error<weft::QueueEmpty>([&] { (void)q.get_nowait(); }, "empty");
}

TYPED_TEST(EveryQueue, UnboundedQueueIsNeverFull) {
  QueueOf<TypeParam> q;
  for (int i = 0; i < 1000; ++i) q.put_nowait(i);
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.maxsize(), 0u);
  EXPECT_EQ(q.qsize(), 1000u);
}

// For the FIFO queue, whose ring has 8 slots here, the items also wrap around many times.
TYPED_TEST(EveryQueue, ABoundThatIsNoPowerOfTwoIsExactWhileItemsComeAndGo) {
  QueueOf<TypeParam> q(5);
  std::vector<int> items;  // what the queue holds, in the order put
  int next_in = 0;
  for (int round = 0; round < 100; ++round) {
    while (!q.full()) {
      q.put_nowait(next_in);
      items.push_back(next_in++);
    }
    EXPECT_EQ(q.qsize(), 5u);
    EXPECT_THROW(q.put_nowait(-1), weft::QueueFull);
    for (int i = 0; i < 1 + round % 5; ++i) EXPECT_EQ(q.get_nowait(), TypeParam::take(items));
  }
  while (!q.empty()) EXPECT_EQ(q.get_nowait(), TypeParam::take(items));
  EXPECT_TRUE(items.empty());
}

TYPED_TEST(EveryQueue, MoveOnlyItemsGoInAndOutByEveryOperation) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam, Ticket> q;
        q.put_nowait(Ticket(3));
        co_await q.put(Ticket(1));
        q.put_nowait(Ticket(2));
        std::vector<int> got;
        got.push_back(*q.get_nowait().number);
        Ticket awaited = co_await q.get();
        got.push_back(*awaited.number);
        got.push_back(*q.get_nowait().number);
        EXPECT_EQ(got, TypeParam::kOrderOf312);
      }(),
      virtual_clock());
}

TYPED_TEST(EveryQueue, GetWaitsForAPutAndGettersAreServedInOrder) {
  std::vector<int> got = weft::run(
      []() -> weft::Task<std::vector<int>> {
        QueueOf<TypeParam> q;
        std::vector<int> got(3, -1);
        std::atomic<int> arrived{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 3; ++i) {
          hs.push_back(weft::spawn(get_into(q, got[i], arrived)));
          co_await settle(arrived, i + 1);
        }
        EXPECT_EQ(got, (std::vector<int>{-1, -1, -1}));
        for (int v : {10, 20, 30}) co_await q.put(v);
        for (auto& h : hs) co_await h;
        EXPECT_TRUE(q.empty());
        co_return got;
      }(),
      virtual_clock());
  EXPECT_EQ(got, (std::vector<int>{10, 20, 30}));
}

TYPED_TEST(EveryQueue, PutWaitsWhileFullAndEntersWhenAGetFreesASlot) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam> q(1);
        std::atomic<int> arrived{0};
        co_await q.put(1);
        auto a = weft::spawn(put_one(q, 2, arrived));
        co_await settle(arrived, 1);
        auto b = weft::spawn(put_one(q, 3, arrived));
        co_await settle(arrived, 2);
        EXPECT_EQ(q.qsize(), 1u);
        EXPECT_FALSE(a.done());
        EXPECT_EQ(co_await q.get(), 1);
        EXPECT_EQ(q.qsize(), 1u);  // 2 moved in at once
        EXPECT_EQ(co_await q.get(), 2);
        EXPECT_EQ(co_await q.get(), 3);
        co_await a;
        co_await b;
      }(),
      virtual_clock());
}

TYPED_TEST(EveryQueue, CancelledGetLeavesTheItemForTheNextGetter) {
  std::vector<int> got = weft::run(
      []() -> weft::Task<std::vector<int>> {
        QueueOf<TypeParam> q;
        std::vector<int> got(2, -1);
        std::atomic<int> arrived{0};
        auto a = weft::spawn(get_into(q, got[0], arrived));
        co_await settle(arrived, 1);
        auto b = weft::spawn(get_into(q, got[1], arrived));
        co_await settle(arrived, 2);
        a.cancel();
        EXPECT_THROW(co_await a, weft::CancelledError);
        q.put_nowait(7);
        co_await b;
        EXPECT_TRUE(q.empty());
        co_return got;
      }(),
      virtual_clock());
  EXPECT_EQ(got, (std::vector<int>{-1, 7}));
}

TYPED_TEST(EveryQueue, TimedOutGetRaisesTimeoutErrorAndTheItemPutLaterStays) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam> q;
        EXPECT_THROW(co_await weft::wait_for(q.get(), 1ms), weft::TimeoutError);
        q.put_nowait(5);
        EXPECT_EQ(q.qsize(), 1u);
        EXPECT_EQ(co_await weft::wait_for(q.get(), 1ms), 5);
      }(),
      virtual_clock(2));
}

TYPED_TEST(EveryQueue, CancelledOrTimedOutPutPutsNothing) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam> q(1);
        std::atomic<int> arrived{0};
        q.put_nowait(1);
        auto a = weft::spawn(put_one(q, 2, arrived));
        co_await settle(arrived, 1);
        a.cancel();
        EXPECT_THROW(co_await a, weft::CancelledError);
        EXPECT_THROW(co_await weft::wait_for(q.put(3), 1ms), weft::TimeoutError);
        EXPECT_EQ(q.get_nowait(), 1);
        EXPECT_TRUE(q.empty());
      }(),
      virtual_clock(2));
}

TYPED_TEST(EveryQueue, ACancelledPutterLetsTheNextWaitingPutterIn) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam> q(1);
        std::atomic<int> arrived{0};
        q.put_nowait(1);
        auto a = weft::spawn(put_one(q, 2, arrived));
        co_await settle(arrived, 1);
        auto b = weft::spawn(put_one(q, 3, arrived));
        co_await settle(arrived, 2);
        a.cancel();
        EXPECT_THROW(co_await a, weft::CancelledError);
        EXPECT_EQ(co_await q.get(), 1);
        co_await b;  // its 3 moved in when the get freed the slot
        EXPECT_EQ(q.get_nowait(), 3);
        EXPECT_TRUE(q.empty());
      }(),
      virtual_clock());
}

TYPED_TEST(EveryQueue, JoinWaitsUntilEveryItemIsMarkedDone) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam> q;
        co_await q.join();  // nothing unfinished: at once
        for (int i = 0; i < 5; ++i) q.put_nowait(i);
        auto c = weft::spawn(consume_and_mark_done(q, 5));
        co_await q.join();
        EXPECT_TRUE(c.done() || q.empty());
        co_await c;
        expect_error<std::logic_error>([&] { q.task_done(); },
                                       std::string(TypeParam::kQueueName) + "::task_done");
      }(),
      virtual_clock(2));
}

TYPED_TEST(EveryQueue, CancelledJoinRaisesCancelledErrorAndTheOtherJoinersStillWait) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam> q;
        std::atomic<int> arrived{0};
        std::atomic<int> joined{0};
        q.put_nowait(1);
        auto a = weft::spawn(join_and_count(q, arrived, joined));
        auto b = weft::spawn(join_and_count(q, arrived, joined));
        co_await settle(arrived, 2);
        a.cancel();
        EXPECT_THROW(co_await a, weft::CancelledError);
        EXPECT_EQ(joined.load(), 0);
        EXPECT_FALSE(b.done());
        EXPECT_EQ(q.get_nowait(), 1);
        q.task_done();
        co_await b;
        EXPECT_EQ(joined.load(), 1);
      }(),
      virtual_clock());
}

TYPED_TEST(EveryQueue, ShutdownFailsPuttersAtOnceAndGettersOnceDrained) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam> q(2);
        std::atomic<int> arrived{0};
        std::vector<int> items{1, 2};
        q.put_nowait(1);
        q.put_nowait(2);
        auto p = weft::spawn(put_one(q, 3, arrived));
        co_await settle(arrived, 1);
        q.shutdown();
        EXPECT_THROW(co_await p, weft::QueueShutDown);
        expect_error<weft::QueueShutDown>([&] { q.put_nowait(4); }, "shut down");
        EXPECT_THROW(co_await q.put(4), weft::QueueShutDown);
        EXPECT_EQ(co_await q.get(), TypeParam::take(items));
        EXPECT_EQ(q.get_nowait(), TypeParam::take(items));
        EXPECT_THROW(co_await q.get(), weft::QueueShutDown);
        expect_error<weft::QueueShutDown>([&] { (void)q.get_nowait(); }, "shut down");
      }(),
      virtual_clock());
}

TYPED_TEST(EveryQueue, ShutdownWakesGettersWaitingOnAnEmptyQueue) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam> q;
        std::vector<int> got(2, -1);
        std::atomic<int> arrived{0};
        auto a = weft::spawn(get_into(q, got[0], arrived));
        auto b = weft::spawn(get_into(q, got[1], arrived));
        co_await settle(arrived, 2);
        q.shutdown();
        EXPECT_THROW(co_await a, weft::QueueShutDown);
        EXPECT_THROW(co_await b, weft::QueueShutDown);
      }(),
      virtual_clock());
}

TYPED_TEST(EveryQueue, ImmediateShutdownDropsTheItemsAndReleasesJoin) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam> q;
        std::atomic<int> arrived{0};
        std::atomic<int> joined{0};
        for (int i = 0; i < 3; ++i) q.put_nowait(i);
        auto joiner = weft::spawn(join_and_count(q, arrived, joined));
        co_await settle(arrived, 1);
        EXPECT_EQ(joined.load(), 0);
        q.shutdown(/*immediate=*/true);
        co_await joiner;
        EXPECT_EQ(joined.load(), 1);
        EXPECT_TRUE(q.empty());
        EXPECT_THROW(q.get_nowait(), weft::QueueShutDown);
      }(),
      virtual_clock());
}

TYPED_TEST(EveryQueue, BlockingCallsOnAWorkerThreadThrowUsageError) {
  weft::run(
      []() -> weft::Task<void> {
        QueueOf<TypeParam> q;
        const std::string name = TypeParam::kQueueName;
        expect_error<weft::UsageError>([&] { q.blocking_put(1); },
                                       name + "::blocking_put called on a worker thread");
        expect_error<weft::UsageError>([&] { (void)q.blocking_get(); },
                                       name + "::blocking_get called on a worker thread");
        EXPECT_TRUE(q.empty());
        co_return;
      }(),
      virtual_clock());
}

TYPED_TEST(EveryQueue, PlainThreadBlockingGetReceivesWhatATaskPuts) {
  weft::Runtime rt({.workers = 2});
  QueueOf<TypeParam> q(1);
  std::thread consumer([&] {
    for (int i = 0; i < 100; ++i) EXPECT_EQ(q.blocking_get(), i);
    EXPECT_THROW((void)q.blocking_get(), weft::QueueShutDown);
  });
  rt.block_on([](QueueOf<TypeParam>& q) -> weft::Task<void> {
    for (int i = 0; i < 100; ++i) co_await q.put(i);
  }(q));
  q.shutdown();
  consumer.join();
}

TYPED_TEST(EveryQueue, PlainThreadBlockingPutFeedsATask) {
  weft::Runtime rt({.workers = 2});
  QueueOf<TypeParam> q(1);
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) q.blocking_put(i);
    q.shutdown();
    EXPECT_THROW(q.blocking_put(-1), weft::QueueShutDown);
  });
  long sum = rt.block_on([](QueueOf<TypeParam>& q) -> weft::Task<long> {
    long sum = 0;
    try {
      for (;;) sum += co_await q.get();
    } catch (const weft::QueueShutDown&) {
    }
    co_return sum;
  }(q));
  producer.join();
  EXPECT_EQ(sum, 99 * 100 / 2);
}

TYPED_TEST(EveryQueueDeathTest, DestroyingAQueueThatATaskWaitsOnAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(weft::run(
                   []() -> weft::Task<void> {
                     auto q = std::make_unique<QueueOf<TypeParam>>();
                     int slot = -1;
                     std::atomic<int> arrived{0};
                     auto h = weft::spawn(get_into(*q, slot, arrived));
                     co_await settle(arrived, 1);
                     q.reset();
                   }(),
                   virtual_clock()),
               std::string(TypeParam::kQueueName) + " destroyed while 1 waiter");
}

// ---- one queue's own ----

TEST(Queue, GrowingTheRingKeepsTheItemsInOrder) {
  weft::Queue<std::string> q;  // unbounded: the ring doubles from 16 slots
  int next_out = 0;
  for (int i = 0; i < 3000; ++i) {
    q.put_nowait(std::to_string(i));
    if (i % 3 == 0) {
      EXPECT_EQ(q.get_nowait(), std::to_string(next_out++));
    }
  }
  EXPECT_EQ(q.qsize(), 3000u - next_out);
  while (!q.empty()) EXPECT_EQ(q.get_nowait(), std::to_string(next_out++));
  EXPECT_EQ(next_out, 3000);
}

// An item that records where it was last constructed: after a put, its slot in the ring.
struct WhereBuilt {
  explicit WhereBuilt(std::uint64_t v) noexcept : value(v) { last = this; }
  WhereBuilt(WhereBuilt&& o) noexcept : value(o.value) { last = this; }
  std::uint64_t value;
  static inline const WhereBuilt* last = nullptr;
};

/// Reads an item's value: the deliberate bug the test below expects ASan to report.
[[gnu::noinline]] std::uint64_t read_value(const WhereBuilt* item) {
  return *static_cast<const volatile std::uint64_t*>(&item->value);
}

TEST(QueueDeathTest, ReadingARingSlotAfterItsItemWasGotIsReportedUnderAsan) {
  if constexpr (!weft::detail::kAddressSanitized) {
    GTEST_SKIP() << "not an AddressSanitizer build: only ASan poisons the ring's empty slots";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        weft::Queue<WhereBuilt> q;
        q.put_nowait(WhereBuilt(7));
        const WhereBuilt* slot = WhereBuilt::last;
        if (q.get_nowait().value == 7) read_value(slot);
      },
      "use-after-poison");
}

TEST(PriorityQueue, ACompareObjectSetsTheOrder) {
  weft::PriorityQueue<std::string, std::greater<std::string>> q;
  q.put_nowait("a");
  q.put_nowait("c");
  q.put_nowait("b");
  EXPECT_EQ(q.get_nowait(), "c");
  EXPECT_EQ(q.get_nowait(), "b");
  EXPECT_EQ(q.get_nowait(), "a");
}

// ---- stress ----

struct Ledger {
  explicit Ledger(std::size_t n) : seen(n) {}
  std::vector<std::atomic<int>> seen;
  std::atomic<std::size_t> received{0};
  std::atomic<long> timeouts{0};
};

weft::Task<void> produce(weft::Queue<std::size_t>& q, std::size_t first, std::size_t n, Ledger& l,
                         unsigned seed) {
  std::mt19937 rng(seed);
  for (std::size_t i = first; i < first + n;) {
    try {
      co_await weft::wait_for(q.put(i), std::chrono::microseconds(rng() % 2000));
      ++i;
      if (rng() % 8 == 0) co_await weft::sleep(std::chrono::microseconds(rng() % 1500));
    } catch (const weft::TimeoutError&) {
      l.timeouts.fetch_add(1);  // not put: try again
    }
  }
}

weft::Task<void> consume(weft::Queue<std::size_t>& q, std::size_t total, Ledger& l, unsigned seed) {
  std::mt19937 rng(seed);
  while (l.received.load() < total) {
    try {
      std::size_t v = co_await weft::wait_for(q.get(), std::chrono::microseconds(rng() % 2000));
      l.seen[v].fetch_add(1);
      l.received.fetch_add(1);
      if (rng() % 8 == 0) co_await weft::sleep(std::chrono::microseconds(rng() % 1500));
    } catch (const weft::TimeoutError&) {
      l.timeouts.fetch_add(1);
    }
  }
}

// Gets items and records each in the ledger until the queue is shut down and drained.
weft::Task<void> consume_until_shut_down(weft::Queue<std::size_t>& q, Ledger& l) {
  try {
    for (;;) {
      l.seen[co_await q.get()].fetch_add(1);
      l.received.fetch_add(1);
    }
  } catch (const weft::QueueShutDown&) {
  }
}

TEST(QueueStress, ProducersAndConsumersWithRandomTimeoutsLoseNoItem) {
  constexpr int kProducers = 8;
  constexpr int kConsumers = 8;
  const std::size_t per_producer = weft::test::scaled(5000, 50);
  const std::size_t total = kProducers * per_producer;
  Ledger l(total);
  weft::run(
      [](Ledger& l, std::size_t per, std::size_t total) -> weft::Task<void> {
        weft::Queue<std::size_t> q(8);
        std::vector<weft::JoinHandle<void>> hs;
        for (int p = 0; p < kProducers; ++p)
          hs.push_back(weft::spawn(produce(q, p * per, per, l, 10u + p)));
        for (int c = 0; c < kConsumers; ++c)
          hs.push_back(weft::spawn(consume(q, total, l, 50u + c)));
        for (auto& h : hs) co_await h;
        EXPECT_TRUE(q.empty());
      }(l, per_producer, total),
      virtual_clock(4));
  EXPECT_EQ(l.received.load(), total);
  std::size_t wrong = 0;
  for (auto& s : l.seen) wrong += s.load() != 1;
  EXPECT_EQ(wrong, 0u) << "items not received exactly once";
}

// One consumer, so the order it sees is the queue's order: each producer's items must come in
// the order that producer put them, whichever workers the producers and the consumer run on
// (bounded, and unbounded so that the ring grows while both sides run).
void check_each_producer_in_order(std::size_t capacity) {
  constexpr int kProducers = 4;
  const std::size_t per_producer = weft::test::scaled(20000, 200);
  std::vector<std::size_t> next(kProducers, 0);
  std::size_t out_of_order = 0;
  weft::run(
      [](std::size_t capacity, std::size_t per, std::vector<std::size_t>& next,
         std::size_t& out_of_order) -> weft::Task<void> {
        weft::Queue<std::pair<int, std::size_t>> q(capacity);
        std::vector<weft::JoinHandle<void>> hs;
        for (int p = 0; p < kProducers; ++p) {
          hs.push_back(weft::spawn([](weft::Queue<std::pair<int, std::size_t>>& q, int p,
                                      std::size_t per) -> weft::Task<void> {
            for (std::size_t i = 0; i < per; ++i) co_await q.put({p, i});
          }(q, p, per)));
        }
        for (std::size_t n = 0; n < kProducers * per; ++n) {
          auto [p, i] = co_await q.get();
          if (i != next[p]) ++out_of_order;
          next[p] = i + 1;
        }
        for (auto& h : hs) co_await h;
        EXPECT_TRUE(q.empty());
      }(capacity, per_producer, next, out_of_order),
      {.workers = 4});
  EXPECT_EQ(out_of_order, 0u);
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], per_producer) << "producer " << p;
}

TEST(QueueStress, EachProducersItemsArriveInItsOrderBounded) {
  check_each_producer_in_order(16);
}
TEST(QueueStress, EachProducersItemsArriveInItsOrderUnbounded) {
  check_each_producer_in_order(0);
}

// Producers and consumers run while the queue is shut down under them: every put that
// returned is got exactly once (the getters drain the queue before they see QueueShutDown),
// and every put that threw put nothing.
TEST(QueueStress, ShutdownWhileBothSidesRunLosesNoItemThatWasPut) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 3;
  const std::size_t per_producer = weft::test::scaled(5000, 100);
  Ledger l(kProducers * per_producer);
  std::atomic<std::size_t> put_ok{0};
  weft::run(
      [](Ledger& l, std::atomic<std::size_t>& put_ok, std::size_t per) -> weft::Task<void> {
        weft::Queue<std::size_t> q(4);
        std::vector<weft::JoinHandle<void>> hs;
        for (int p = 0; p < kProducers; ++p) {
          hs.push_back(weft::spawn([](weft::Queue<std::size_t>& q, std::atomic<std::size_t>& put_ok,
                                      std::size_t first, std::size_t n) -> weft::Task<void> {
            try {
              for (std::size_t i = first; i < first + n; ++i) {
                co_await q.put(i);
                put_ok.fetch_add(1);
              }
            } catch (const weft::QueueShutDown&) {
            }
          }(q, put_ok, p * per, per)));
        }
        for (int c = 0; c < kConsumers; ++c) {
          hs.push_back(weft::spawn(consume_until_shut_down(q, l)));
        }
        // Shut down once about half of the items have gone through (bounded: the
        // producers finish long before the loop could run out).
        for (int i = 0; i < 1'000'000 && put_ok.load() < kProducers * per / 2; ++i) {
          co_await weft::yield_now();
        }
        q.shutdown();
        for (auto& h : hs) co_await h;
        EXPECT_TRUE(q.empty());
      }(l, put_ok, per_producer),
      {.workers = 4});
  EXPECT_EQ(l.received.load(), put_ok.load());
  std::size_t twice = 0;
  for (auto& s : l.seen) twice += s.load() > 1;
  EXPECT_EQ(twice, 0u) << "items received more than once";
}

TEST(QueueStress, PlainThreadsFeedingTasksDeliverEveryItemOnce) {
  constexpr int kThreads = 3;
  const std::size_t per_thread = weft::test::scaled(20000, 100);
  const std::size_t total = kThreads * per_thread;
  Ledger l(total);
  weft::Runtime rt({.workers = 2});
  weft::Queue<std::size_t> q(16);
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (std::size_t i = 0; i < per_thread; ++i) q.blocking_put(t * per_thread + i);
    });
  }
  std::thread plain_consumer([&] {
    try {
      for (;;) {
        l.seen[q.blocking_get()].fetch_add(1);
        l.received.fetch_add(1);
      }
    } catch (const weft::QueueShutDown&) {
    }
  });
  std::thread closer([&] {
    for (auto& p : producers) p.join();
    q.shutdown();
  });
  rt.block_on([](weft::Queue<std::size_t>& q, Ledger& l) -> weft::Task<void> {
    std::vector<weft::JoinHandle<void>> hs;
    for (int c = 0; c < 4; ++c) {
      hs.push_back(weft::spawn(consume_until_shut_down(q, l)));
    }
    for (auto& h : hs) co_await h;
  }(q, l));
  closer.join();
  plain_consumer.join();
  EXPECT_EQ(l.received.load(), total);
  std::size_t wrong = 0;
  for (auto& s : l.seen) wrong += s.load() != 1;
  EXPECT_EQ(wrong, 0u) << "items not received exactly once";
}

}  // namespace
