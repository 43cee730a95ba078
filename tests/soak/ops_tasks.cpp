// The soak's task operations: spawn and join, cancellation (running and not yet started
// tasks), detached tasks, timeouts, gather and gather_settled, wait, as_completed, TaskGroup,
// shield and sleeps.
//
// Every child is a `child()` with a plan (return, yield, sleep, sleep "for ever", fail
// deliberately...), so whoever awaits it knows what it may get: a value that must be
// value_of(tag), a SoakError that only a failing plan may raise, or CancelledError where
// the operation cancelled it. Children count themselves in a Running counter while their
// body runs; a structured combinator (gather, wait_for, TaskGroup) that returns while the
// counter is up has left a child running behind its caller's back (DESIGN invariant 7).
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "world.hpp"

namespace soak {
namespace {

enum class Plan { kReturn, kYield, kSleep, kForever, kFail, kSleepFail, kNested, kSwallow };

bool fails(Plan p) noexcept {
  return p == Plan::kFail || p == Plan::kSleepFail;
}

struct Child {
  std::uint64_t tag = 0;
  Plan plan = Plan::kReturn;
  Micros d{0};
  Origin origin = Origin::kChild;
};

std::uint64_t value_of(std::uint64_t tag) noexcept {
  return mix(tag ^ 0x50a4ULL);
}
/// What a kSwallow child returns after it caught its cancellation.
std::uint64_t swallowed_value(std::uint64_t tag) noexcept {
  return value_of(tag) + 1;
}

/// A random child: short plans only, failing ones when `may_fail`, kForever when
/// `may_hang` (the operation then cancels it or times it out).
Child random_child(Rng& rng, Origin origin, bool may_fail, bool may_hang) {
  Child c;
  c.tag = rng.next();
  c.origin = origin;
  c.d = rng.micros(0, 400);
  for (;;) {
    switch (rng.below(8)) {
      case 0:
        c.plan = Plan::kReturn;
        return c;
      case 1:
        c.plan = Plan::kYield;
        return c;
      case 2:
      case 3:
        c.plan = Plan::kSleep;
        return c;
      case 4:
        c.plan = Plan::kNested;
        return c;
      case 5:
        if (!may_fail) continue;
        c.plan = rng.one_in(2) ? Plan::kFail : Plan::kSleepFail;
        return c;
      default:
        if (!may_hang) continue;
        c.plan = Plan::kForever;
        return c;
    }
  }
}

weft::Task<std::uint64_t> child(Child c, std::atomic<int>* running);

/// kNested: awaits a grandchild of its own (sometimes before it started: join inlining).
weft::Task<std::uint64_t> nested(Child c) {
  Child g{mix(c.tag), Plan::kSleep, c.d / 2, Origin::kChild};
  if (c.tag & 1) g.plan = Plan::kReturn;
  weft::JoinHandle<std::uint64_t> h = go(child(g, nullptr), "grandchild");
  if (c.tag & 2) co_await weft::yield_now();
  std::uint64_t v = co_await h;
  if (v != value_of(g.tag)) fail("nested child: the grandchild returned a wrong value");
  co_return value_of(c.tag);
}

weft::Task<std::uint64_t> child(Child c, std::atomic<int>* running) {
  std::optional<Running> r;
  if (running) r.emplace(*running);
  switch (c.plan) {
    case Plan::kReturn:
      break;
    case Plan::kYield:
      for (std::uint64_t i = 0; i < (c.tag % 8); ++i) co_await weft::yield_now();
      break;
    case Plan::kSleep:
      co_await weft::sleep(c.d);
      break;
    case Plan::kForever:
      co_await weft::sleep(1h);
      fail("a child that sleeps for an hour woke up: it was never cancelled");
      break;
    case Plan::kFail:
      throw_deliberate(c.origin);
    case Plan::kSleepFail:
      co_await weft::sleep(c.d);
      throw_deliberate(c.origin);
    case Plan::kNested: {
      std::uint64_t v = co_await nested(c);
      co_return v;
    }
    case Plan::kSwallow: {
      bool caught = false;
      try {
        co_await weft::sleep(1h);
      } catch (const weft::CancelledError&) {
        caught = true;
      }
      if (!caught) fail("a child that sleeps for an hour woke up: it was never cancelled");
      co_return swallowed_value(c.tag);
    }
  }
  co_return value_of(c.tag);
}

/// Checks an awaited child's outcome against its plan. `may_cancel`: the operation
/// cancelled it (or its awaiter), so CancelledError is allowed.
void check(const Child& c, const Outcome& o, bool may_cancel, const char* where) {
  switch (o.how) {
    case Ended::kValue:
      if (fails(c.plan)) {
        fail(std::string(where) + ": a child planned to fail returned a value");
      } else if (c.plan == Plan::kForever) {
        fail(std::string(where) + ": a child that sleeps for an hour returned");
      } else if (o.value != value_of(c.tag) &&
                 !(c.plan == Plan::kSwallow && o.value == swallowed_value(c.tag))) {
        fail(std::string(where) + ": a child returned a wrong value");
      }
      return;
    case Ended::kDeliberate:
      if (!fails(c.plan))
        fail(std::string(where) + ": a child not planned to fail raised SoakError");
      return;
    case Ended::kCancelled:
      if (!may_cancel)
        fail(std::string(where) + ": a child nobody cancelled raised CancelledError");
      count(Ev::kCancelDelivered);
      return;
    case Ended::kOther:
      return;  // settle() reported it
  }
}

/// Fails if `running` children are still running after a structured combinator returned.
void check_none_running(const std::atomic<int>& running, const char* where) {
  if (int n = running.load()) {
    fail(std::string(where) + ": returned while " + std::to_string(n) +
         " of its children still ran (not structured)");
  }
}

/// Index order: forwards, backwards or shuffled.
std::vector<std::size_t> some_order(Rng& rng, std::size_t n) {
  std::vector<std::size_t> ix(n);
  for (std::size_t i = 0; i < n; ++i) ix[i] = i;
  switch (rng.below(3)) {
    case 0:
      break;
    case 1:
      std::reverse(ix.begin(), ix.end());
      break;
    default:
      for (std::size_t i = n; i > 1; --i) std::swap(ix[i - 1], ix[rng.below(i)]);
  }
  return ix;
}

// ---- spawn and join ---------------------------------------------------------------------

weft::Task<void> op_spawn_join(Rng& rng) {
  const std::size_t n = rng.in(1, 8);
  std::vector<Child> cs;
  std::vector<weft::JoinHandle<std::uint64_t>> hs;
  for (std::size_t i = 0; i < n; ++i) {
    cs.push_back(random_child(rng, Origin::kChild, rng.one_in(4), false));
    if (rng.one_in(8)) {
      // Spawned from a plain thread: the runtime's injection path.
      weft::Runtime* rt = world().rt;
      Child c = cs.back();
      auto job = [rt, c] {
        return rt->spawn(tracked(child(c, nullptr), Token(world().tasks), "injected child"),
                         "injected child");
      };
      weft::JoinHandle<std::uint64_t> h = co_await weft::to_thread(job);
      hs.push_back(std::move(h));
    } else {
      hs.push_back(go(child(cs.back(), nullptr), "spawn_join child"));
    }
    if (rng.one_in(4)) co_await weft::yield_now();
  }
  for (std::size_t i : some_order(rng, n)) {
    Outcome o = co_await settle(hs[i], "spawn_join");
    check(cs[i], o, false, "spawn_join");
  }
}

// ---- cancellation -----------------------------------------------------------------------

/// Cancels `*h` after `d` (from another task, maybe another worker).
weft::Task<void> cancel_later(weft::JoinHandle<std::uint64_t>* h, Micros d) {
  co_await weft::sleep(d);
  h->cancel();
}

weft::Task<void> op_cancel_running(Rng& rng) {
  Child c = random_child(rng, Origin::kChild, false, true);
  if (rng.one_in(3)) c.plan = rng.one_in(2) ? Plan::kForever : Plan::kSwallow;
  weft::JoinHandle<std::uint64_t> h = go(child(c, nullptr), "cancelled child");
  weft::JoinHandle<void> canceller;
  switch (rng.below(4)) {
    case 0:
      h.cancel();
      break;
    case 1:
      co_await weft::yield_now();
      h.cancel();
      break;
    case 2:
      co_await weft::sleep(rng.micros(0, 300));
      h.cancel();
      if (rng.one_in(2)) h.cancel();  // idempotent
      break;
    default:
      canceller = go(cancel_later(&h, rng.micros(0, 300)), "canceller");
      break;
  }
  Outcome o = co_await settle(h, "cancel_running");
  if (canceller) (void)co_await settle(canceller, "cancel_running canceller");
  if (o.how == Ended::kValue) count(Ev::kCancelTooLate);
  check(c, o, true, "cancel_running");
}

weft::Task<void> op_cancel_unstarted(Rng& rng) {
  const std::size_t n = rng.in(1, 6);
  std::vector<Child> cs;
  std::vector<weft::JoinHandle<std::uint64_t>> hs;
  for (std::size_t i = 0; i < n; ++i) {
    cs.push_back(random_child(rng, Origin::kChild, true, true));
    hs.push_back(go(child(cs.back(), nullptr), "cancelled-at-spawn child"));
    hs.back().cancel();
  }
  if (rng.one_in(3)) {
    hs.clear();  // detached as well: they end without anybody awaiting them
    co_return;
  }
  for (std::size_t i : some_order(rng, n)) {
    Outcome o = co_await settle(hs[i], "cancel_unstarted");
    check(cs[i], o, true, "cancel_unstarted");
  }
}

// ---- detached tasks ---------------------------------------------------------------------

weft::Task<void> op_detach(Rng& rng) {
  const std::size_t n = rng.in(1, 6);
  for (std::size_t i = 0; i < n; ++i) {
    Child c = random_child(rng, Origin::kDetached, true, false);
    weft::JoinHandle<std::uint64_t> h = go(child(c, nullptr), "detached child");
    if (rng.one_in(3)) co_await weft::yield_now();
  }  // each handle is dropped here: a failing child's error goes to the unobserved handler
}

// ---- timeouts ---------------------------------------------------------------------------

/// An inner scope with a long deadline inside an outer one with a short deadline: the
/// outer expiry must pass through as CancelledError, not become the inner TimeoutError.
weft::Task<void> inner_long_scope(Micros d) {
  try {
    co_await weft::wait_for(nap(1h), d);
  } catch (const weft::TimeoutError&) {
    fail("timeout: an inner scope turned the outer scope's expiry into its own TimeoutError");
    throw;
  }
  fail("timeout: a sleep of an hour inside two scopes returned");
}

/// An inner scope with a short deadline: it times out and handles it.
weft::Task<bool> inner_short_scope(Micros d) {
  try {
    co_await weft::wait_for(nap(1h), d);
  } catch (const weft::TimeoutError&) {
    co_return true;
  }
  co_return false;
}

/// Fails if a TimeoutError arrived before the deadline it was given.
void check_not_early(weft::TimePoint start, Micros d, const char* where) {
  if (weft::now() < start + d) fail(std::string(where) + ": TimeoutError before its deadline");
}

weft::Task<void> op_timeout(Rng& rng) {
  std::atomic<int> running{0};
  const Micros short_d = rng.micros(0, 2000);
  const Micros long_d = std::chrono::duration_cast<Micros>(20s);
  const weft::TimePoint start = weft::now();
  switch (rng.below(9)) {
    case 0: {  // a short deadline over a sleep of an hour: must time out, not early
      bool timed_out = false;
      try {
        co_await weft::wait_for(nap(1h), short_d);
      } catch (const weft::TimeoutError&) {
        timed_out = true;
      }
      if (!timed_out) fail("timeout: wait_for(sleep(1h), short) returned");
      check_not_early(start, short_d, "timeout: wait_for(sleep)");
      count(Ev::kTimeoutFired);
      break;
    }
    case 1: {  // a long deadline over short work: must not time out
      co_await weft::wait_for(nap(rng.micros(0, 300)), long_d);
      count(Ev::kTimeoutMet);
      break;
    }
    case 2: {  // a short deadline over a task: cancelled, and waited for, before TimeoutError
      Child c = random_child(rng, Origin::kChild, false, true);
      weft::JoinHandle<std::uint64_t> h = go(child(c, &running), "timed child");
      std::optional<std::uint64_t> v;
      try {
        v = co_await weft::wait_for(std::move(h), short_d);
      } catch (const weft::TimeoutError&) {
        count(Ev::kTimeoutFired);
        check_not_early(start, short_d, "timeout: wait_for(task)");
      }
      if (v) check(c, Outcome{Ended::kValue, *v}, false, "timeout: wait_for(task)");
      check_none_running(running, "timeout: wait_for(task)");
      break;
    }
    case 3: {  // nested scopes, the outer one expiring first
      bool timed_out = false;
      try {
        co_await weft::timeout(short_d, inner_long_scope(long_d));
      } catch (const weft::TimeoutError&) {
        timed_out = true;
      }
      if (!timed_out) fail("timeout: the outer of two nested scopes did not time out");
      count(Ev::kTimeoutFired);
      break;
    }
    case 4: {  // nested scopes, the inner one expiring (and handled) first
      bool inner = co_await weft::timeout(long_d, inner_short_scope(short_d));
      if (!inner) fail("timeout: an inner scope's sleep of an hour returned");
      count(Ev::kTimeoutFired);
      break;
    }
    case 5: {  // a deadline racing the body's own end: either outcome, nothing left running
      Child c{rng.next(), Plan::kSleep, short_d, Origin::kChild};
      weft::JoinHandle<std::uint64_t> h = go(child(c, &running), "racing child");
      std::optional<std::uint64_t> v;
      try {
        v = co_await weft::wait_for(std::move(h), short_d);
        count(Ev::kTimeoutMet);
      } catch (const weft::TimeoutError&) {
        count(Ev::kTimeoutFired);
      }
      if (v) check(c, Outcome{Ended::kValue, *v}, false, "timeout: race");
      check_none_running(running, "timeout: race");
      break;
    }
    case 6: {  // a timeout over a gather of tasks
      const std::size_t n = rng.in(1, 5);
      std::vector<Child> cs;
      std::vector<weft::JoinHandle<std::uint64_t>> hs;
      for (std::size_t i = 0; i < n; ++i) {
        cs.push_back(random_child(rng, Origin::kGather, false, rng.one_in(3)));
        hs.push_back(go(child(cs.back(), &running), "timed gather child"));
      }
      std::vector<std::uint64_t> vs;
      try {
        vs = co_await weft::timeout(short_d, weft::gather(std::move(hs)));
        count(Ev::kTimeoutMet);
      } catch (const weft::TimeoutError&) {
        count(Ev::kTimeoutFired);
      }
      for (std::size_t i = 0; i < vs.size(); ++i) {
        check(cs[i], Outcome{Ended::kValue, vs[i]}, false, "timeout: gather");
      }
      check_none_running(running, "timeout: gather");
      break;
    }
    case 7: {  // a deadline already passed
      bool timed_out = false;
      try {
        co_await weft::timeout_at(weft::now() - 1ms, nap(1h));
      } catch (const weft::TimeoutError&) {
        timed_out = true;
      }
      if (!timed_out) fail("timeout: timeout_at(a past deadline, sleep(1h)) returned");
      count(Ev::kTimeoutFired);
      break;
    }
    default: {  // a zero deadline over a yield: either outcome
      try {
        co_await weft::wait_for(nap(0us), 0us);
        count(Ev::kTimeoutMet);
      } catch (const weft::TimeoutError&) {
        count(Ev::kTimeoutFired);
      }
      break;
    }
  }
}

// ---- gather -----------------------------------------------------------------------------

/// Gathers `n` children that sleep for ever (the operation cancels this task).
weft::Task<void> gather_forever(std::size_t n, std::atomic<int>* running) {
  std::vector<weft::JoinHandle<std::uint64_t>> hs;
  for (std::size_t i = 0; i < n; ++i) {
    hs.push_back(
        go(child(Child{i, Plan::kForever, 0us, Origin::kGather}, running), "gather child"));
  }
  (void)co_await weft::gather(std::move(hs));
  fail("gather: children that sleep for an hour all returned");
}

weft::Task<void> short_void(Micros d) {
  co_await weft::sleep(d);
}

weft::Task<void> op_gather(Rng& rng) {
  std::atomic<int> running{0};
  const std::size_t n = rng.in(1, 6);
  switch (rng.below(5)) {
    case 0: {  // every child succeeds: the values in order
      std::vector<Child> cs;
      std::vector<weft::JoinHandle<std::uint64_t>> hs;
      for (std::size_t i = 0; i < n; ++i) {
        cs.push_back(random_child(rng, Origin::kGather, false, false));
        hs.push_back(go(child(cs.back(), &running), "gather child"));
      }
      std::vector<std::uint64_t> vs = co_await weft::gather(std::move(hs));
      if (vs.size() != n) fail("gather: wrong number of values");
      for (std::size_t i = 0; i < std::min(n, vs.size()); ++i) {
        check(cs[i], Outcome{Ended::kValue, vs[i]}, false, "gather");
      }
      break;
    }
    case 1: {  // one child fails: the others are cancelled and waited for, the error raised
      std::vector<weft::JoinHandle<std::uint64_t>> hs;
      const std::size_t bad = rng.below(n);
      for (std::size_t i = 0; i < n; ++i) {
        Child c = random_child(rng, Origin::kGather, false, true);
        if (i == bad) c.plan = rng.one_in(2) ? Plan::kFail : Plan::kSleepFail;
        hs.push_back(go(child(c, &running), "gather child"));
      }
      bool raised = false;
      try {
        (void)co_await weft::gather(std::move(hs));
      } catch (...) {
        raised = true;
        observe_current("gather with a failing child");
      }
      if (!raised) fail("gather: a failing child's error was not raised");
      break;
    }
    case 2: {  // gather_settled: every outcome, in order
      std::vector<Child> cs;
      std::vector<weft::JoinHandle<std::uint64_t>> hs;
      for (std::size_t i = 0; i < n; ++i) {
        cs.push_back(random_child(rng, Origin::kSettled, true, false));
        hs.push_back(go(child(cs.back(), &running), "gather_settled child"));
      }
      std::vector<weft::Settled<std::uint64_t>> rs = co_await weft::gather_settled(std::move(hs));
      if (rs.size() != n) fail("gather_settled: wrong number of results");
      for (std::size_t i = 0; i < std::min(n, rs.size()); ++i) {
        if (rs[i].ok()) {
          check(cs[i], Outcome{Ended::kValue, rs[i].value()}, false, "gather_settled");
          continue;
        }
        try {
          std::rethrow_exception(rs[i].error());
        } catch (...) {
          observe_current("gather_settled");
        }
        check(cs[i], Outcome{Ended::kDeliberate, 0}, false, "gather_settled");
      }
      break;
    }
    case 3: {  // the variadic form over a handle, a plain task and a handle
      Child a = random_child(rng, Origin::kGather, false, false);
      Child b = random_child(rng, Origin::kGather, false, false);
      weft::JoinHandle<std::uint64_t> ha = go(child(a, &running), "gather child");
      weft::JoinHandle<std::uint64_t> hb = go(child(b, &running), "gather child");
      auto [va, none, vb] =
          co_await weft::gather(std::move(ha), short_void(rng.micros(0, 200)), std::move(hb));
      (void)none;
      check(a, Outcome{Ended::kValue, va}, false, "gather(a, task, b)");
      check(b, Outcome{Ended::kValue, vb}, false, "gather(a, task, b)");
      break;
    }
    default: {  // the gathering task is cancelled: every child cancelled and waited for
      weft::JoinHandle<void> g = go(gather_forever(n, &running), "gathering task");
      co_await weft::sleep(rng.micros(0, 300));
      g.cancel();
      Ended e = co_await settle(g, "gather cancelled");
      if (e != Ended::kCancelled)
        fail("gather: a cancelled gather of endless children ended otherwise");
      break;
    }
  }
  check_none_running(running, "gather");
}

// ---- wait and as_completed --------------------------------------------------------------

weft::Task<void> op_wait(Rng& rng) {
  const std::size_t n = rng.in(1, 6);
  const bool any_forever = rng.one_in(4);
  std::map<std::uint64_t, Child> by_id;
  std::vector<weft::JoinHandle<std::uint64_t>> hs;
  for (std::size_t i = 0; i < n; ++i) {
    Child c = random_child(rng, Origin::kWait, true, false);
    if (any_forever && i == 0) c.plan = Plan::kForever;
    hs.push_back(go(child(c, nullptr), "wait child"));
    by_id[hs.back().info().id] = c;
  }
  const weft::ReturnWhen when =
      std::array{weft::ReturnWhen::FirstCompleted, weft::ReturnWhen::FirstException,
                 weft::ReturnWhen::AllCompleted}[rng.below(3)];
  // An endless child could be the only one: every wait with one needs a timeout.
  const bool with_timeout = any_forever || rng.one_in(3);
  weft::WaitSets<std::uint64_t> sets;
  if (with_timeout) {
    sets = co_await weft::wait(std::move(hs), when, rng.micros(0, 1000));
  } else {
    sets = co_await weft::wait(std::move(hs), when);
  }
  if (sets.done.size() + sets.pending.size() != n) fail("wait: handles lost in done/pending");
  if (!with_timeout && sets.done.empty()) fail("wait: returned without a timeout and nothing done");
  if (!with_timeout && when == weft::ReturnWhen::AllCompleted && !sets.pending.empty()) {
    fail("wait(AllCompleted): returned with tasks pending");
  }
  for (auto& h : sets.done) {
    if (!h.done()) fail("wait: a handle in `done` is not done");
    const Child c = by_id[h.info().id];
    Outcome o = co_await settle(h, "wait done");
    check(c, o, false, "wait done");
  }
  for (auto& h : sets.pending) {
    const Child c = by_id[h.info().id];
    const bool cancel = c.plan == Plan::kForever || rng.one_in(2);
    if (cancel) h.cancel();
    Outcome o = co_await settle(h, "wait pending");
    check(c, o, cancel, "wait pending");
  }
}

/// Keeps a handle as_completed yielded until the generator is gone, or drops it at once
/// (the generator must not touch a child whose handle is gone).
void keep_or_drop(Rng& rng, std::vector<weft::JoinHandle<std::uint64_t>>& kept,
                  weft::JoinHandle<std::uint64_t>& h) {
  if (rng.one_in(2)) kept.push_back(std::move(h));
}

weft::Task<void> op_as_completed(Rng& rng) {
  const std::size_t n = rng.in(0, 6);
  std::map<std::uint64_t, Child> by_id;
  std::vector<weft::JoinHandle<std::uint64_t>> hs;
  for (std::size_t i = 0; i < n; ++i) {
    Child c = random_child(rng, Origin::kAsCompleted, true, false);
    hs.push_back(go(child(c, nullptr), "as_completed child"));
    by_id[hs.back().info().id] = c;
  }
  std::vector<weft::JoinHandle<std::uint64_t>> kept;  // outlives the generator
  weft::AsyncGenerator<weft::JoinHandle<std::uint64_t>> gen = weft::as_completed(std::move(hs));
  std::size_t got = 0;
  for (;;) {
    std::optional<weft::JoinHandle<std::uint64_t>> h = co_await gen.next();
    if (!h) break;
    ++got;
    if (!h->done()) fail("as_completed: yielded a handle that is not done");
    const Child c = by_id[h->info().id];
    Outcome o = co_await settle(*h, "as_completed");
    check(c, o, false, "as_completed");
    keep_or_drop(rng, kept, *h);
  }
  if (got != n) fail("as_completed: yielded " + std::to_string(got) + " of " + std::to_string(n));
}

/// as_completed left early: yielded handles dropped unawaited, then the generator itself
/// dropped with handles still inside (those children end detached).
weft::Task<void> op_as_completed_drop(Rng& rng) {
  const std::size_t n = rng.in(1, 6);
  std::vector<weft::JoinHandle<std::uint64_t>> hs;
  for (std::size_t i = 0; i < n; ++i) {
    hs.push_back(go(child(random_child(rng, Origin::kAsCompleted, true, false), nullptr),
                    "as_completed child"));
  }
  std::vector<weft::JoinHandle<std::uint64_t>> kept;  // outlives the generator
  weft::AsyncGenerator<weft::JoinHandle<std::uint64_t>> gen = weft::as_completed(std::move(hs));
  const std::size_t take = rng.below(n);
  for (std::size_t i = 0; i < take; ++i) {
    std::optional<weft::JoinHandle<std::uint64_t>> h = co_await gen.next();
    if (!h) {
      fail("as_completed: ended early");
      break;
    }
    if (rng.one_in(2)) (void)co_await settle(*h, "as_completed (dropped early)");
    keep_or_drop(rng, kept, *h);
  }
}

// ---- TaskGroup --------------------------------------------------------------------------

/// A child that spawns another child into the same group.
weft::Task<std::uint64_t> group_spawner(weft::TaskGroup* tg, Child c, std::atomic<int>* running) {
  Running r(*running);
  (void)go_in(*tg, child(c, running), "group grandchild");
  co_return value_of(c.tag);
}

struct GroupPlan {
  std::vector<Child> children;
  bool body_fails = false;
  bool body_awaits = false;  // the body awaits its first child's handle (one that cannot
                             // fail: a failure is delivered to the group, and would be
                             // counted twice if the body took it too)
  Micros body_sleep{0};
};

weft::Task<void> run_group(GroupPlan* plan, std::atomic<int>* running) {
  co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
    std::vector<weft::JoinHandle<std::uint64_t>> hs;
    for (const Child& c : plan->children) {
      if (c.plan == Plan::kNested) {
        hs.push_back(go_in(tg,
                           group_spawner(&tg, Child{c.tag, Plan::kSleep, c.d, c.origin}, running),
                           "group spawner"));
      } else {
        hs.push_back(go_in(tg, child(c, running), "group child"));
      }
    }
    if (plan->body_awaits && !hs.empty()) {
      Outcome o = co_await settle(hs[0], "task_group body");
      check(plan->children[0], o, true, "task_group body");
      // The body's own cancellation (the group's, or the owner's) came through the join:
      // pass it on, or the group would wait for children nobody cancels.
      if (o.how == Ended::kCancelled) throw weft::CancelledError();
    }
    co_await weft::sleep(plan->body_sleep);
    if (plan->body_fails) throw_deliberate(Origin::kGroup);
  });
}

