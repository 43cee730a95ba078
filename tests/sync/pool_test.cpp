// weft::Pool<T>: lending and returning, FIFO waiters, timeouts and cancellation that lose
// nothing, failing creates, checks, resets, lifetime and idle time on the virtual clock,
// min_size in the background, close, and every object accounted for under stress.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
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

// ---- a pooled object that counts itself ----

/// What the hooks did, and how the next creates should behave.
struct Tracker {
  std::atomic<int> created{0};
  std::atomic<int> destroyed{0};
  std::atomic<int> resets{0};
  std::atomic<int> checks{0};
  std::atomic<int> fail_next_creates{0};  // this many creates throw
  std::atomic<int> fail_every{0};         // every n-th create throws (0: never)
  std::atomic<int> attempts{0};           // creates counted for fail_every
  std::atomic<int> max_live{0};
  std::atomic<int> shared_use{0};  // a lease found its object in use by another
  // If set, the pool's size() is read as each object dies: it must still count the object.
  std::function<std::size_t()> slots;
  std::atomic<int> freed_before_destroyed{0};

  int live() const { return created.load() - destroyed.load(); }
};

/// A connection-like object: an id, a state the hooks look at, and a use counter that
/// tells whether two leases ever held it at once. Move-only; only the last owner counts
/// its destruction.
class Conn {
 public:
  explicit Conn(Tracker& t) : t_(&t), id_(t.created.fetch_add(1)) {
    int live = t.live();
    int mx = t.max_live.load();
    while (live > mx && !t.max_live.compare_exchange_weak(mx, live)) {
    }
  }
  Conn(Conn&& o) noexcept
      : dirty(o.dirty),
        broken(o.broken),
        healthy(o.healthy),
        t_(std::exchange(o.t_, nullptr)),
        id_(o.id_),
        users_(std::move(o.users_)) {}
  Conn& operator=(Conn&&) = delete;
  ~Conn() {
    if (!t_) return;
    if (t_->slots && t_->slots() < static_cast<std::size_t>(t_->live())) {
      t_->freed_before_destroyed.fetch_add(1);
    }
    t_->destroyed.fetch_add(1);
  }

  int id() const { return id_; }
  /// Marks the start and the end of a use; records a use that overlapped another.
  void enter() {
    if (users_->fetch_add(1) != 0) t_->shared_use.fetch_add(1);
  }
  void leave() { users_->fetch_sub(1); }

  bool dirty = false;   // the reset hook cleans it
  bool broken = false;  // the recycle hook discards it
  bool healthy = true;  // the check hook reports it

 private:
  Tracker* t_;
  int id_;
  std::unique_ptr<std::atomic<int>> users_ = std::make_unique<std::atomic<int>>(0);
};

weft::PoolHooks<Conn> plain_hooks(Tracker& t) {
  weft::PoolHooks<Conn> h;
  h.create = [&t]() -> weft::Task<Conn> {
    if (t.fail_next_creates.load() > 0 && t.fail_next_creates.fetch_sub(1) > 0) {
      throw std::runtime_error("connect: connection refused");
    }
    int n = t.fail_every.load();
    if (n > 0 && t.attempts.fetch_add(1) % n == n - 1) {
      throw std::runtime_error("connect: connection refused (every n-th)");
    }
    co_await weft::yield_now();  // a create that waits, as a connect would
    co_return Conn(t);
  };
  return h;
}

/// plain_hooks with a reset that cleans dirty objects (after an await, as a rollback would)
/// and a recycle that discards broken ones and resets only dirty ones.
weft::PoolHooks<Conn> resetting_hooks(Tracker& t) {
  weft::PoolHooks<Conn> h = plain_hooks(t);
  h.reset = [&t](Conn& c) -> weft::Task<void> {
    co_await weft::yield_now();
    if (c.broken) throw std::runtime_error("rollback: connection lost");
    c.dirty = false;
    t.resets.fetch_add(1);
  };
  h.recycle = [](Conn& c) {
    if (c.broken) return weft::Recycle::Discard;
    return c.dirty ? weft::Recycle::Reset : weft::Recycle::Keep;
  };
  return h;
}

/// plain_hooks with a check that reports the object's `healthy`.
weft::PoolHooks<Conn> checking_hooks(Tracker& t) {
  weft::PoolHooks<Conn> h = plain_hooks(t);
  h.check = [&t](Conn& c) -> weft::Task<bool> {
    t.checks.fetch_add(1);
    co_await weft::yield_now();
    co_return c.healthy;
  };
  return h;
}

weft::PoolOptions sized(std::size_t max_size, std::size_t min_size = 0) {
  weft::PoolOptions o;
  o.name = "test-pool";
  o.max_size = max_size;
  o.min_size = min_size;
  return o;
}

template <class E, class F>
void expect_error(F&& f, std::initializer_list<const char*> words) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    for (const char* w : words) {
      EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what() << " lacks " << w;
    }
  }
}

