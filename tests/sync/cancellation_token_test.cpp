// weft::CancellationToken: cancel and the tasks waiting for it, child tokens and what the
// tree keeps, run_until_cancelled, DropGuard, and cancel racing waiters, children, drops and
// the waiting tasks' own cancellation across workers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include "stress_scale.hpp"
#include "sync_test_util.hpp"

using namespace std::chrono_literals;
using weft::CancellationToken;
using weft::detail::linked_children;
using weft::test::settle;
using weft::test::virtual_clock;

namespace {

weft::Task<void> wait_for_cancel(CancellationToken token, std::atomic<int>& arrived,
                                 std::atomic<int>& woken) {
  arrived.fetch_add(1);
  co_await token.cancelled();
  woken.fetch_add(1);
}

TEST(CancellationToken, StartsNotCancelledAndCancelIsIdempotent) {
  CancellationToken token;
  EXPECT_FALSE(token.is_cancelled());
  token.cancel();
  EXPECT_TRUE(token.is_cancelled());
  token.cancel();
  EXPECT_TRUE(token.is_cancelled());
}

TEST(CancellationToken, CopiesShareOneToken) {
  CancellationToken a;
  CancellationToken b = a;
  CancellationToken c;
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == c);
  c = b;
  b.cancel();
  EXPECT_TRUE(a.is_cancelled());
  EXPECT_TRUE(c.is_cancelled());
}

TEST(CancellationToken, CancelledReturnsAtOnceOnACancelledToken) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        token.cancel();
        co_await token.cancelled();
        co_await token.cancelled();
      }(),
      virtual_clock());
}

TEST(CancellationToken, CancelWakesEveryWaiter) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        std::atomic<int> arrived{0}, woken{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 10; ++i)
          hs.push_back(weft::spawn(wait_for_cancel(token, arrived, woken)));
        co_await settle(arrived, 10);
        EXPECT_EQ(woken.load(), 0);
        token.cancel();
        for (auto& h : hs) co_await h;
        EXPECT_EQ(woken.load(), 10);
      }(),
      virtual_clock());
}

TEST(CancellationToken, CancelFromAPlainThreadOutsideTheRuntimeWakesTheWaiters) {
  weft::Runtime rt({.workers = 2});
  CancellationToken token;
  std::atomic<int> arrived{0}, woken{0};
  std::vector<weft::JoinHandle<void>> hs;
  for (int i = 0; i < 10; ++i) hs.push_back(rt.spawn(wait_for_cancel(token, arrived, woken)));
  while (arrived.load() < 10) {
    // every waiter has started (and is about to wait, or waits)
  }
  token.cancel();
  rt.block_on([](std::vector<weft::JoinHandle<void>>& hs) -> weft::Task<void> {
    for (auto& h : hs) co_await h;
  }(hs));
  EXPECT_EQ(woken.load(), 10);
}

TEST(CancellationToken, AWaiterWhoseTaskIsCancelledRaisesCancelledErrorAndTheOthersStillWake) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        std::atomic<int> arrived{0}, woken{0};
        auto a = weft::spawn(wait_for_cancel(token, arrived, woken));
        auto b = weft::spawn(wait_for_cancel(token, arrived, woken));
        auto c = weft::spawn(wait_for_cancel(token, arrived, woken));
        co_await settle(arrived, 3);
        b.cancel();
        EXPECT_THROW(co_await b, weft::CancelledError);
        EXPECT_FALSE(token.is_cancelled());  // the task was cancelled, not the token
        token.cancel();
        co_await a;
        co_await c;
        EXPECT_EQ(woken.load(), 2);
      }(),
      virtual_clock());
}

TEST(CancellationToken, WaitingUnderATimeoutRaisesTimeoutError) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        EXPECT_THROW(co_await weft::wait_for(token.cancelled(), 5ms), weft::TimeoutError);
        token.cancel();
        co_await weft::wait_for(token.cancelled(), 5ms);
      }(),
      virtual_clock());
}