weft::Task<void> op_task_group(Rng& rng) {
  std::atomic<int> running{0};
  GroupPlan plan;
  const std::size_t n = rng.in(0, 6);
  const bool failing = rng.one_in(2);
  bool planned_fail = false;
  for (std::size_t i = 0; i < n; ++i) {
    Child c = random_child(rng, Origin::kGroup, failing, failing);
    planned_fail |= fails(c.plan);
    plan.children.push_back(c);
  }
  plan.body_fails = rng.one_in(8);
  // Not an endless child either: the body would never reach its own failure.
  plan.body_awaits = rng.one_in(3) && n > 0 && !fails(plan.children[0].plan) &&
                     plan.children[0].plan != Plan::kNested &&
                     plan.children[0].plan != Plan::kForever;
  plan.body_sleep = rng.micros(0, 300);
  planned_fail |= plan.body_fails;
  bool hangs = false;
  for (const Child& c : plan.children) hangs |= c.plan == Plan::kForever;
  // A group with an endless child and no failure to cancel it: cancel the group's task.
  const bool cancel = (hangs && !planned_fail) || rng.one_in(6);

  weft::JoinHandle<void> h = go(run_group(&plan, &running), "task_group owner");
  if (cancel) {
    co_await weft::sleep(rng.micros(0, 400));
    h.cancel();
  }
  std::size_t errors = 0;
  bool cancelled = false;
  try {
    co_await h;
  } catch (const weft::ExceptionGroup& g) {
    errors = g.exceptions().size();
    for (const auto& e : g.exceptions()) {
      try {
        std::rethrow_exception(e);
      } catch (...) {
        observe_current("task_group's ExceptionGroup");
      }
    }
  } catch (const weft::CancelledError&) {
    cancelled = true;
  }
  if (errors && !planned_fail) fail("task_group: raised an ExceptionGroup without a failing child");
  if (cancelled && !cancel) fail("task_group: raised CancelledError without being cancelled");
  if (!errors && !cancelled && planned_fail) {
    // A failing child may have been cancelled (by the group's first failure, or the owner's
    // cancellation) before it threw; then nothing failed. But the body's own failure is
    // always reported unless it was cancelled first.
    if (plan.body_fails && !cancel) fail("task_group: the body's error was not raised");
  }
  check_none_running(running, "task_group");
}