/// Acquires, records the object's id in `ids` (in the order the acquirers got theirs), holds
/// it over one yield, and returns it.
weft::Task<void> acquire_and_record(weft::Pool<Conn>& pool, std::vector<int>& ids,
                                    std::atomic<int>& arrived) {
  arrived.fetch_add(1);
  auto lease = co_await pool.acquire();
  ids.push_back(lease->id());
  co_await weft::yield_now();
}

/// Acquires and gives the id, or -1 for a PoolTimeout.
weft::Task<int> acquire_id(weft::Pool<Conn>& pool, std::atomic<int>& arrived,
                           std::chrono::milliseconds timeout = 0ms) {
  arrived.fetch_add(1);
  try {
    if (timeout > 0ms) {
      auto lease = co_await pool.acquire(timeout);
      co_return lease->id();
    }
    auto lease = co_await pool.acquire();
    co_return lease->id();
  } catch (const weft::PoolTimeout&) {
    co_return -1;
  }
}

weft::Task<weft::Pool<Conn>::Lease> acquire_lease(weft::Pool<Conn>& pool) {
  co_return co_await pool.acquire();
}

/// Yields until `done()` (bounded), for the pool's own tasks (resets, maintenance) to finish
/// what they started.
template <class F>
weft::Task<bool> yield_until(F done, int rounds = 10'000) {
  for (int i = 0; i < rounds; ++i) {
    if (done()) co_return true;
    co_await weft::yield_now();
  }
  co_return done();
}

// ---- options ----

TEST(Pool, BadOptionsThrowInvalidArgumentNamingThePoolAndTheOption) {
  Tracker t;
  auto make = [&](weft::PoolOptions o) { weft::Pool<Conn> p(plain_hooks(t), std::move(o)); };
  expect_error<std::invalid_argument>([&] { make(sized(0)); }, {"test-pool", "max_size is 0"});
  expect_error<std::invalid_argument>([&] { make(sized(2, 3)); },
                                      {"test-pool", "min_size 3", "max_size 2"});
  weft::PoolOptions o = sized(2);
  o.max_lifetime = 0s;
  expect_error<std::invalid_argument>([&] { make(o); }, {"test-pool", "max_lifetime"});
  o = sized(2);
  o.max_idle_time = -1s;
  expect_error<std::invalid_argument>([&] { make(o); }, {"test-pool", "max_idle_time"});
  o = sized(2);
  o.acquire_timeout = -1ms;
  expect_error<std::invalid_argument>([&] { make(o); }, {"test-pool", "acquire_timeout"});
  expect_error<std::invalid_argument>(
      [&] { weft::Pool<Conn> p(weft::PoolHooks<Conn>{}, sized(2)); }, {"test-pool", "create"});
  EXPECT_EQ(t.created.load(), 0);
}

// ---- lending and returning ----

TEST(Pool, AcquireCreatesAnObjectAndTheReturnedObjectIsLentAgain) {
  Tracker t;
  weft::run(
      [](Tracker& t) -> weft::Task<void> {
        weft::Pool<Conn> pool(plain_hooks(t), sized(4));
        int first = -1;
        {
          auto lease = co_await pool.acquire();
          first = lease->id();
          EXPECT_EQ(pool.size(), 1u);
          EXPECT_EQ(pool.in_use(), 1u);
          EXPECT_EQ(pool.idle(), 0u);
        }
        EXPECT_EQ(pool.in_use(), 0u);
        EXPECT_EQ(pool.idle(), 1u);
        auto again = co_await pool.acquire();
        EXPECT_EQ(again->id(), first);
        EXPECT_EQ((*again).id(), first);
        EXPECT_EQ(t.created.load(), 1);
      }(t),
      virtual_clock());
  EXPECT_EQ(t.destroyed.load(), 1);  // the pool's destruction closed it
}

TEST(Pool, HooksAndOptionsTakeDesignatedInitializers) {
  Tracker t;
  weft::run(
      [](Tracker& t) -> weft::Task<void> {
        weft::Pool<Conn> pool({.create = [&t]() -> weft::Task<Conn> { co_return Conn(t); },
                               .reset = [](Conn& c) -> weft::Task<void> {
                                 c.dirty = false;
                                 co_return;
                               }},
                              {.name = "db", .max_size = 1, .acquire_timeout = 5s});
        EXPECT_EQ(pool.options().name, "db");
        EXPECT_EQ(pool.options().max_size, 1u);
        {
          auto lease = co_await pool.acquire();
          lease->dirty = true;
        }
        auto lease = co_await pool.acquire();
        EXPECT_FALSE(lease->dirty);
        EXPECT_EQ(t.created.load(), 1);
      }(t),
      virtual_clock());
}

TEST(Pool, TheMostRecentlyReturnedIdleObjectIsLentFirst) {
  Tracker t;
  weft::run(
      [](Tracker& t) -> weft::Task<void> {
        weft::Pool<Conn> pool(plain_hooks(t), sized(4));
        auto a = co_await pool.acquire();
        auto b = co_await pool.acquire();
        int b_id = b->id();
        a.release();
        b.release();
        EXPECT_EQ(pool.idle(), 2u);
        auto c = co_await pool.acquire();
        EXPECT_EQ(c->id(), b_id);
      }(t),
      virtual_clock());
}