TEST(CancellationToken, AwaitingCancelledOutsideATaskThrowsUsageError) {
  CancellationToken token;
  auto awaiter = token.cancelled();
  ASSERT_FALSE(awaiter.await_ready());
  try {
    (void)awaiter.await_suspend(std::noop_coroutine());
    ADD_FAILURE() << "no exception";
  } catch (const weft::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("outside a weft task"), std::string::npos) << e.what();
  }
}

TEST(CancellationToken, AnAwaiterKeepsItsTokenAliveAfterTheTokenObjectIsGone) {
  weft::run(
      []() -> weft::Task<void> {
        std::optional<CancellationToken> token(std::in_place);
        CancellationToken child = token->child_token();
        auto aw = token->cancelled();
        token.reset();  // the awaiter still refers to the token
        auto h = weft::spawn([](CancellationToken::CancelledAwaiter aw) -> weft::Task<void> {
          co_await std::move(aw);
        }(std::move(aw)));
        co_await weft::yield_now();
        EXPECT_FALSE(h.done());
        h.cancel();
        EXPECT_THROW(co_await h, weft::CancelledError);
        EXPECT_FALSE(child.is_cancelled());
      }(),
      virtual_clock());
}

TEST(CancellationToken, ADropGuardCancelsWhenItGoesUnlessDisarmed) {
  CancellationToken a;
  CancellationToken b;
  {
    auto guard = a.drop_guard();
    auto moved = std::move(guard);  // the moved-from guard no longer cancels
    EXPECT_FALSE(a.is_cancelled());
  }
  EXPECT_TRUE(a.is_cancelled());
  {
    auto guard = b.drop_guard();
    EXPECT_EQ(guard.disarm(), b);
  }
  EXPECT_FALSE(b.is_cancelled());
}

// ---- child tokens ----

TEST(CancellationToken, CancellingAParentCancelsItsChildrenAndGrandchildren) {
  CancellationToken root;
  CancellationToken a = root.child_token();
  CancellationToken b = root.child_token();
  CancellationToken a1 = a.child_token();
  CancellationToken a11 = a1.child_token();
  root.cancel();
  for (auto* t : {&a, &b, &a1, &a11}) EXPECT_TRUE(t->is_cancelled());
}

TEST(CancellationToken, CancellingAChildLeavesItsParentAndSiblings) {
  CancellationToken root;
  CancellationToken a = root.child_token();
  CancellationToken b = root.child_token();
  CancellationToken a1 = a.child_token();
  a.cancel();
  EXPECT_TRUE(a1.is_cancelled());
  EXPECT_FALSE(root.is_cancelled());
  EXPECT_FALSE(b.is_cancelled());
  EXPECT_EQ(linked_children(root), 1u);  // a left the tree as it was cancelled; b is there
  root.cancel();
  EXPECT_TRUE(b.is_cancelled());
}

TEST(CancellationToken, AChildOfACancelledTokenStartsCancelled) {
  CancellationToken root;
  root.cancel();
  CancellationToken child = root.child_token();
  EXPECT_TRUE(child.is_cancelled());
  EXPECT_TRUE(child.child_token().is_cancelled());
  EXPECT_EQ(linked_children(root), 0u);
}

TEST(CancellationToken, CancellingAParentWakesTasksWaitingOnItsDescendants) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken root;
        CancellationToken child = root.child_token();
        CancellationToken grandchild = child.child_token();
        std::atomic<int> arrived{0}, woken{0};
        auto a = weft::spawn(wait_for_cancel(child, arrived, woken));
        auto b = weft::spawn(wait_for_cancel(grandchild, arrived, woken));
        co_await settle(arrived, 2);
        root.cancel();
        co_await a;
        co_await b;
        EXPECT_EQ(woken.load(), 2);
      }(),
      virtual_clock());
}

