// The scheduler's decisions, fed the values a worker would read (runtime/src/scheduler/):
// what a worker runs next (next_task.hpp), what a searcher makes of another worker's poll
// (watch.hpp), and how long a parking worker sleeps (park.hpp). No runtime runs here: each
// test hands the decision its ticks, clock readings and queue contents, so none waits.
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "scheduler/next_task.hpp"
#include "scheduler/park.hpp"
#include "scheduler/watch.hpp"

namespace {

using weft::detail::kEventInterval;
using weft::detail::kLongPollNs;
using weft::detail::kMaxLifoStreak;
using weft::detail::kNoPoll;
using weft::detail::kWatchMs;
using weft::detail::look_at_poll;
using weft::detail::ParkTimeout;
using weft::detail::pick_next_task;
using weft::detail::PollLook;
using weft::detail::RunOrder;
using weft::detail::SeenPoll;

// ---------------------------------------------------------------------------------------
// What a worker runs next

/// A worker's sources as plain containers. Tasks are positive ints; 0 is "none".
struct Sources {
  std::deque<int> inject;
  std::deque<int> local;
  int lifo = 0;
  int maintenance_passes = 0;
  int batches = 0;
  static constexpr std::size_t kBatch = 32;  // Worker::pop_inject_batch's

  void maintenance() noexcept { ++maintenance_passes; }
  int pop_inject_one() noexcept { return pop(inject); }
  bool lifo_occupied() const noexcept { return lifo != 0; }
  int take_lifo() noexcept { return std::exchange(lifo, 0); }
  void push_back(int t) { local.push_back(t); }
  int pop_local() noexcept { return pop(local); }
  int pop_inject_batch() {
    ++batches;
    const int first = pop(inject);
    for (std::size_t i = 1; i < kBatch && !inject.empty(); ++i) local.push_back(pop(inject));
    return first;
  }