TEST(Pool, AnEmptyLeaseThrowsUsageErrorAndAMovedLeaseReturnsItsObjectOnce) {
  Tracker t;
  weft::run(
      [](Tracker& t) -> weft::Task<void> {
        weft::Pool<Conn> pool(plain_hooks(t), sized(2));
        auto a = co_await pool.acquire();
        int a_id = a->id();
        weft::Pool<Conn>::Lease moved = std::move(a);
        EXPECT_FALSE(a);
        EXPECT_TRUE(moved);
        EXPECT_EQ(moved->id(), a_id);
        expect_error<weft::UsageError>([&] { (void)a.get(); }, {"holds no object"});
        expect_error<weft::UsageError>([&] { a.release(); }, {"release", "holds no object"});
        expect_error<weft::UsageError>([&] { a.discard(); }, {"discard", "holds no object"});
        auto b = co_await pool.acquire();
        moved = std::move(b);  // returns a's object first
        EXPECT_EQ(pool.in_use(), 1u);
        EXPECT_EQ(pool.idle(), 1u);
        moved.release();
        EXPECT_FALSE(moved);
        EXPECT_EQ(pool.idle(), 2u);
        EXPECT_EQ(pool.size(), 2u);
      }(t),
      virtual_clock());
  EXPECT_EQ(t.created.load(), 2);
  EXPECT_EQ(t.destroyed.load(), 2);
}

TEST(Pool, AtMaxSizeAcquirersWaitAndAreServedInArrivalOrder) {
  std::vector<int> order = weft::run(
      []() -> weft::Task<std::vector<int>> {
        Tracker t;
        weft::Pool<Conn> pool(plain_hooks(t), sized(1));
        auto held = co_await pool.acquire();
        std::vector<int> ids;
        std::vector<int> order;
        std::atomic<int> arrived{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 5; ++i) {
          hs.push_back(
              weft::spawn([](weft::Pool<Conn>& pool, std::vector<int>& ids, std::vector<int>& order,
                             std::atomic<int>& arrived, int i) -> weft::Task<void> {
                co_await acquire_and_record(pool, ids, arrived);
                order.push_back(i);
              }(pool, ids, order, arrived, i)));
          co_await settle(arrived, i + 1);
        }
        EXPECT_EQ(pool.waiting(), 5u);
        bool timed_out = false;
        try {
          auto newcomer = co_await pool.acquire(1ms);  // waits behind the five
        } catch (const weft::PoolTimeout&) {
          timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_EQ(pool.waiting(), 5u);
        held.release();
        for (auto& h : hs) co_await h;
        EXPECT_EQ(t.created.load(), 1);  // one object, passed along
        EXPECT_EQ(ids, std::vector<int>(5, 0));
        co_return order;
      }(),
      virtual_clock());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

// ---- timeouts and cancellation lose nothing ----

TEST(Pool, AnAcquireThatTimesOutThrowsPoolTimeoutAndTheNextWaiterGetsTheObject) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::PoolOptions o = sized(1);
        o.acquire_timeout = 250ms;
        weft::Pool<Conn> pool(plain_hooks(t), o);
        auto held = co_await pool.acquire();
        std::atomic<int> arrived{0};
        auto a = weft::spawn(acquire_id(pool, arrived));  // the pool's 250 ms
        co_await settle(arrived, 1);
        auto b = weft::spawn(acquire_id(pool, arrived, 10'000ms));
        co_await settle(arrived, 2);
        EXPECT_EQ(co_await a, -1);
        EXPECT_EQ(pool.waiting(), 1u);
        std::string message;
        try {
          auto c = co_await pool.acquire(5ms);
        } catch (const weft::TimeoutError& e) {  // a PoolTimeout is a TimeoutError
          message = e.what();
        }
        for (const char* w : {"test-pool", "timed out", "5 ms", "max_size 1", "1 waiting"}) {
          EXPECT_NE(message.find(w), std::string::npos) << message << " lacks " << w;
        }
        int held_id = held->id();
        held.release();
        EXPECT_EQ(co_await b, held_id);
        EXPECT_EQ(pool.idle(), 1u);
        EXPECT_EQ(pool.waiting(), 0u);
        EXPECT_EQ(t.created.load(), 1);
      }(),
      virtual_clock());
}

TEST(Pool, ANegativeAcquireTimeoutThrowsInvalidArgument) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(plain_hooks(t), sized(1));
        EXPECT_THROW((void)pool.acquire(-1ms), std::invalid_argument);
        co_return;
      }(),
      virtual_clock());
}

TEST(Pool, ATimeoutAlsoBoundsASlowCreate) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::PoolHooks<Conn> h;
        h.create = [&t]() -> weft::Task<Conn> {
          co_await weft::sleep(1s);
          co_return Conn(t);
        };
        weft::Pool<Conn> pool(std::move(h), sized(1));
        EXPECT_THROW((void)co_await pool.acquire(100ms), weft::PoolTimeout);
        EXPECT_EQ(pool.size(), 0u);  // the slot was freed
        EXPECT_EQ(t.created.load(), 0);
      }(),
      virtual_clock());
}