TEST(CancellationToken, ChildrenThatComeAndGoLeaveNothingLinkedUnderTheParent) {
  CancellationToken root;
  CancellationToken kept = root.child_token();
  for (int i = 0; i < 100'000; ++i) {
    CancellationToken child = root.child_token();
    CancellationToken grandchild = child.child_token();
    CancellationToken copy = grandchild;
    EXPECT_EQ(linked_children(root), 2u) << "at " << i;
    if (i % 2) child.cancel();
  }
  EXPECT_EQ(linked_children(root), 1u);
  root.cancel();
  EXPECT_TRUE(kept.is_cancelled());
  EXPECT_EQ(linked_children(root), 0u);
}

TEST(CancellationToken, AChildOutlivingItsDroppedParentIsStillCancelledByTheGrandparent) {
  CancellationToken root;
  std::optional<CancellationToken> middle = root.child_token();
  CancellationToken leaf = middle->child_token();
  CancellationToken leaf2 = middle->child_token();
  middle.reset();  // the leaves are handed to root
  EXPECT_EQ(linked_children(root), 2u);
  root.cancel();
  EXPECT_TRUE(leaf.is_cancelled());
  EXPECT_TRUE(leaf2.is_cancelled());
}

TEST(CancellationToken, ReDerivingATokenInALoopKeepsOneLinkedToken) {
  CancellationToken root;
  CancellationToken t = root;
  for (int i = 0; i < 100'000; ++i) t = t.child_token();
  EXPECT_EQ(linked_children(root), 1u);
  root.cancel();
  EXPECT_TRUE(t.is_cancelled());
}

TEST(CancellationToken, AChainAHundredThousandDeepIsCancelledAndDroppedInBoundedStack) {
  std::vector<CancellationToken> chain;
  chain.reserve(100'001);
  chain.emplace_back();
  for (int i = 0; i < 100'000; ++i) chain.push_back(chain.back().child_token());
  chain.front().cancel();
  EXPECT_TRUE(chain.back().is_cancelled());
  std::vector<CancellationToken> live_chain;
  live_chain.reserve(100'001);
  live_chain.emplace_back();
  for (int i = 0; i < 100'000; ++i) live_chain.push_back(live_chain.back().child_token());
  live_chain.clear();  // from the root down, each token hands its child up
}

// ---- run_until_cancelled ----

weft::Task<int> value_after_yields(int v, int yields) {
  for (int i = 0; i < yields; ++i) co_await weft::yield_now();
  co_return v;
}

struct WorkLog {
  bool started = false;
  bool saw_cancel = false;
  bool ended = false;
};

weft::Task<int> sleep_an_hour(WorkLog& log) {
  log.started = true;
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    log.saw_cancel = true;
    log.ended = true;
    throw;
  }
  log.ended = true;
  co_return 1;
}

weft::Task<void> cancel_after(CancellationToken token, weft::Duration d) {
  co_await weft::sleep(d);
  token.cancel();
}

TEST(RunUntilCancelled, ReturnsTheValueWhenTheWorkFinishesFirst) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        std::optional<int> r = co_await token.run_until_cancelled(value_after_yields(5, 3));
        EXPECT_EQ(r, 5);
        token.cancel();  // after the scope closed: nothing is left to end
        co_await weft::yield_now();
      }(),
      virtual_clock());
}

TEST(RunUntilCancelled, WhenTheTokenFiresFirstCancelsAndAwaitsTheWorkAndGivesNullopt) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        WorkLog log;
        auto canceller = weft::spawn(cancel_after(token, 1s));
        std::optional<int> r = co_await token.run_until_cancelled(sleep_an_hour(log));
        EXPECT_EQ(r, std::nullopt);
        EXPECT_TRUE(log.saw_cancel);
        EXPECT_TRUE(log.ended);  // the work has finished before the result came back
        co_await canceller;
        co_await weft::yield_now();  // the scope's cancel does not linger in this task
      }(),
      virtual_clock());
}

TEST(RunUntilCancelled, OnACancelledTokenNeverStartsTheWork) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        token.cancel();
        WorkLog log;
        EXPECT_EQ(co_await token.run_until_cancelled(sleep_an_hour(log)), std::nullopt);
        EXPECT_FALSE(log.started);
      }(),
      virtual_clock());
}

