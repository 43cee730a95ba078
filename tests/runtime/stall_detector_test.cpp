// The stall detector: its decision on a made-up clock (StallWatch), and the monitor thread
// against a task that computes and one blocked in a system call, each held in its poll until
// the report has come, so the test never waits on time it guesses.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

#include <weft/weft.hpp>

#include "scheduler/stall_detector.hpp"

namespace {

using namespace std::chrono_literals;
using weft::detail::StallWatch;

constexpr std::int64_t kMs = 1'000'000;

TEST(StallWatch, ReportsAPollOnceWhenItReachesTheThreshold) {
  StallWatch w;
  // Looks every 25 ms; the worker enters poll 7 just before the first look.
  EXPECT_FALSE(w.look(7, true, 0, 0, 100 * kMs));
  EXPECT_FALSE(w.look(7, true, 25 * kMs, 0, 100 * kMs));
  EXPECT_FALSE(w.look(7, true, 75 * kMs, 0, 100 * kMs));
  EXPECT_TRUE(w.look(7, true, 100 * kMs, 0, 100 * kMs));
  EXPECT_EQ(w.since_ns, 0);
  // Not reported (the detector found the thread only waiting for a CPU): due again.
  EXPECT_TRUE(w.look(7, true, 125 * kMs, 0, 100 * kMs));
  w.reported = true;
  EXPECT_FALSE(w.look(7, true, 150 * kMs, 0, 100 * kMs));  // once per poll
  EXPECT_FALSE(w.look(7, true, 900 * kMs, 0, 100 * kMs));
}

TEST(StallWatch, ANewPollOrAnIdleWorkerStartsOver) {
  StallWatch w;
  EXPECT_FALSE(w.look(1, true, 0, 0, 100 * kMs));
  EXPECT_FALSE(w.look(2, true, 90 * kMs, 0, 100 * kMs));  // another poll: watched from here
  EXPECT_FALSE(w.look(2, true, 180 * kMs, 0, 100 * kMs));
  EXPECT_TRUE(w.look(2, true, 190 * kMs, 0, 100 * kMs));
  w.reported = true;
  // Parked (not in a poll) with the same count: never a stall, however long.
  StallWatch idle;
  EXPECT_FALSE(idle.look(5, false, 0, 0, 100 * kMs));
  EXPECT_FALSE(idle.look(5, false, 500 * kMs, 0, 100 * kMs));
  // It wakes into the next poll: watched from the first look that sees it.
  EXPECT_FALSE(idle.look(6, true, 510 * kMs, 0, 100 * kMs));
  EXPECT_TRUE(idle.look(6, true, 610 * kMs, 0, 100 * kMs));
}

TEST(StallWatch, AReportComesByThresholdPlusOneIntervalAfterThePollBegan) {
  // Whenever in the interval the poll begins, looks every interval report it by
  // threshold + interval after it began: 1.25 x the threshold at a quarter interval.
  constexpr std::int64_t threshold = 100 * kMs, interval = threshold / 4;
  for (std::int64_t begin = 1; begin < interval; begin += kMs) {
    StallWatch w;
    (void)w.look(0, false, 0, 0, threshold);
    std::optional<std::int64_t> reported_at;
    for (std::int64_t now = interval; now < 10 * threshold && !reported_at; now += interval) {
      if (w.look(1, true, now, 0, threshold)) {
        w.reported = true;
        reported_at = now;
      }
    }
    ASSERT_TRUE(reported_at);
    EXPECT_GE(*reported_at - begin, threshold - interval);
    EXPECT_LE(*reported_at - begin, threshold + interval);
  }
}

/// Collects the reports of a runtime's stall detector.
struct Reports {
  std::mutex mu;
  std::vector<weft::StallReport> list;
  std::atomic<bool> any{false};
  int wake_fd = -1;  // written after a report, if set

  weft::StallHandler handler() {
    return [this](const weft::StallReport& r) {
      {
        std::lock_guard lk(mu);
        list.push_back(r);
      }
      any.store(true);
      if (wake_fd >= 0) {
        const char c = 'x';
        if (::write(wake_fd, &c, 1) != 1) std::perror("write");
      }
    };
  }
};

/// Computes, in one poll, until the stall detector has reported it (at most 20 s); returns
/// how long that took.
std::chrono::steady_clock::duration spin_until_reported(Reports& reports) {
  const auto start = std::chrono::steady_clock::now();
  while (!reports.any.load() && std::chrono::steady_clock::now() - start < 20s) {
  }
  return std::chrono::steady_clock::now() - start;
}

TEST(StallDetector, ReportsATaskThatComputesWhileItRuns) {
  Reports reports;
  weft::Runtime rt({.workers = 1, .stall_threshold = 100ms, .on_stall = reports.handler()});
  std::uint32_t line = 0;
  const auto took = rt.block_on([&]() -> weft::Task<std::chrono::steady_clock::duration> {
    line = std::source_location::current().line() + 1;
    auto h = weft::spawn(
        [&]() -> weft::Task<std::chrono::steady_clock::duration> {
          co_return spin_until_reported(reports);
        },
        "busy");
    co_return co_await h;
  }());
  std::lock_guard lk(reports.mu);
  ASSERT_EQ(reports.list.size(), 1u);
  const weft::StallReport& r = reports.list[0];
  EXPECT_EQ(r.worker, 0u);
  EXPECT_NE(r.task_id, 0u);
  EXPECT_EQ(r.task_name, "busy");
  EXPECT_EQ(r.where.line(), line);
  EXPECT_GE(r.held, 75ms);  // since the first look that saw the poll: at most one interval late
  EXPECT_FALSE(r.blocked);
  EXPECT_LT(took, 20s);
  std::printf(
      "reported %lld ms into the poll\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_EQ(rt.metrics().workers[0].stalls, 1u);
  const std::string text = weft::to_string(r);
  EXPECT_NE(text.find("'busy'"), std::string::npos) << text;
  EXPECT_NE(text.find("stall_detector_test.cpp:" + std::to_string(line)), std::string::npos)
      << text;
  EXPECT_NE(text.find("has held worker 0 for"), std::string::npos) << text;
}

TEST(StallDetector, ReportsATaskBlockedInASystemCall) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Reports reports;
  reports.wake_fd = fds[1];
  weft::Runtime rt({.workers = 2, .stall_threshold = 100ms, .on_stall = reports.handler()});
  rt.block_on([&]() -> weft::Task<void> {
    auto h = weft::spawn(
        [&]() -> weft::Task<void> {
          // Blocks its worker in read(2) until the report's handler writes the pipe.
          char c;
          if (::read(fds[0], &c, 1) != 1) throw std::runtime_error("read");
          co_return;
        },
        "reader");
    co_await h;
  }());
  ::close(fds[0]);
  ::close(fds[1]);
  std::lock_guard lk(reports.mu);
  ASSERT_EQ(reports.list.size(), 1u);
  EXPECT_EQ(reports.list[0].task_name, "reader");
  EXPECT_TRUE(reports.list[0].blocked);
}

TEST(StallDetector, ANegativeThresholdIsRefused) {
  EXPECT_THROW(weft::Runtime({.workers = 1, .stall_threshold = -1ms}), std::invalid_argument);
}

}  // namespace