TEST(Pool, ACancelledWaiterLosesItsPlaceAndTakesNoObject) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(plain_hooks(t), sized(1));
        auto held = co_await pool.acquire();
        std::atomic<int> arrived{0};
        auto a = weft::spawn(acquire_id(pool, arrived));
        co_await settle(arrived, 1);
        auto b = weft::spawn(acquire_id(pool, arrived));
        co_await settle(arrived, 2);
        a.cancel();
        EXPECT_THROW(co_await a, weft::CancelledError);
        EXPECT_EQ(pool.waiting(), 1u);
        held.release();
        EXPECT_EQ(co_await b, 0);
        EXPECT_EQ(pool.idle(), 1u);
        EXPECT_EQ(pool.in_use(), 0u);
      }(),
      virtual_clock());
}

/// Acquires, records the id, then awaits once more (where a pending cancellation lands).
weft::Task<void> acquire_then_yield(weft::Pool<Conn>& pool, std::atomic<int>& got,
                                    std::atomic<int>& arrived) {
  arrived.fetch_add(1);
  auto lease = co_await pool.acquire();
  got = lease->id();
  co_await weft::yield_now();
  got = -2;  // not reached: the cancellation is delivered at the yield
}

// The claim won: the waiter was handed the object before its cancel came. It keeps it, meets
// the cancellation at its next await, and its lease returns the object as it unwinds.
TEST(Pool, AWaiterCancelledJustAfterItWasHandedTheObjectReturnsItAtItsNextAwait) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(plain_hooks(t), sized(1));
        auto held = co_await pool.acquire();
        std::atomic<int> arrived{0};
        std::atomic<int> got{-1};
        auto b = weft::spawn(acquire_then_yield(pool, got, arrived));
        co_await settle(arrived, 1);
        held.release();  // claims b's wait and hands the object over
        b.cancel();      // b has not run yet (one worker)
        EXPECT_THROW(co_await b, weft::CancelledError);
        EXPECT_EQ(got.load(), 0);
        EXPECT_EQ(pool.idle(), 1u);
        EXPECT_EQ(pool.in_use(), 0u);
        EXPECT_EQ(t.created.load(), 1);
      }(),
      virtual_clock());
}

// ---- the hand-off racing a cancellation, held in the window with a hook ---------------
//
// A returning lease claims the first waiter under the pool's lock. A cancellation of that
// waiter in the same instant must win or lose as a whole: if it claims the wait first, the
// object goes to the idle list (never into the frame of a task that is unwinding). The hook
// holds the returning thread inside its claim (kClaim) while another thread cancels the
// waiter; the cancel takes the wait, then waits for the pool's lock; the claim goes on,
// fails, and the object must be idle.

namespace window {
std::atomic<int> phase{0};  // 1: armed; 2: the returner is held in its claim; 3: let it go
std::atomic<std::thread::id> returner{};

void hold_claim(weft::detail::HookPoint p) noexcept {
  if (p != weft::detail::HookPoint::kClaim || std::this_thread::get_id() != returner.load()) {
    return;
  }
  int armed = 1;
  if (!phase.compare_exchange_strong(armed, 2)) return;
  for (auto end = std::chrono::steady_clock::now() + 10s;
       phase.load() != 3 && std::chrono::steady_clock::now() < end;) {
    std::this_thread::yield();
  }
}

bool wait_until(std::chrono::steady_clock::time_point end, auto done) {
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}
}  // namespace window

weft::Task<int> acquire_and_hold(weft::Pool<Conn>& pool) {
  auto lease = co_await pool.acquire();
  co_return lease->id();
}

TEST(PoolWindow, AnObjectHandedToAWaiterCancelledInTheSameInstantGoesBackToThePool) {
  if (!weft::detail::kHooks) GTEST_SKIP() << "needs a build with WEFT_HOOKS (the sanitizers')";
  window::phase = 0;
  Tracker t;
  weft::Runtime rt({.workers = 2, .clock = weft::ClockKind::Real});
  weft::Pool<Conn> pool(plain_hooks(t), sized(1));
  weft::Pool<Conn>::Lease held = rt.block_on(acquire_lease(pool));
  const int held_id = held->id();
  weft::JoinHandle<int> waiter = rt.spawn(acquire_and_hold(pool));
  weft::detail::TaskHeader* w = weft::detail::HandleAccess::header(waiter);
  auto end = std::chrono::steady_clock::now() + 10s;
  ASSERT_TRUE(window::wait_until(end, [&] { return pool.waiting() == 1 && w->is_waiting(); }))
      << "the waiter never waited";

  weft::detail::set_hook(&window::hold_claim);
  std::thread returning([&] {
    window::returner = std::this_thread::get_id();
    window::phase = 1;
    held.release();  // claims the waiter under the pool's lock: held in the hook
  });
  ASSERT_TRUE(window::wait_until(end, [] { return window::phase.load() == 2; }));
  std::thread cancelling([&] { waiter.cancel(); });  // takes the wait, then waits for the lock
  ASSERT_TRUE(window::wait_until(end, [&] { return !w->is_waiting(); }));
  window::phase = 3;
  returning.join();
  cancelling.join();
  weft::detail::set_hook(nullptr);

  EXPECT_THROW(rt.block_on([](weft::JoinHandle<int>& h) -> weft::Task<int> {
    co_return co_await h;
  }(waiter)),
               weft::CancelledError);
  EXPECT_EQ(pool.idle(), 1u) << "the object went with the cancelled waiter";
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.waiting(), 0u);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(rt.block_on(acquire_and_hold(pool)), held_id);
  EXPECT_EQ(t.created.load(), 1);
}