weft::Task<void> nap(weft::Duration d) {
  co_await weft::sleep(d);
}

TEST(RunUntilCancelled, WorkReturningNothingGivesWhetherItFinished) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        EXPECT_TRUE(co_await token.run_until_cancelled(nap(1ms)));
        auto canceller = weft::spawn(cancel_after(token, 1s));
        EXPECT_FALSE(co_await token.run_until_cancelled(nap(1h)));
        co_await canceller;
      }(),
      virtual_clock());
}

weft::Task<int> catch_the_cancel() {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    co_return 7;
  }
  co_return 1;
}

TEST(RunUntilCancelled, WorkThatCatchesTheCancellationKeepsItsValue) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        auto canceller = weft::spawn(cancel_after(token, 1s));
        EXPECT_EQ(co_await token.run_until_cancelled(catch_the_cancel()), 7);
        co_await canceller;
      }(),
      virtual_clock());
}

weft::Task<int> cancel_own_token_then_sleep(CancellationToken token, WorkLog& log) {
  token.cancel();  // fires the scope this work runs in, from inside it
  co_return co_await sleep_an_hour(log);
}

TEST(RunUntilCancelled, WorkThatCancelsItsOwnTokenEndsAtItsNextAwait) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        WorkLog log;
        EXPECT_EQ(co_await token.run_until_cancelled(cancel_own_token_then_sleep(token, log)),
                  std::nullopt);
        EXPECT_TRUE(log.saw_cancel);
      }(),
      virtual_clock());
}

weft::Task<std::optional<int>> run_an_hour_until(CancellationToken token, WorkLog& log) {
  co_return co_await token.run_until_cancelled(sleep_an_hour(log));
}

TEST(RunUntilCancelled, ACancellationOfTheCallingTaskPassesThroughAsCancelledError) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        WorkLog log;
        auto h = weft::spawn(run_an_hour_until(token, log));
        co_await weft::sleep(1s);
        h.cancel();
        EXPECT_THROW(co_await h, weft::CancelledError);
        EXPECT_TRUE(log.saw_cancel);
        EXPECT_FALSE(token.is_cancelled());
      }(),
      virtual_clock());
}

TEST(RunUntilCancelled, ATimeoutAroundItStillRaisesTimeoutError) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        WorkLog log;
        EXPECT_THROW(co_await weft::wait_for(token.run_until_cancelled(sleep_an_hour(log)), 1s),
                     weft::TimeoutError);
        EXPECT_TRUE(log.saw_cancel);
        // And a token inside a timeout: the token's end is nullopt, not TimeoutError.
        auto canceller = weft::spawn(cancel_after(token, 1s));
        auto r = co_await weft::wait_for(token.run_until_cancelled(sleep_an_hour(log)), 1h);
        EXPECT_EQ(r, std::nullopt);
        co_await canceller;
      }(),
      virtual_clock());
}

TEST(RunUntilCancelled, UnderAChildTokenEndsWhenTheParentIsCancelled) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken root;
        CancellationToken child = root.child_token();
        WorkLog log;
        auto canceller = weft::spawn(cancel_after(root, 1s));
        EXPECT_EQ(co_await child.run_until_cancelled(sleep_an_hour(log)), std::nullopt);
        EXPECT_TRUE(log.saw_cancel);
        co_await canceller;
      }(),
      virtual_clock());
}

TEST(RunUntilCancelled, OnAJoinHandleCancelsTheSpawnedTaskAndWaitsForIt) {
  weft::run(
      []() -> weft::Task<void> {
        CancellationToken token;
        WorkLog log;
        auto h = weft::spawn(sleep_an_hour(log));
        auto canceller = weft::spawn(cancel_after(token, 1s));
        EXPECT_EQ(co_await token.run_until_cancelled(h), std::nullopt);
        EXPECT_TRUE(h.done());
        EXPECT_TRUE(log.saw_cancel);
        co_await canceller;
      }(),
      virtual_clock());
}

