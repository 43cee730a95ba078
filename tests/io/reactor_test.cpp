// The reactor (weft/runtime/io.hpp) on pipes: waits end on readiness, an edge between the
// EAGAIN and the wait is not missed, a cancelled wait consumes nothing, registrations are
// reused safely, and destroying one that a task waits on is a clear error.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <weft/weft.hpp>

#include "stress_scale.hpp"

using namespace std::chrono_literals;

namespace {

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
};

/// Reads one byte from `fd` the reactor's way.
weft::Task<char> read_byte(int fd, weft::IoRegistration& reg) {
  for (;;) {
    const auto seq = reg.ready_seq(weft::Interest::kRead);
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n == 1) co_return c;
    if (n < 0 && errno != EAGAIN) throw std::system_error(errno, std::generic_category(), "read");
    co_await reg.wait(weft::Interest::kRead, seq);
  }
}

TEST(Reactor, AWaitEndsWhenTheFdBecomesReadable) {
  Pipe p;
  char got = weft::run([](Pipe& p) -> weft::Task<char> {
    weft::IoRegistration reg(p.r);
    auto reader = weft::spawn(read_byte(p.r, reg));
    co_await weft::yield_now();  // it waits now
    EXPECT_FALSE(reader.done());
    EXPECT_EQ(::write(p.w, "x", 1), 1);
    co_return co_await reader;
  }(p));
  EXPECT_EQ(got, 'x');
}

TEST(Reactor, AnEdgeBetweenTheSyscallAndTheWaitIsNotMissed) {
  Pipe p;
  weft::run([](Pipe& p) -> weft::Task<void> {
    weft::IoRegistration reg(p.r);
    // First wait registers the fd; the pipe is empty.
    auto first = weft::spawn(read_byte(p.r, reg));
    co_await weft::yield_now();
    EXPECT_EQ(::write(p.w, "a", 1), 1);
    EXPECT_EQ(co_await first, 'a');
    // Take the sequence, see EAGAIN, then let the data arrive before waiting.
    const auto seq = reg.ready_seq(weft::Interest::kRead);
    char c;
    EXPECT_EQ(::read(p.r, &c, 1), -1);
    EXPECT_EQ(::write(p.w, "b", 1), 1);
    // The event is delivered by some poll; the wait must not sleep past it.
    co_await weft::wait_for(reg.wait(weft::Interest::kRead, seq), 10s);
    EXPECT_EQ(::read(p.r, &c, 1), 1);
    EXPECT_EQ(c, 'b');
  }(p));
}

TEST(Reactor, ACancelledWaitConsumesNoReadiness) {
  Pipe p;
  weft::run(
      [](Pipe& p) -> weft::Task<void> {
        weft::IoRegistration reg(p.r);
        EXPECT_THROW(co_await weft::wait_for(read_byte(p.r, reg), 20ms), weft::TimeoutError);
        EXPECT_EQ(::write(p.w, "z", 1), 1);
        EXPECT_EQ(co_await read_byte(p.r, reg), 'z');
      }(p),
      {.workers = 1, .clock = weft::ClockKind::Virtual});
}

TEST(Reactor, AReaderAndAWriterOfOneFdWaitIndependently) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  weft::run([](int a, int b) -> weft::Task<void> {
    weft::IoRegistration reg(a);
    auto reader = weft::spawn(read_byte(a, reg));
    co_await weft::yield_now();
    // Fill a's send buffer, then wait to write while the reader waits to read.
    char chunk[4096] = {};
    while (::write(a, chunk, sizeof chunk) > 0) {
    }
    auto writer = weft::spawn([](int a, weft::IoRegistration& reg) -> weft::Task<void> {
      for (;;) {
        const auto seq = reg.ready_seq(weft::Interest::kWrite);
        if (::write(a, "w", 1) == 1) co_return;
        co_await reg.wait(weft::Interest::kWrite, seq);
      }
    }(a, reg));
    co_await weft::yield_now();
    EXPECT_EQ(::write(b, "r", 1), 1);  // wakes the reader only
    EXPECT_EQ(co_await reader, 'r');
    EXPECT_FALSE(writer.done());
    char drain[65536];
    while (::read(b, drain, sizeof drain) > 0) {
    }
    co_await writer;
  }(sv[0], sv[1]));
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST(Reactor, RegistrationsAreReusedWithoutStaleWakeUps) {
  const int rounds = static_cast<int>(weft::test::scaled(2000, 100));
  weft::RuntimeOptions o;
  o.workers = 2;
  weft::run(
      [](int rounds) -> weft::Task<void> {
        for (int i = 0; i < rounds; ++i) {
          Pipe p;
          weft::IoRegistration reg(p.r);
          auto reader = weft::spawn(read_byte(p.r, reg));
          EXPECT_EQ(::write(p.w, "q", 1), 1);
          EXPECT_EQ(co_await reader, 'q');
          reg.reset();  // before the pipe closes; a late event for it must be dropped
        }
      }(rounds),
      o);
}