// ---- creates that fail, objects that break ----

TEST(Pool, AFailedCreateReachesTheAcquirerAndFreesTheSlot) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(plain_hooks(t), sized(1));
        t.fail_next_creates = 1;
        std::string message;
        try {
          auto lease = co_await pool.acquire();
        } catch (const std::runtime_error& e) {
          message = e.what();
        }
        EXPECT_EQ(message, "connect: connection refused");
        EXPECT_EQ(pool.size(), 0u);
        auto lease = co_await pool.acquire();
        EXPECT_EQ(pool.size(), 1u);
      }(),
      virtual_clock());
}

TEST(Pool, ASlotFreedWhileAcquirersWaitGoesToTheFirstAndAFailedCreatePassesItOn) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(plain_hooks(t), sized(1));
        auto held = co_await pool.acquire();
        std::atomic<int> arrived{0};
        auto a = weft::spawn(acquire_id(pool, arrived));
        co_await settle(arrived, 1);
        auto b = weft::spawn(acquire_id(pool, arrived));
        co_await settle(arrived, 2);
        t.fail_next_creates = 1;
        held.discard();  // broken: destroyed, its slot goes to a, whose create fails
        EXPECT_EQ(t.destroyed.load(), 1);
        EXPECT_THROW(co_await a, std::runtime_error);
        EXPECT_EQ(co_await b, 1);  // b got the slot next and made object 1
        EXPECT_EQ(pool.size(), 1u);
        EXPECT_EQ(pool.idle(), 1u);
      }(),
      virtual_clock());
}

// ---- reset, recycle, check ----

TEST(Pool, AReturnedObjectIsResetInAPoolTaskBeforeItIsLentAgain) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(resetting_hooks(t), sized(1));
        {
          auto lease = co_await pool.acquire();
          lease->dirty = true;  // a transaction left open
        }
        // The reset runs in its own task: the object is neither idle nor lent meanwhile.
        EXPECT_EQ(pool.size(), 1u);
        EXPECT_EQ(pool.idle(), 0u);
        EXPECT_EQ(pool.in_use(), 0u);
        auto again = co_await pool.acquire();  // waits for the reset
        EXPECT_FALSE(again->dirty);
        EXPECT_EQ(t.resets.load(), 1);
        EXPECT_EQ(t.created.load(), 1);
        again->dirty = false;
      }(),
      virtual_clock());
}

TEST(Pool, TheRecycleHookKeepsResetsOrDiscardsAndAFailedResetDiscards) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(resetting_hooks(t), sized(2));
        {
          auto clean = co_await pool.acquire();  // Keep: back at once, no reset
        }
        EXPECT_EQ(pool.idle(), 1u);
        EXPECT_EQ(t.resets.load(), 0);
        {
          auto broken = co_await pool.acquire();
          broken->broken = true;  // Discard
        }
        EXPECT_EQ(t.destroyed.load(), 1);
        EXPECT_EQ(pool.size(), 0u);
        {
          auto lost = co_await pool.acquire();
          lost->dirty = true;
          lost->broken = false;
        }
        EXPECT_TRUE(co_await yield_until([&] { return pool.idle() == 1; }));
        EXPECT_EQ(t.resets.load(), 1);
        weft::PoolHooks<Conn> h = resetting_hooks(t);
        h.recycle = [](Conn& c) {
          if (c.dirty) throw std::logic_error("cannot tell");
          return weft::Recycle::Reset;  // the reset hook throws for broken objects
        };
        weft::Pool<Conn> other(std::move(h), sized(2));
        int before = t.destroyed.load();
        {
          auto a = co_await other.acquire();
          a->dirty = true;  // recycle throws: discarded
        }
        EXPECT_EQ(t.destroyed.load(), before + 1);
        {
          auto b = co_await other.acquire();
          b->broken = true;  // reset throws: discarded
        }
        EXPECT_TRUE(co_await yield_until([&] { return other.size() == 0; }));
        EXPECT_EQ(t.destroyed.load(), before + 2);
      }(),
      virtual_clock());
}

TEST(Pool, ALeaseThatNeedsAResetEndingOnAPlainThreadDiscardsItsObject) {
  Tracker t;
  weft::Runtime rt(virtual_clock());
  weft::Pool<Conn> pool(resetting_hooks(t), sized(2));
  weft::Pool<Conn>::Lease dirty = rt.block_on(acquire_lease(pool));
  weft::Pool<Conn>::Lease clean = rt.block_on(acquire_lease(pool));
  dirty->dirty = true;
  dirty.release();  // no task here to run the reset in: never handed out unreset
  clean.release();  // needs no reset: kept
  EXPECT_EQ(t.destroyed.load(), 1);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_EQ(t.resets.load(), 0);
}