// ---- run_until_cancelled: work that finishes while the token's fire is in flight ----
//
// cancel() takes a scope off the token under the node's lock and fires it (requests the
// task's cancellation at the scope's depth) after releasing its locks. If the work finishes
// in between, the scope's close must wait for that fire to end: the scope lives in the
// frame the task frees next, and the request must not land after the scope is gone, on a
// depth the task's next scope would reuse. The hook holds the cancelling thread right before
// it fires while the work finishes; it lets it go once the closing task waits for it.

namespace window {
std::atomic<int> phase{0};  // 1: a fire is held; 2: the task waits for it, let it go

void hold_fire(weft::detail::HookPoint p) noexcept {
  if (p == weft::detail::HookPoint::kAckAwaited) {
    int held = 1;
    phase.compare_exchange_strong(held, 2);
    return;
  }
  if (p != weft::detail::HookPoint::kScopeFiring) return;
  int armed = 0;
  if (!phase.compare_exchange_strong(armed, 1)) return;
  for (auto end = std::chrono::steady_clock::now() + 10s;
       phase.load() != 2 && std::chrono::steady_clock::now() < end;) {
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

weft::Task<int> seven_once_set(weft::Event& go) {
  co_await go.wait();
  co_return 7;
}

weft::Task<int> run_seven_then_sleep(CancellationToken token, weft::Event& go,
                                     std::atomic<bool>& waiting) {
  waiting = true;
  std::optional<int> r = co_await token.run_until_cancelled(seven_once_set(go));
  co_await weft::sleep(1ms);  // no stale request from the scope's fire may end this
  co_return r.value_or(-1);
}

TEST(RunUntilCancelledWindow, WorkFinishingWhileTheFireIsInFlightKeepsItsValue) {
  if (!weft::detail::kHooks) GTEST_SKIP() << "needs a build with WEFT_HOOKS (the sanitizers')";
  using weft::detail::TaskHeader;
  window::phase = 0;
  weft::Runtime rt({.workers = 2, .clock = weft::ClockKind::Real});
  CancellationToken token;
  weft::Event go;
  std::atomic<bool> waiting{false};
  weft::JoinHandle<int> h = rt.spawn(run_seven_then_sleep(token, go, waiting));
  TaskHeader* t = weft::detail::HandleAccess::header(h);
  auto end = std::chrono::steady_clock::now() + 10s;
  ASSERT_TRUE(window::wait_until(end, [&] { return waiting.load() && t->is_waiting(); }))
      << "the work never waited";
  weft::detail::set_hook(&window::hold_fire);
  std::thread canceller([&] { token.cancel(); });
  ASSERT_TRUE(window::wait_until(end, [] { return window::phase.load() == 1; }));
  go.set();  // the work returns 7 while the fire is held
  canceller.join();
  weft::detail::set_hook(nullptr);
  EXPECT_EQ(window::phase.load(), 2) << "the closing scope did not wait for the fire";
  EXPECT_EQ(
      rt.block_on([](weft::JoinHandle<int>& h) -> weft::Task<int> { co_return co_await h; }(h)), 7);
}

// ---- stress: cancel racing waiters, children, drops and task cancellation ----

weft::Task<void> join_all(std::vector<weft::JoinHandle<void>>& hs) {
  for (auto& h : hs) co_await h;
}

// Waiters on four workers race the token's cancel from a plain thread: some link before
// the flag is set, some see it set; each is woken exactly once.
TEST(CancellationTokenStress, CancelFromAPlainThreadRacingWaitersWakesEveryOne) {
  const std::size_t rounds = weft::test::scaled(200, 5);
  constexpr int kWaiters = 20;
  weft::Runtime rt({.workers = 4});
  std::atomic<int> arrived{0}, woken{0};
  for (std::size_t r = 0; r < rounds; ++r) {
    CancellationToken token;
    CancellationToken child = token.child_token();
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < kWaiters; ++i) {
      hs.push_back(rt.spawn(wait_for_cancel(i % 2 ? child : token, arrived, woken)));
    }
    token.cancel();
    rt.block_on(join_all(hs));
  }
  EXPECT_EQ(woken.load(), static_cast<int>(rounds) * kWaiters);
}

weft::Task<void> make_children(CancellationToken root, std::vector<CancellationToken>& out,
                               std::atomic<int>& made) {
  // Keep making children until the root is seen cancelled, then a few more. Once the root
  // is seen cancelled, the child made just before is cancelled too (flags are set from the
  // leaves up), and every child made after is cancelled at once.
  int after = 0;
  while (after < 20) {
    CancellationToken child = root.child_token();
    out.push_back(child.child_token());
    out.push_back(child);
    made.fetch_add(1);
    if (root.is_cancelled()) {
      EXPECT_TRUE(out[out.size() - 2].is_cancelled());  // the grandchild
      EXPECT_TRUE(child.is_cancelled());
      ++after;
    }
    if (made.load() % 16 == 0) co_await weft::yield_now();
  }
}

TEST(CancellationTokenStress, ChildrenMadeOnManyWorkersWhileTheParentIsCancelledAreAllCancelled) {
  const std::size_t rounds = weft::test::scaled(50, 3);
  constexpr int kMakers = 4;
  weft::Runtime rt({.workers = 4});
  for (std::size_t r = 0; r < rounds; ++r) {
    CancellationToken root;
    std::vector<std::vector<CancellationToken>> made_by(kMakers);
    std::atomic<int> made{0};
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < kMakers; ++i) hs.push_back(rt.spawn(make_children(root, made_by[i], made)));
    while (made.load() < 50) {
      // the makers are running
    }
    root.cancel();
    rt.block_on(join_all(hs));
    for (auto& v : made_by) {
      for (auto& t : v) ASSERT_TRUE(t.is_cancelled());
    }
    EXPECT_EQ(linked_children(root), 0u);
  }
}

weft::Task<void> churn_children(CancellationToken root, std::size_t n, std::atomic<int>& waited) {
  for (std::size_t i = 0; i < n; ++i) {
    CancellationToken child = root.child_token();
    CancellationToken grandchild = child.child_token();
    if (i % 8 == 0) {
      // A waiter on the grandchild, woken by the root's cancel or dropped at once.
      auto h = weft::spawn([](CancellationToken t, std::atomic<int>& waited) -> weft::Task<void> {
        co_await t.cancelled();
        waited.fetch_add(1);
      }(grandchild, waited));
      if (root.is_cancelled())
        co_await h;
      else
        h.cancel();
    }
    if (i % 4 == 0) co_await weft::yield_now();
  }
}

// Children come and go on four workers while a plain thread cancels their parent: the walk
// meets nodes that are leaving the tree at that moment. Nothing is left linked, nothing is
// freed under the walk (ASan, TSan).
TEST(CancellationTokenStress, ChildrenDroppedOnManyWorkersWhileTheParentIsCancelledLeaveNothing) {
  const std::size_t rounds = weft::test::scaled(40, 3);
  const std::size_t per_task = weft::test::scaled(2'000, 100);
  weft::Runtime rt({.workers = 4});
  std::atomic<int> waited{0};
  for (std::size_t r = 0; r < rounds; ++r) {
    CancellationToken root;
    CancellationToken keeper = root.child_token();
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < 4; ++i) hs.push_back(rt.spawn(churn_children(root, per_task, waited)));
    root.cancel();
    rt.block_on(join_all(hs));
    EXPECT_TRUE(keeper.is_cancelled());
    EXPECT_EQ(linked_children(root), 0u);
  }
}

// Tasks wait on a token while one plain thread cancels the token and another cancels the
// tasks: each wait ends exactly once, by the token (normal return) or by the task's
// cancellation (CancelledError), never both and never neither.
TEST(CancellationTokenStress, WaitersCancelledAsTheTokenFiresEndExactlyOnce) {
  const std::size_t rounds = weft::test::scaled(100, 5);
  constexpr int kWaiters = 32;
  weft::Runtime rt({.workers = 4});
  for (std::size_t r = 0; r < rounds; ++r) {
    CancellationToken token;
    std::atomic<int> arrived{0}, woken{0};
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < kWaiters; ++i)
      hs.push_back(rt.spawn(wait_for_cancel(token, arrived, woken)));
    while (arrived.load() < kWaiters / 2) {
      // half of them wait (or are about to)
    }
    std::thread canceller([&] { token.cancel(); });
    for (int i = 0; i < kWaiters; i += 2) hs[static_cast<std::size_t>(i)].cancel();
    canceller.join();
    int cancelled = rt.block_on([](std::vector<weft::JoinHandle<void>>& hs) -> weft::Task<int> {
      int n = 0;
      for (auto& h : hs) {
        try {
          co_await h;
        } catch (const weft::CancelledError&) {
          ++n;
        }
      }
      co_return n;
    }(hs));
    EXPECT_EQ(woken.load() + cancelled, kWaiters);
  }
}

