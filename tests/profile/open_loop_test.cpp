// The open loop end to end, against the Semaphore(8) server of limited_server.hpp (8,000
// requests/s at most) on the virtual clock: below its capacity every request is served in
// the service time and the offered rate is what is achieved; above it the achieved rate
// stays at the capacity while latency, counted from when each request was due, grows with
// the backlog (a closed loop, or latency counted from the send, would hide it: coordinated
// omission). Every request due in the window is accounted for.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include <weft/weft.hpp>

#include "limited_server.hpp"
#include "weft/profile/open_loop.hpp"
#include "weft/profile/profile.hpp"
#include "weft/profile/report.hpp"
#include "weft/profile/tcp_echo_target.hpp"

using namespace std::chrono_literals;
using weft::profile::Profile;
using weft::profile::StepResult;
using weft::profile::TcpEchoTarget;
using weft_test::profile::against_limited_server;
using weft_test::profile::kPayload;
using weft_test::profile::virtual_clock;

namespace {

constexpr auto kMeasure = 300ms;

// One open-loop step at `rate` with `connections` sessions against the limited server.
weft::Task<StepResult> rate_step(double rate, int connections) {
  return against_limited_server([rate, connections](TcpEchoTarget& target) {
    return weft::profile::run_rate_step(target, rate, connections, 50ms, kMeasure);
  });
}

double due_in_window(double rate) {
  return rate * std::chrono::duration<double>(kMeasure).count();
}

}  // namespace

TEST(OpenLoop, BelowCapacityTheOfferedRateIsServedInTheServiceTime) {
  const StepResult step = weft::run(rate_step(2000, 16), virtual_clock());
  EXPECT_EQ(step.offered_rate, 2000);
  EXPECT_EQ(step.errors, 0u);
  EXPECT_EQ(step.late, 0u);
  EXPECT_NEAR(static_cast<double>(step.latency.count()), due_in_window(2000), 16);
  EXPECT_NEAR(step.throughput(), 2000, 0.05 * 2000);
  // 2 requests in flight on average, 8 permits: no request waits for one.
  const double p99_ms = step.latency.percentile(0.99) / 1e6;
  EXPECT_GE(p99_ms, 1.0);
  EXPECT_LT(p99_ms, 2.5);
}

TEST(OpenLoop, AboveCapacityLatencyCountsFromWhenEachRequestWasDue) {
  const StepResult step = weft::run(rate_step(16000, 64), virtual_clock());
  EXPECT_EQ(step.errors, 0u);
  // Twice the capacity is offered; the capacity is served.
  EXPECT_LT(step.throughput(), 1.15 * 8000);
  EXPECT_GT(step.throughput(), 0.85 * 8000);
  // Every request due in the window completed or is late: none is lost.
  EXPECT_NEAR(static_cast<double>(step.latency.count() + step.late), due_in_window(16000), 64);
  // The backlog grows by 8 requests per ms of the window: by its end the requests due
  // wait far longer than the 8 ms that 64 sessions queued on 8 permits would explain.
  const double p99_ms = step.latency.percentile(0.99) / 1e6;
  EXPECT_GT(p99_ms, 50.0) << "latency counted from the send, not from when it was due";
}

TEST(OpenLoop, TheProfileNamesTheHighestRateServedWhole) {
  const Profile profile = weft::run(
      against_limited_server([](TcpEchoTarget& target) {
        return weft::profile::run_profile(
            target,
            {.rates = {2000, 4000, 16000}, .connections = 64, .warmup = 50ms, .measure = kMeasure});
      }),
      virtual_clock());
  ASSERT_EQ(profile.steps.size(), 3u);
  EXPECT_TRUE(profile.open_loop());
  ASSERT_TRUE(profile.sustained_rate.has_value());
  EXPECT_EQ(*profile.sustained_rate, 4000);
  const std::string table = weft::profile::markdown_report(profile);
  EXPECT_NE(table.find("| offered req/s |"), std::string::npos) << table;
  EXPECT_NE(table.find("| 16000 | "), std::string::npos) << table;
  EXPECT_NE(table.find("Sustained: 4000 req/s"), std::string::npos) << table;
  const std::string json = weft::profile::json_report(profile);
  EXPECT_NE(json.find("\"offered_rate\": 16000, \"late\": "), std::string::npos) << json;
  EXPECT_NE(json.find("\"sustained_rate\": 4000"), std::string::npos) << json;
}

TEST(OpenLoop, RejectsARateOrConnectionsThatCannotRun) {
  TcpEchoTarget target("127.0.0.1", 1, kPayload);
  auto step = [&target](double rate, int connections) {
    weft::run(weft::profile::run_rate_step(target, rate, connections, 0ms, 10ms), virtual_clock());
  };
  EXPECT_THROW(step(0, 1), std::invalid_argument);
  EXPECT_THROW(step(-5, 1), std::invalid_argument);
  EXPECT_THROW(step(std::nan(""), 1), std::invalid_argument);
  EXPECT_THROW(step(100, 0), std::invalid_argument);
}