TEST(Pool, AnIdleObjectIsCheckedBeforeItIsLentAndAFailedOneIsReplaced) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(checking_hooks(t), sized(2));
        int first = -1;
        {
          auto lease = co_await pool.acquire();  // new: not checked
          first = lease->id();
        }
        EXPECT_EQ(t.checks.load(), 0);
        {
          auto lease = co_await pool.acquire();  // from the idle ones: checked
          EXPECT_EQ(lease->id(), first);
          lease->healthy = false;
        }
        EXPECT_EQ(t.checks.load(), 1);
        auto lease = co_await pool.acquire();  // fails its check: replaced in the same slot
        EXPECT_EQ(t.checks.load(), 2);
        EXPECT_NE(lease->id(), first);
        EXPECT_EQ(t.destroyed.load(), 1);
        EXPECT_EQ(pool.size(), 1u);
      }(),
      virtual_clock());
}

TEST(Pool, OnlyObjectsIdleForCheckAfterIdleAreCheckedAndACheckThatThrowsFails) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::PoolHooks<Conn> h = checking_hooks(t);
        h.check = [&t](Conn& c) -> weft::Task<bool> {
          t.checks.fetch_add(1);
          co_await weft::yield_now();
          if (!c.healthy) throw std::runtime_error("ping: broken pipe");
          co_return true;
        };
        weft::PoolOptions o = sized(1);
        o.check_after_idle = 1s;
        weft::Pool<Conn> pool(std::move(h), o);
        { auto lease = co_await pool.acquire(); }
        { auto lease = co_await pool.acquire(); }  // idle for no time: not checked
        EXPECT_EQ(t.checks.load(), 0);
        {
          auto lease = co_await pool.acquire();
          lease->healthy = false;
        }
        co_await weft::sleep(2s);
        auto lease = co_await pool.acquire();
        EXPECT_EQ(t.checks.load(), 1);
        EXPECT_EQ(lease->id(), 1);  // the check threw: replaced
        EXPECT_EQ(t.destroyed.load(), 1);
      }(),
      virtual_clock());
}

TEST(Pool, ACancelledCheckDestroysTheObjectAndFreesTheSlot) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::PoolHooks<Conn> h = plain_hooks(t);
        h.check = [](Conn&) -> weft::Task<bool> {
          co_await weft::sleep(1s);
          co_return true;
        };
        weft::Pool<Conn> pool(std::move(h), sized(1));
        { auto lease = co_await pool.acquire(); }
        EXPECT_THROW((void)co_await pool.acquire(10ms), weft::PoolTimeout);
        EXPECT_EQ(t.destroyed.load(), 1);  // its state after a cut-off check is unknown
        EXPECT_EQ(pool.size(), 0u);
      }(),
      virtual_clock());
}

// ---- lifetime, idle time, min_size (virtual clock) ----

TEST(Pool, AnObjectPastItsLifetimeIsDestroyedWhenReturnedOrFoundIdle) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::PoolOptions o = sized(2);
        o.max_lifetime = 100ms;
        weft::Pool<Conn> pool(plain_hooks(t), o);
        {
          auto lease = co_await pool.acquire();
          co_await weft::sleep(150ms);
        }  // returned too old
        EXPECT_EQ(t.destroyed.load(), 1);
        EXPECT_EQ(pool.size(), 0u);
        {
          auto lease = co_await pool.acquire();
          EXPECT_EQ(lease->id(), 1);
        }
        EXPECT_EQ(pool.idle(), 1u);
        co_await weft::sleep(150ms);  // ages out while idle
        EXPECT_EQ(pool.size(), 0u);
        EXPECT_EQ(t.destroyed.load(), 2);
        auto lease = co_await pool.acquire();
        EXPECT_EQ(lease->id(), 2);
      }(),
      virtual_clock());
}

// max_size bounds the objects alive, not only the slots counted: an object's slot is freed
// only once it has been destroyed, whichever way it goes.
TEST(Pool, AnObjectIsDestroyedBeforeItsSlotIsFreed) {
  Tracker t;
  weft::run(
      [](Tracker& t) -> weft::Task<void> {
        weft::PoolOptions o = sized(2);
        o.max_lifetime = 100ms;
        weft::Pool<Conn> pool(plain_hooks(t), o);
        t.slots = [&pool] { return pool.size(); };
        {
          auto a = co_await pool.acquire();
          auto b = co_await pool.acquire();
        }
        co_await weft::sleep(150ms);  // both reaped, past their lifetime
        EXPECT_EQ(t.destroyed.load(), 2);
        auto c = co_await pool.acquire();
        c.discard();
        auto d = co_await pool.acquire();
        auto e = co_await pool.acquire();
        d.release();
        auto closing = weft::spawn([](weft::Pool<Conn>& pool) -> weft::Task<std::size_t> {
          co_return co_await pool.close();
        }(pool));
        co_await weft::yield_now();  // closed: the idle d is destroyed
        e.release();                 // comes back to a closed pool: destroyed
        EXPECT_EQ(co_await closing, 0u);
        EXPECT_EQ(t.destroyed.load(), 5);
        t.slots = nullptr;
      }(t),
      virtual_clock());
  EXPECT_EQ(t.freed_before_destroyed.load(), 0);
}