// ---- shield -----------------------------------------------------------------------------

struct ShieldState {
  weft::Event started;
  std::atomic<int> stage{0};  // 1: shielded work began, 2: it ended, 3: its result was seen
};

weft::Task<std::uint64_t> shielded_work(Micros d, ShieldState* st) {
  st->stage.store(1);
  co_await weft::sleep(d);
  st->stage.store(2);
  co_return 7;
}

weft::Task<std::uint64_t> shielding_child(Micros d, ShieldState* st) {
  st->started.set();
  std::uint64_t v = co_await weft::shield(shielded_work(d, st));
  if (v != 7) fail("shield: the shielded work's value was lost");
  st->stage.store(3);
  co_await weft::sleep(1h);  // the deferred cancellation ends this
  fail("shield: a cancelled task slept for an hour");
  co_return 0;
}

weft::Task<void> op_shield(Rng& rng) {
  ShieldState st;
  weft::JoinHandle<std::uint64_t> h =
      go(shielding_child(rng.micros(0, 1500), &st), "shielding child");
  co_await st.started.wait();
  if (rng.one_in(2)) co_await weft::sleep(rng.micros(0, 1500));
  h.cancel();
  Outcome o = co_await settle(h, "shield");
  if (o.how != Ended::kCancelled)
    fail("shield: the cancelled task did not end with CancelledError");
  if (st.stage.load() != 3) {
    fail("shield: the task was cancelled at stage " + std::to_string(st.stage.load()) +
         ": the shielded work did not finish, or its result was not delivered");
  }
}

