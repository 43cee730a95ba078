// weft::signal: waits woken by kill(2) to this process, every listener seeing every
// delivery, deliveries kept while nobody waits, real-time signals counted, cancellation of the
// poller and of the other waiters losing nothing, the virtual clock holding still while a
// signal is ready, and the errors (signals that cannot be waited for, a thread that does not
// block the signal, block() on a worker).
//
// Signals go to the whole process with kill(getpid(), ...): a process-directed signal is
// what weft reads (raise() would aim at one thread). Each test blocks the signals it uses in
// the main thread before its runtime starts (the workers inherit the mask) and, at its end,
// takes whatever is still pending and restores the mask, so tests do not leak into each other.
#include <gtest/gtest.h>

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "stress_scale.hpp"

using namespace std::chrono_literals;
using weft::signal::Listener;

namespace {

/// Blocks the test signals for one test and cleans up after it.
class SignalTest : public testing::Test {
 protected:
  void SetUp() override {
    sigemptyset(&set_);
    for (int s : {SIGUSR1, SIGUSR2, SIGRTMIN}) sigaddset(&set_, s);
    ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set_, &saved_), 0);
  }
  void TearDown() override {
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }

  sigset_t set_;
  sigset_t saved_;
};

void send(int signo) {
  ASSERT_EQ(::kill(::getpid(), signo), 0);
}

/// Under the virtual clock a sleep ends only when every worker is idle: every other task
/// has reached its wait by then.
weft::Task<void> until_all_wait() {
  co_await weft::sleep(1ms);
}

weft::RuntimeOptions virtual_clock(std::size_t workers) {
  return {.workers = workers, .clock = weft::ClockKind::Virtual};
}

class SignalWorkers : public SignalTest, public testing::WithParamInterface<std::size_t> {};

TEST_P(SignalWorkers, AWaitingTaskWakesWhenTheProcessGetsTheSignal) {
  weft::run(
      []() -> weft::Task<void> {
        auto waiter = weft::spawn(weft::signal::wait(SIGUSR1));
        co_await until_all_wait();
        EXPECT_FALSE(waiter.done());
        send(SIGUSR1);
        co_await waiter;
      }(),
      virtual_clock(GetParam()));
}

TEST_P(SignalWorkers, EveryListenerSeesEachDelivery) {
  weft::run(
      []() -> weft::Task<void> {
        std::vector<weft::JoinHandle<std::size_t>> waiters;
        for (int i = 0; i < 3; ++i) {
          waiters.push_back(weft::spawn([]() -> weft::Task<std::size_t> {
            Listener l(SIGUSR1);
            co_return co_await l.recv();
          }()));
        }
        co_await until_all_wait();
        send(SIGUSR1);
        auto counts = co_await weft::gather(std::move(waiters));
        EXPECT_EQ(counts, (std::vector<std::size_t>{1, 1, 1}));
      }(),
      virtual_clock(GetParam()));
}

TEST_P(SignalWorkers, ACancelledPollerHandsTheSignalToTheNextWaiter) {
  weft::run(
      []() -> weft::Task<void> {
        Listener a(SIGUSR1);
        Listener b(SIGUSR1);
        auto first = weft::spawn(a.recv());  // alone: it becomes the poller
        co_await until_all_wait();
        auto second = weft::spawn(b.recv());  // waits behind the poller
        co_await until_all_wait();
        first.cancel();
        EXPECT_THROW(co_await first, weft::CancelledError);
        co_await until_all_wait();  // the second has taken over the signalfd
        send(SIGUSR1);
        EXPECT_EQ(co_await second, 1u);
        EXPECT_EQ(co_await a.recv(), 1u);  // the cancelled recv lost nothing either
      }(),
      virtual_clock(GetParam()));
}

TEST_P(SignalWorkers, ACancelledWaiterBehindThePollerLosesNothing) {
  weft::run(
      []() -> weft::Task<void> {
        Listener a(SIGUSR1);
        Listener b(SIGUSR1);
        auto poller = weft::spawn(a.recv());
        co_await until_all_wait();
        auto behind = weft::spawn(b.recv());
        co_await until_all_wait();
        behind.cancel();
        EXPECT_THROW(co_await behind, weft::CancelledError);
        send(SIGUSR1);
        EXPECT_EQ(co_await poller, 1u);
        EXPECT_EQ(co_await b.recv(), 1u);
      }(),
      virtual_clock(GetParam()));
}