TEST(Pool, IdleObjectsBeyondMaxIdleTimeAreClosedDownToMinSize) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::PoolOptions o = sized(3, 1);
        o.max_idle_time = 100ms;
        weft::Pool<Conn> pool(plain_hooks(t), o);
        {
          auto a = co_await pool.acquire();
          auto b = co_await pool.acquire();
          auto c = co_await pool.acquire();
        }
        EXPECT_EQ(pool.idle(), 3u);
        co_await weft::sleep(50ms);
        EXPECT_EQ(pool.idle(), 3u);
        co_await weft::sleep(100ms);
        EXPECT_EQ(pool.size(), 1u);  // min_size keeps one
        EXPECT_EQ(pool.idle(), 1u);
        EXPECT_EQ(t.destroyed.load(), 2);
        co_await weft::sleep(1s);
        EXPECT_EQ(pool.size(), 1u);
        EXPECT_EQ(t.created.load(), 3);  // kept, not churned
      }(),
      virtual_clock());
}

TEST(Pool, MinSizeObjectsAreMadeInTheBackgroundAndReplacedWhenDiscarded) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(plain_hooks(t), sized(4, 2));
        co_await weft::sleep(1ms);
        EXPECT_EQ(pool.size(), 2u);
        EXPECT_EQ(pool.idle(), 2u);
        {
          auto lease = co_await pool.acquire();
          lease.discard();
        }
        co_await weft::sleep(1ms);
        EXPECT_EQ(pool.size(), 2u);
        EXPECT_EQ(t.created.load(), 3);
      }(),
      virtual_clock());
}

TEST(Pool, ABackgroundCreateThatFailsIsRetriedLaterNotAtOnce) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        t.fail_next_creates = 1;
        weft::Pool<Conn> pool(plain_hooks(t), sized(4, 1));
        co_await weft::sleep(500ms);
        EXPECT_EQ(pool.size(), 0u);
        EXPECT_EQ(t.fail_next_creates.load(), 0);
        co_await weft::sleep(1s);
        EXPECT_EQ(pool.size(), 1u);
      }(),
      virtual_clock());
}

TEST(Pool, APoolMadeOutsideARuntimeStartsItsMaintenanceAtTheFirstAcquire) {
  Tracker t;
  weft::PoolOptions o = sized(4, 2);
  auto pool = std::make_unique<weft::Pool<Conn>>(plain_hooks(t), o);
  weft::run(
      [](weft::Pool<Conn>& pool) -> weft::Task<void> {
        EXPECT_EQ(pool.size(), 0u);
        { auto lease = co_await pool.acquire(); }
        co_await weft::sleep(1ms);
        EXPECT_EQ(pool.size(), 2u);
        co_await pool.close();
      }(*pool),
      virtual_clock());
  pool.reset();
  EXPECT_EQ(t.created.load(), t.destroyed.load());
}

// ---- close ----

TEST(Pool, CloseFailsWaitersAndLaterAcquiresWithPoolClosedNamingThePool) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(plain_hooks(t), sized(1));
        auto held = co_await pool.acquire();
        std::atomic<int> arrived{0};
        auto a = weft::spawn(acquire_id(pool, arrived));
        co_await settle(arrived, 1);
        auto closing = weft::spawn([](weft::Pool<Conn>& pool) -> weft::Task<std::size_t> {
          co_return co_await pool.close();
        }(pool));
        co_await weft::yield_now();
        EXPECT_TRUE(pool.closed());
        std::string message;
        try {
          (void)co_await a;
        } catch (const weft::PoolClosed& e) {
          message = e.what();
        }
        EXPECT_NE(message.find("test-pool"), std::string::npos) << message;
        EXPECT_NE(message.find("closed"), std::string::npos) << message;
        EXPECT_THROW((void)co_await pool.acquire(), weft::PoolClosed);
        EXPECT_FALSE(closing.done());  // waits for the lease
        held.release();
        EXPECT_EQ(co_await closing, 0u);
        EXPECT_EQ(t.created.load(), 1);
        EXPECT_EQ(t.destroyed.load(), 1);
      }(),
      virtual_clock());
}

TEST(Pool, CloseDestroysIdleObjectsAndWaitsForLeasesOnlyUntilTheDeadline) {
  weft::run(
      []() -> weft::Task<void> {
        Tracker t;
        weft::Pool<Conn> pool(resetting_hooks(t), sized(3));
        auto a = co_await pool.acquire();
        auto b = co_await pool.acquire();
        { auto c = co_await pool.acquire(); }
        EXPECT_EQ(pool.idle(), 1u);
        auto returns_a = weft::spawn([](weft::Pool<Conn>::Lease a) -> weft::Task<void> {
          co_await weft::sleep(50ms);
          a->dirty = true;  // no reset on a closed pool: destroyed as it comes back
        }(std::move(a)));
        weft::TimePoint start = weft::now();
        EXPECT_EQ(co_await pool.close(start + 1s), 1u);  // b is still out
        EXPECT_GE(weft::now() - start, 1s);
        EXPECT_EQ(t.destroyed.load(), 2);  // c at once, a when it came back
        EXPECT_EQ(t.resets.load(), 0);
        co_await returns_a;
        b.release();
        EXPECT_EQ(t.destroyed.load(), 3);
        EXPECT_EQ(pool.size(), 0u);
        EXPECT_EQ(co_await pool.close(), 0u);  // again: nothing left
      }(),
      virtual_clock());
}