// ---- sleeps -----------------------------------------------------------------------------

weft::Task<void> op_sleep(Rng& rng) {
  const std::size_t n = rng.in(1, 4);
  for (std::size_t i = 0; i < n; ++i) {
    const weft::TimePoint t0 = weft::now();
    const Micros d = rng.micros(0, 1500);
    switch (rng.below(4)) {
      case 0:
        co_await weft::yield_now();
        break;
      case 1:
        co_await weft::sleep_until(t0 + d);
        if (weft::now() < t0 + d) fail("sleep_until: woke before its deadline");
        break;
      default:
        co_await weft::sleep(d);
        if (weft::now() < t0 + d) fail("sleep: woke before its deadline");
        break;
    }
  }
}

}  // namespace

std::vector<OpKind> task_ops() {
  return {
      {"spawn_join", 10, &op_spawn_join},
      {"cancel_running", 8, &op_cancel_running},
      {"cancel_unstarted", 6, &op_cancel_unstarted},
      {"detach", 4, &op_detach},
      {"timeout", 10, &op_timeout},
      {"gather", 8, &op_gather},
      {"wait", 6, &op_wait},
      {"as_completed", 5, &op_as_completed},
      {"as_completed_drop", 2, &op_as_completed_drop},
      {"task_group", 7, &op_task_group},
      {"shield", 4, &op_shield},
      {"sleep", 3, &op_sleep},
  };
}

}  // namespace soak