TEST_P(SignalWorkers, TheVirtualClockHoldsStillWhileASignalIsReady) {
  weft::run(
      []() -> weft::Task<void> {
        auto sleeper = weft::spawn([]() -> weft::Task<void> {  // a timer the clock could jump to
          co_await weft::sleep(10s);
        }());
        Listener l(SIGUSR1);
        auto waiter = weft::spawn(l.recv());
        co_await until_all_wait();
        const weft::TimePoint sent = weft::now();
        send(SIGUSR1);
        EXPECT_EQ(co_await waiter, 1u);
        EXPECT_EQ(weft::now(), sent) << "time moved while the signal was ready";
        co_await sleeper;
      }(),
      virtual_clock(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Workers, SignalWorkers, testing::Values(1, 2));

TEST_F(SignalTest, ADeliveryWhileNobodyWaitsIsKeptForTheListener) {
  weft::run(
      []() -> weft::Task<void> {
        Listener l(SIGUSR2);
        send(SIGUSR2);
        EXPECT_EQ(co_await l.recv(), 1u);
        EXPECT_THROW(co_await weft::wait_for(l.recv(), 1s), weft::TimeoutError);  // no more
      }(),
      virtual_clock(1));
}

TEST_F(SignalTest, ASignalBlockedBeforeAnyoneListenedIsReceivedByTheFirstWait) {
  send(SIGUSR2);  // blocked, nobody listens: it stays pending in the kernel
  weft::run(weft::signal::wait(SIGUSR2), virtual_clock(1));
}

TEST_F(SignalTest, RealTimeSignalsAreCountedOneByOne) {
  weft::run(
      []() -> weft::Task<void> {
        Listener l(SIGRTMIN);
        for (int i = 0; i < 3; ++i) send(SIGRTMIN);  // queued, unlike standard signals
        EXPECT_EQ(co_await l.recv(), 3u);
      }(),
      virtual_clock(1));
}

TEST_F(SignalTest, ATimedOutRecvLeavesTheNextDeliveryForTheNextRecv) {
  weft::run(
      []() -> weft::Task<void> {
        Listener l(SIGUSR1);
        EXPECT_THROW(co_await weft::wait_for(l.recv(), 2s), weft::TimeoutError);
        send(SIGUSR1);
        EXPECT_EQ(co_await l.recv(), 1u);
      }(),
      virtual_clock(2));
}

// signal::wait under each scope (the other awaitables are in cancel_scope_test.cpp): the
// deadlines pass with no delivery, and the delivery after them is not lost.
TEST_F(SignalTest, WaitTimesOutUnderEveryScopeLosingNoDeliveryOrReturnsInTime) {
  weft::run(
      []() -> weft::Task<void> {
        const weft::TimePoint start = weft::now();
        EXPECT_THROW(co_await weft::wait_for(weft::signal::wait(SIGUSR2), 1s), weft::TimeoutError);
        EXPECT_THROW(co_await weft::timeout(1s, weft::signal::wait(SIGUSR2)), weft::TimeoutError);
        EXPECT_THROW(co_await weft::timeout_at(weft::now() + 1s, weft::signal::wait(SIGUSR2)),
                     weft::TimeoutError);
        EXPECT_EQ(weft::now() - start, 3s);
        send(SIGUSR2);
        co_await weft::wait_for(weft::signal::wait(SIGUSR2), 1s);
        send(SIGUSR2);
        co_await weft::shield(weft::signal::wait(SIGUSR2));
        EXPECT_EQ(weft::now() - start, 3s);
      }(),
      virtual_clock(2));
}

TEST_F(SignalTest, AListenerMovedToAnotherTaskKeepsItsDeliveries) {
  weft::run(
      []() -> weft::Task<void> {
        Listener l(SIGUSR1);
        send(SIGUSR1);
        co_await weft::spawn([](Listener l) -> weft::Task<void> {
          EXPECT_EQ(l.signo(), SIGUSR1);
          EXPECT_EQ(co_await l.recv(), 1u);
        }(std::move(l)));
        EXPECT_EQ(l.signo(), 0);
        EXPECT_THROW(co_await l.recv(), weft::UsageError);
      }(),
      virtual_clock(2));
}

TEST_F(SignalTest, SignalsWeftCannotWaitForAreInvalidArgumentsNamingThem) {
  for (int bad : {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, 0, -3, NSIG, 32}) {
    try {
      Listener l(bad);
      ADD_FAILURE() << "listening for " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(weft::signal::name(bad)), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(weft::signal::block({SIGKILL}), std::invalid_argument);
}

TEST_F(SignalTest, ASignalThisThreadDoesNotBlockIsAUsageErrorThatSaysWhatToDo) {
  try {
    Listener l(SIGWINCH);  // not blocked anywhere
    ADD_FAILURE() << "listening for an unblocked signal";
  } catch (const weft::UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("SIGWINCH is not blocked in thread"), std::string::npos) << what;
    EXPECT_NE(what.find("weft::signal::block({SIGWINCH})"), std::string::npos) << what;
  }
}

TEST_F(SignalTest, AnotherThreadThatDoesNotBlockTheSignalIsNamed) {
  std::latch ready(1);
  std::latch done(1);
  std::thread rogue([&] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
    pthread_setname_np(pthread_self(), "rogue-thread");
    ready.count_down();
    done.wait();
  });
  ready.wait();
  try {
    Listener l(SIGUSR2);
    ADD_FAILURE() << "listening while a thread does not block the signal";
  } catch (const weft::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("(rogue-thread)"), std::string::npos) << e.what();
  }
  done.count_down();
  rogue.join();
  Listener fine(SIGUSR2);  // every thread blocks it again
  EXPECT_EQ(fine.signo(), SIGUSR2);
}

TEST_F(SignalTest, BlockOnAWorkerIsAUsageError) {
  weft::run([]() -> weft::Task<void> {
    EXPECT_THROW(weft::signal::block({SIGUSR1}), weft::UsageError);
    co_return;
  }());
}

TEST(SignalName, NamesStandardAndRealTimeSignals) {
  EXPECT_EQ(weft::signal::name(SIGTERM), "SIGTERM");
  EXPECT_EQ(weft::signal::name(SIGINT), "SIGINT");
  EXPECT_EQ(weft::signal::name(SIGRTMIN), "SIGRTMIN");
  EXPECT_EQ(weft::signal::name(SIGRTMIN + 2), "SIGRTMIN+2");
  EXPECT_EQ(weft::signal::name(0), "signal 0");
  EXPECT_EQ(weft::signal::name(200), "signal 200");
}

class SignalStress : public SignalTest {};

/// Many listeners on four workers, round after round: each round's one signal is received
/// exactly once by every listener (the next is sent only when all have it).
TEST_F(SignalStress, EveryListenerGetsEveryRoundOnce) {
  const std::size_t rounds = weft::test::scaled(200, 10);
  constexpr std::size_t kListeners = 16;
  weft::run(
      [](std::size_t rounds) -> weft::Task<void> {
        weft::Barrier barrier(kListeners + 1);
        std::atomic<std::size_t> received{0};
        std::vector<weft::JoinHandle<void>> tasks;
        for (std::size_t i = 0; i < kListeners; ++i) {
          tasks.push_back(weft::spawn([](weft::Barrier& b, std::atomic<std::size_t>& received,
                                         std::size_t rounds) -> weft::Task<void> {
            Listener l(SIGUSR1);
            co_await b.wait();  // listening before the first signal
            for (std::size_t r = 0; r < rounds; ++r) {
              received += co_await l.recv();
              co_await b.wait();
            }
          }(barrier, received, rounds)));
        }
        co_await barrier.wait();
        for (std::size_t r = 0; r < rounds; ++r) {
          send(SIGUSR1);
          co_await barrier.wait();
        }
        co_await weft::gather(std::move(tasks));
        EXPECT_EQ(received.load(), rounds * kListeners);
      }(rounds),
      {.workers = 4});
}

}  // namespace