TEST(ReactorDeathTest, DestroyingARegistrationATaskWaitsOnAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Pipe p;
        weft::run(
            [](Pipe& p) -> weft::Task<void> {
              auto reg = std::make_unique<weft::IoRegistration>(p.r);
              auto reader = weft::spawn(read_byte(p.r, *reg));
              co_await weft::yield_now();
              reg.reset();
              co_await reader;
            }(p),
            {.workers = 1});
      },
      "destroyed while 1 task\\(s\\) still wait");
}

TEST(Reactor, WaitOutsideATaskIsAUsageError) {
  Pipe p;
  weft::IoRegistration reg(p.r);
  auto aw = reg.wait(weft::Interest::kRead, 0);
  EXPECT_FALSE(aw.await_ready());
  EXPECT_THROW(aw.await_suspend(std::noop_coroutine()), weft::UsageError);
}

}  // namespace

namespace {

/// Waits for `fd` to be readable without reading it (several tasks may wait so at once).
weft::Task<void> wait_readable(weft::IoRegistration& reg, std::atomic<int>& woken) {
  co_await reg.wait(weft::Interest::kRead, 0);
  woken.fetch_add(1);
}

// One end of a ping-pong over two pipes: `ping` writes and waits for the answer until
// `stop`, then writes 'q'; `pong` answers every byte until the 'q'.
weft::Task<void> ping(Pipe& there, Pipe& back, const std::atomic<bool>& stop,
                      std::atomic<long>& rounds) {
  weft::IoRegistration reg(back.r);
  while (!stop.load()) {
    EXPECT_EQ(::write(there.w, "p", 1), 1);
    co_await read_byte(back.r, reg);
    rounds.fetch_add(1);
  }
  EXPECT_EQ(::write(there.w, "q", 1), 1);
}

weft::Task<void> pong(Pipe& there, Pipe& back) {
  weft::IoRegistration reg(there.r);
  while (co_await read_byte(there.r, reg) != 'q') EXPECT_EQ(::write(back.w, "p", 1), 1);
}

/// Computes (no await) until `done()` or for at most `limit` of real time.
template <class Done>
void spin_until(Done done, std::chrono::seconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < give_up) {
  }
}

}  // namespace

TEST(Reactor, AWorkerKeptBusyByItsOwnIoStillTakesATaskQueuedBehindAComputingOne) {
  // A ping-pong pair on one worker leaves an event in its epoll every time its queue runs
  // dry; that worker serves its own epoll before it looks at other workers' queues, but it
  // must still look: a task queued behind a task that computes on the other worker runs.
  weft::run(
      []() -> weft::Task<void> {
        Pipe there, back;
        std::atomic<bool> stop{false};
        std::atomic<long> rounds{0};
        auto a = weft::spawn(ping(there, back, stop, rounds));
        auto b = weft::spawn(pong(there, back));
        // This task computes from here on: the pair runs on the other worker (taken from
        // our queue), and its pipes join that worker's epoll.
        spin_until([&] { return rounds.load() >= 1000; }, 10s);
        EXPECT_GE(rounds.load(), 1000);
        std::atomic<bool> ran{false};
        auto t = weft::spawn([](std::atomic<bool>& ran) -> weft::Task<void> {
          ran.store(true);
          co_return;
        }(ran));
        // The task waits in our queue: the other worker must take it.
        spin_until([&] { return ran.load(); }, 10s);
        EXPECT_TRUE(ran.load());
        stop.store(true);
        co_await t;
        co_await a;
        co_await b;
      }(),
      {.workers = 2});
}

TEST(ReactorStress, TasksOnTwoWorkersWaitingFirstOnOneRegistrationAllWake) {
  // Each round makes a fresh registration and starts its first waits from two tasks that
  // the two workers run at once, so they race to register the fd; all must wake once.
  const int rounds = static_cast<int>(weft::test::scaled(2000, 200));
  weft::run(
      [](int rounds) -> weft::Task<void> {
        for (int r = 0; r < rounds; ++r) {
          Pipe p;
          weft::IoRegistration reg(p.r);
          std::atomic<int> woken{0};
          auto a = weft::spawn(wait_readable(reg, woken));
          auto b = weft::spawn(wait_readable(reg, woken));
          auto c = weft::spawn(wait_readable(reg, woken));
          EXPECT_EQ(::write(p.w, "x", 1), 1);
          co_await a;
          co_await b;
          co_await c;
          EXPECT_EQ(woken.load(), 3);
          reg.reset();
        }
      }(rounds),
      {.workers = 2});
}