  static int pop(std::deque<int>& q) {
    if (q.empty()) return 0;
    const int t = q.front();
    q.pop_front();
    return t;
  }
};

/// Runs ticks until the one before an event tick, with nothing to run.
void skip_to_before_event_tick(Sources& s, RunOrder& order) {
  while ((order.tick + 1) % kEventInterval != 0) ASSERT_EQ(pick_next_task(s, order), 0);
}

TEST(NextTask, AWorkerWithNothingAnywhereFindsNothing) {
  Sources s;
  RunOrder order;
  EXPECT_EQ(pick_next_task(s, order), 0);
  EXPECT_EQ(order.tick, 1u);
  EXPECT_EQ(s.maintenance_passes, 0);
}

TEST(NextTask, TheLifoSlotRunsBeforeTheLocalQueue) {
  Sources s;
  RunOrder order;
  s.local = {1, 2};
  s.lifo = 9;
  EXPECT_EQ(pick_next_task(s, order), 9);
  EXPECT_EQ(order.lifo_streak, 1u);
  EXPECT_EQ(pick_next_task(s, order), 1);
  EXPECT_EQ(order.lifo_streak, 0u) << "a turn of the local queue ends the streak";
  EXPECT_EQ(pick_next_task(s, order), 2);
}

TEST(NextTask, TheLifoSlotRunsAtMostMaxLifoStreakTimesInARowThenGoesToTheBackOfTheLine) {
  Sources s;
  RunOrder order;
  s.local = {1, 2};
  // A ping-pong pair: every task run wakes the other into the LIFO slot.
  for (unsigned i = 0; i < kMaxLifoStreak; ++i) {
    s.lifo = 100 + static_cast<int>(i);
    ASSERT_EQ(pick_next_task(s, order), 100 + static_cast<int>(i)) << "LIFO run " << i;
  }
  s.lifo = 200;
  EXPECT_EQ(pick_next_task(s, order), 1) << "the local queue gets its turn";
  EXPECT_EQ(s.lifo, 0);
  EXPECT_EQ(s.local, (std::deque<int>{2, 200})) << "the LIFO task went to the back";
  EXPECT_EQ(order.lifo_streak, 0u);
  s.lifo = 300;
  EXPECT_EQ(pick_next_task(s, order), 300) << "after the turn, the LIFO slot runs first again";
}

TEST(NextTask, AnEmptyLifoSlotAtTheStreakLimitLeavesTheLocalQueueInOrder) {
  Sources s;
  RunOrder order{.tick = 0, .lifo_streak = kMaxLifoStreak};
  s.local = {1, 2};
  EXPECT_EQ(pick_next_task(s, order), 1);
  EXPECT_EQ(s.local, (std::deque<int>{2}));
}

TEST(NextTask, TheLocalQueueRunsBeforeTheInjectionQueue) {
  Sources s;
  RunOrder order;
  s.local = {1};
  s.inject = {7};
  EXPECT_EQ(pick_next_task(s, order), 1);
  EXPECT_EQ(s.batches, 0) << "no batch is taken while the local queue has a task";
  EXPECT_EQ(pick_next_task(s, order), 7);
  EXPECT_EQ(s.batches, 1);
}

TEST(NextTask, AnInjectionBatchRunsItsFirstTaskAndQueuesTheRestLocally) {
  Sources s;
  RunOrder order;
  s.inject = {7, 8, 9};
  EXPECT_EQ(pick_next_task(s, order), 7);
  EXPECT_EQ(s.local, (std::deque<int>{8, 9}));
  EXPECT_EQ(pick_next_task(s, order), 8) << "the rest run from the local queue";
  EXPECT_EQ(s.batches, 1);
}

TEST(NextTask, EveryEventIntervalthTickTakesOneInjectedTaskBeforeTheLifoSlotAndTheLocalQueue) {
  Sources s;
  RunOrder order;
  skip_to_before_event_tick(s, order);
  EXPECT_EQ(s.maintenance_passes, 0) << "no maintenance before the event tick";
  s.batches = 0;
  s.lifo = 9;
  s.local = {1};
  s.inject = {7, 8};
  EXPECT_EQ(pick_next_task(s, order), 7);
  EXPECT_EQ(order.tick, kEventInterval);
  EXPECT_EQ(s.maintenance_passes, 1) << "the event tick runs a maintenance pass";
  EXPECT_EQ(s.batches, 0);
  EXPECT_EQ(s.inject, (std::deque<int>{8})) << "one injected task, not a batch";
  EXPECT_EQ(pick_next_task(s, order), 9) << "the next tick is an ordinary one";
  EXPECT_EQ(pick_next_task(s, order), 1);
  EXPECT_EQ(s.maintenance_passes, 1);
}

TEST(NextTask, AnEventTickWithNoInjectedTaskGoesOnToTheLifoSlot) {
  Sources s;
  RunOrder order;
  skip_to_before_event_tick(s, order);
  s.lifo = 9;
  EXPECT_EQ(pick_next_task(s, order), 9);
  EXPECT_EQ(s.maintenance_passes, 1);
}

TEST(NextTask, ABusyWorkerTakesAnInjectedTaskAtLeastOnceEveryEventInterval) {
  Sources s;
  RunOrder order;
  const int injected = 1'000'000;
  s.inject = {injected};
  // Local work that never runs out: each task run queues another.
  int next = 1;
  s.local = {next++};
  std::uint32_t ticks = 0;
  for (;;) {
    const int t = pick_next_task(s, order);
    ++ticks;
    if (t == injected) break;
    ASSERT_LE(ticks, kEventInterval) << "the injected task waited longer than the interval";
    s.local.push_back(next++);
  }
  EXPECT_EQ(ticks, kEventInterval);
}

// ---------------------------------------------------------------------------------------
// What a searcher makes of another worker's poll

/// A CPU clock that counts how often it is read.
struct CpuClock {
  std::int64_t ns = 0;
  int reads = 0;
  auto reader() {
    return [this] {
      ++reads;
      return ns;
    };
  }
};

TEST(LookAtPoll, TheFirstLookAtAWorkerOnlyRemembersItsTick) {
  SeenPoll seen;
  CpuClock cpu;
  const PollLook look = look_at_poll(seen, 5, 1'000, cpu.reader());
  EXPECT_FALSE(look.same_poll);
  EXPECT_FALSE(look.long_poll);
  EXPECT_EQ(seen.tick, 5u);
  EXPECT_EQ(seen.since_ns, 1'000);
  EXPECT_EQ(cpu.reads, 0);
}

TEST(LookAtPoll, TheSameTickAtTheNextLookIsTheSamePollButNotYetALongOne) {
  SeenPoll seen;
  CpuClock cpu;
  look_at_poll(seen, 5, 1'000, cpu.reader());
  const PollLook look = look_at_poll(seen, 5, 1'000 + kLongPollNs - 1, cpu.reader());
  EXPECT_TRUE(look.same_poll) << "its LIFO task may be taken";
  EXPECT_FALSE(look.long_poll);
  EXPECT_EQ(cpu.reads, 0) << "the CPU clock is read only after kLongPollNs in one poll";
  EXPECT_EQ(seen.since_ns, 1'000) << "the poll is timed from the first look";
}

TEST(LookAtPoll, AMovedTickStartsOver) {
  SeenPoll seen;
  CpuClock cpu;
  look_at_poll(seen, 5, 0, cpu.reader());
  look_at_poll(seen, 5, kLongPollNs, cpu.reader());
  const PollLook look = look_at_poll(seen, 6, 2 * kLongPollNs, cpu.reader());
  EXPECT_FALSE(look.same_poll);
  EXPECT_EQ(seen.tick, 6u);
  EXPECT_EQ(seen.since_ns, 2 * kLongPollNs);
  EXPECT_EQ(seen.cpu_ns, -1) << "the CPU reading of the previous poll is dropped";
}

TEST(LookAtPoll, AWorkerInNoPollIsNeverTheSamePoll) {
  SeenPoll seen;
  CpuClock cpu;
  for (std::int64_t now = 0; now < 4 * kLongPollNs; now += kLongPollNs) {
    const PollLook look = look_at_poll(seen, kNoPoll, now, cpu.reader());
    EXPECT_FALSE(look.same_poll) << "a searching or parked worker holds nothing back";
  }
  EXPECT_EQ(cpu.reads, 0);
}

TEST(LookAtPoll, AWorkerRunningOnItsCpuInOnePollIsALongPollAtTheThirdLook) {
  SeenPoll seen;
  CpuClock cpu;
  const std::int64_t watch_ns = std::int64_t{kWatchMs} * 1'000'000;
  // First look: remembers the tick.
  EXPECT_FALSE(look_at_poll(seen, 5, 0, cpu.reader()).long_poll);
  // Second, past kLongPollNs: reads the CPU clock once, to compare at the next look.
  cpu.ns = 50'000'000;
  PollLook look = look_at_poll(seen, 5, watch_ns, cpu.reader());
  EXPECT_TRUE(look.same_poll);
  EXPECT_FALSE(look.long_poll);
  EXPECT_EQ(cpu.reads, 1);
  // Third: the thread ran for all of the time since.
  cpu.ns += watch_ns;
  look = look_at_poll(seen, 5, 2 * watch_ns, cpu.reader());
  EXPECT_TRUE(look.same_poll);
  EXPECT_TRUE(look.long_poll) << "its epoll is polled for it";
  EXPECT_EQ(cpu.reads, 2);
}

TEST(LookAtPoll, AWorkerThatRanForAnEighthOfTheTimeIsALongPollAndLessIsNot) {
  for (const std::int64_t ran : {std::int64_t{125'000}, std::int64_t{124'999}}) {
    SeenPoll seen;
    CpuClock cpu;
    look_at_poll(seen, 5, 0, cpu.reader());
    look_at_poll(seen, 5, kLongPollNs, cpu.reader());  // CPU reads 0
    cpu.ns = ran;
    const PollLook look = look_at_poll(seen, 5, kLongPollNs + 1'000'000, cpu.reader());
    EXPECT_TRUE(look.same_poll);
    EXPECT_EQ(look.long_poll, ran * 8 >= 1'000'000) << ran << " ns of CPU in 1 ms";
  }
}

TEST(LookAtPoll, APreemptedWorkerIsTheSamePollButNotALongOne) {
  SeenPoll seen;
  CpuClock cpu;
  look_at_poll(seen, 5, 0, cpu.reader());
  look_at_poll(seen, 5, kLongPollNs, cpu.reader());
  // Off its CPU since (preempted, or blocked in a syscall): its clock has not moved.
  const PollLook look = look_at_poll(seen, 5, 10 * kLongPollNs, cpu.reader());
  EXPECT_TRUE(look.same_poll) << "its LIFO task is still taken";
  EXPECT_FALSE(look.long_poll) << "its I/O is left to it";
}

TEST(LookAtPoll, AWorkerWhoseCpuClockCannotBeReadIsNeverALongPoll) {
  SeenPoll seen;
  CpuClock cpu;
  cpu.ns = -1;  // no clock: the thread has not started, or has ended
  look_at_poll(seen, 5, 0, cpu.reader());
  for (std::int64_t now = kLongPollNs; now < 5 * kLongPollNs; now += kLongPollNs) {
    const PollLook look = look_at_poll(seen, 5, now, cpu.reader());
    EXPECT_TRUE(look.same_poll);
    EXPECT_FALSE(look.long_poll);
  }
  EXPECT_EQ(seen.cpu_ns, -1);
}

// ---------------------------------------------------------------------------------------
// How long a parking worker sleeps

/// The runtime clock's tick, counting how often it is read.
struct NowTick {
  std::uint64_t tick = 1'000;
  int reads = 0;
  auto reader() {
    return [this] {
      ++reads;
      return tick;
    };
  }
};

TEST(ParkTimeout, AWorkerAloneWithNoTimersSleepsUntilWoken) {
  NowTick now;
  EXPECT_EQ(ParkTimeout(std::nullopt).ms(now.reader()), -1);
  EXPECT_EQ(now.reads, 0) << "no timer, no clock read";
}

TEST(ParkTimeout, AWorkerAloneSleepsUntilItsNextTimer) {
  NowTick now;
  EXPECT_EQ(ParkTimeout(now.tick + 40).ms(now.reader()), 40);
  EXPECT_EQ(now.reads, 1);
}

TEST(ParkTimeout, ATimerAlreadyDueMeansNoSleep) {
  NowTick now;
  EXPECT_EQ(ParkTimeout(now.tick).ms(now.reader()), 0);
  EXPECT_EQ(ParkTimeout(now.tick - 3).ms(now.reader()), 0);
}

TEST(ParkTimeout, AFarTimerIsWaitedForInStepsOfAtMostTwoToTheThirtyMilliseconds) {
  NowTick now;
  EXPECT_EQ(ParkTimeout(now.tick + (std::uint64_t{1} << 40)).ms(now.reader()), 1 << 30);
  EXPECT_EQ(ParkTimeout(~std::uint64_t{0}).ms(now.reader()), 1 << 30);
}

TEST(ParkTimeout, WhileAnotherWorkerIsBusyAWorkerWakesAtLeastEveryWatchInterval) {
  NowTick now;
  ParkTimeout timeout(now.tick + 3'600'000);  // a task sleeping an hour
  timeout.busy_worker(std::nullopt, /*lifo_full=*/false);
  EXPECT_EQ(timeout.ms(now.reader()), kWatchMs);
}

TEST(ParkTimeout, ATimerSoonerThanTheWatchIntervalStillWins) {
  NowTick now;
  ParkTimeout timeout(now.tick + 2);
  timeout.busy_worker(std::nullopt, /*lifo_full=*/false);
  EXPECT_EQ(timeout.ms(now.reader()), 2);
}

TEST(ParkTimeout, ABusyWorkersEarlierTimerWakesTheSleeperToFireIt) {
  NowTick now;
  ParkTimeout timeout(now.tick + 100);
  timeout.busy_worker(now.tick + 3, /*lifo_full=*/false);
  timeout.busy_worker(now.tick + 4, /*lifo_full=*/false);
  EXPECT_EQ(timeout.ms(now.reader()), 3);
}

TEST(ParkTimeout, ATaskInABusyWorkersLifoSlotShortensTheSleepToOneMillisecond) {
  NowTick now;
  ParkTimeout timeout(std::nullopt);
  timeout.busy_worker(std::nullopt, /*lifo_full=*/false);
  timeout.busy_worker(now.tick + 30, /*lifo_full=*/true);
  EXPECT_EQ(timeout.ms(now.reader()), 1);
}

TEST(ParkTimeout, OnTheVirtualClockNoTimerIsWaitedForButBusyWorkersAreWatched) {
  // Worker::park_timeout(with_timers = false) passes no deadlines: virtual timers fire only
  // when every worker is parked and the clock moves.
  NowTick now;
  ParkTimeout alone(std::nullopt);
  EXPECT_EQ(alone.ms(now.reader()), -1);
  ParkTimeout watching(std::nullopt);
  watching.busy_worker(std::nullopt, /*lifo_full=*/false);
  EXPECT_EQ(watching.ms(now.reader()), kWatchMs);
  ParkTimeout lifo(std::nullopt);
  lifo.busy_worker(std::nullopt, /*lifo_full=*/true);
  EXPECT_EQ(lifo.ms(now.reader()), 1);
  EXPECT_EQ(now.reads, 0) << "the virtual clock is not read";
}

TEST(ParkTimeout, OnTheVirtualClockABlockingJobInFlightIsLookedAtAgainAfterOneMillisecond) {
  NowTick now;
  ParkTimeout last_awake(std::nullopt);
  last_awake.blocking_job_holds_clock();
  EXPECT_EQ(last_awake.ms(now.reader()), 1);
  ParkTimeout with_busy(std::nullopt);
  with_busy.blocking_job_holds_clock();
  with_busy.busy_worker(std::nullopt, /*lifo_full=*/false);
  EXPECT_EQ(with_busy.ms(now.reader()), 1);
}

}  // namespace