weft::Task<int> count_yields(int n, std::atomic<int>& started, std::atomic<int>& body_cancelled) {
  started.fetch_add(1);
  try {
    for (int i = 0; i < n; ++i) co_await weft::yield_now();
  } catch (const weft::CancelledError&) {
    body_cancelled.fetch_add(1);
    throw;
  }
  co_return n;
}

struct ScopeCounts {
  std::atomic<int> values{0}, nullopts{0}, started{0}, body_cancelled{0};
};

weft::Task<void> run_counting(CancellationToken token, int n, ScopeCounts& c) {
  std::optional<int> r =
      co_await token.run_until_cancelled(count_yields(n, c.started, c.body_cancelled));
  (r ? c.values : c.nullopts).fetch_add(1);
}

// run_until_cancelled scopes on four workers race the token's cancel from a plain thread:
// each gives the work's value or nullopt, and nullopt exactly when the work was ended or,
// the token being cancelled already, never started.
TEST(CancellationTokenStress, RunUntilCancelledRacingTheTokenEndsEveryScopeOnce) {
  const std::size_t rounds = weft::test::scaled(100, 5);
  constexpr int kScopes = 32;
  weft::Runtime rt({.workers = 4});
  ScopeCounts c;
  for (std::size_t r = 0; r < rounds; ++r) {
    CancellationToken token;
    CancellationToken child = token.child_token();
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < kScopes; ++i) {
      hs.push_back(rt.spawn(run_counting(i % 2 ? child : token, i * 3, c)));
    }
    token.cancel();
    rt.block_on(join_all(hs));
  }
  const int total = static_cast<int>(rounds) * kScopes;
  EXPECT_EQ(c.values.load() + c.nullopts.load(), total);
  EXPECT_EQ(c.nullopts.load(), c.body_cancelled.load() + (total - c.started.load()));
}

// One cancel wakes ten thousand tasks, each waiting on its own child of the root.
TEST(CancellationTokenStress, OneCancelWakesTenThousandWaitersOnTheirOwnChildren) {
  const int n = static_cast<int>(weft::test::scaled(10'000, 100));
  weft::Runtime rt({.workers = 4});
  CancellationToken root;
  std::atomic<int> arrived{0}, woken{0};
  std::vector<weft::JoinHandle<void>> hs;
  for (int i = 0; i < n; ++i)
    hs.push_back(rt.spawn(wait_for_cancel(root.child_token(), arrived, woken)));
  while (arrived.load() < n) {
    // every waiter has started
  }
  EXPECT_EQ(linked_children(root), static_cast<std::size_t>(n));
  root.cancel();
  rt.block_on(join_all(hs));
  EXPECT_EQ(woken.load(), n);
  EXPECT_EQ(linked_children(root), 0u);
}

}  // namespace