TEST(Pool, DestroyingThePoolFailsWaitersAndALeaseOutlivesIt) {
  Tracker t;
  weft::run(
      [](Tracker& t) -> weft::Task<void> {
        auto pool = std::make_unique<weft::Pool<Conn>>(plain_hooks(t), sized(1));
        auto held = co_await pool->acquire();
        std::atomic<int> arrived{0};
        auto a = weft::spawn(acquire_id(*pool, arrived));
        co_await settle(arrived, 1);
        pool.reset();
        EXPECT_THROW((void)co_await a, weft::PoolClosed);
        EXPECT_EQ(held->id(), 0);  // still usable
        EXPECT_EQ(t.destroyed.load(), 0);
        held.release();
        EXPECT_EQ(t.destroyed.load(), 1);
      }(t),
      virtual_clock());
}

// ---- stress: many tasks on two workers, four objects ----

struct Outcomes {
  std::atomic<long> used{0};
  std::atomic<long> timed_out{0};
  std::atomic<long> failed{0};
  std::atomic<long> cancelled{0};
};

weft::Task<void> hammer(weft::Pool<Conn>& pool, Outcomes& out, std::size_t n, unsigned seed,
                        std::atomic<int>& started) {
  started.fetch_add(1);
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    try {
      auto lease = co_await pool.acquire(std::chrono::microseconds(500 + rng() % 20'000));
      lease->enter();
      out.used.fetch_add(1);
      try {
        if (rng() % 2) {
          co_await weft::yield_now();
        } else {
          co_await weft::sleep(std::chrono::microseconds(rng() % 1500));
        }
      } catch (const weft::CancelledError&) {
        out.cancelled.fetch_add(1);  // the lease still goes back below
      }
      lease->leave();
      switch (rng() % 16) {
        case 0:
          lease.discard();
          break;
        case 1:
        case 2:
          lease->dirty = true;  // returned through a reset task
          break;
        case 3:
          lease->dirty = true;
          lease->broken = true;  // recycle discards it
          break;
        default:
          break;
      }
    } catch (const weft::PoolTimeout&) {
      out.timed_out.fetch_add(1);
    } catch (const weft::CancelledError&) {
      out.cancelled.fetch_add(1);
    } catch (const std::runtime_error&) {
      out.failed.fetch_add(1);  // a failed create
    }
  }
}

TEST(PoolStress, TasksOnTwoWorkersUseFourObjectsExclusivelyAndEveryObjectIsAccountedFor) {
  const std::size_t per_task = weft::test::scaled(200, 10);
  constexpr int kTasks = 32;
  Tracker t;
  t.fail_every = 7;
  Outcomes out;
  weft::run(
      [](Tracker& t, Outcomes& out, std::size_t n) -> weft::Task<void> {
        weft::PoolOptions o = sized(4, 1);
        o.max_lifetime = 20ms;
        weft::Pool<Conn> pool(resetting_hooks(t), o);
        std::vector<weft::JoinHandle<void>> hs;
        std::atomic<int> started{0};
        for (int i = 0; i < kTasks; ++i) {
          hs.push_back(weft::spawn(hammer(pool, out, n, 11u + static_cast<unsigned>(i), started)));
        }
        co_await settle(started, kTasks);
        std::mt19937 rng(3);
        for (int round = 0; round < 300; ++round) {
          hs[rng() % hs.size()].cancel();
          co_await weft::yield_now();
        }
        for (auto& h : hs) {
          try {
            co_await h;
          } catch (const weft::CancelledError&) {
            // cancelled before it started its loop
          }
        }
        // Resets and the maintenance task may still be finishing what they started.
        EXPECT_TRUE(co_await yield_until([&] { return pool.size() == pool.idle(); }));
        EXPECT_EQ(pool.in_use(), 0u);
        EXPECT_EQ(pool.waiting(), 0u);
        EXPECT_LE(pool.size(), 4u);
        EXPECT_EQ(t.created.load(), t.destroyed.load() + static_cast<int>(pool.idle()));
        EXPECT_EQ(co_await pool.close(), 0u);
      }(t, out, per_task),
      virtual_clock(2));
  EXPECT_EQ(t.shared_use.load(), 0) << "two leases held one object at once";
  EXPECT_LE(t.max_live.load(), 4) << "more objects alive than max_size";
  EXPECT_EQ(t.created.load(), t.destroyed.load());
  EXPECT_GT(out.used.load(), 0);
  EXPECT_GT(t.resets.load(), 0);
  EXPECT_GT(out.failed.load(), 0);  // creates failed, and their slots came back
}

}  // namespace
