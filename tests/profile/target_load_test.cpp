// The target's load from its /metrics: weft's own Prometheus text parsed back, the load
// between two samples, the resource it points at; and end to end, a profile that reads the
// metrics of the runtime serving the Semaphore(8) server (in-process, on the virtual clock)
// at every step. Which resource that run names depends on how fast this machine computes
// (the metrics' times are real, the clock is not), so only that it names one is checked.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <weft/runtime/prometheus.hpp>
#include <weft/weft.hpp>

#include "limited_server.hpp"
#include "weft/profile/coroutine_target.hpp"
#include "weft/profile/profile.hpp"
#include "weft/profile/report.hpp"
#include "weft/profile/target_load.hpp"

using namespace std::chrono_literals;
using weft::profile::Profile;
using weft::profile::RuntimeSample;
using weft::profile::TargetLoad;
using weft::profile::TcpEchoTarget;
using weft_test::profile::against_limited_server;
using weft_test::profile::virtual_clock;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;

// A runtime's metrics `seconds` into its life with two workers that have computed `cpu0`
// and `cpu1` of that time so far, and `delayed` scheduling delays of 2-4 ms sampled.
RuntimeSample sample_at(double seconds, double cpu0, double cpu1, std::uint64_t delayed = 0,
                        std::vector<weft::metrics::NamedWaitStats> waits = {}) {
  weft::RuntimeMetrics m;
  m.waits = std::move(waits);
  m.uptime_ns = static_cast<std::uint64_t>(seconds * kSecond);
  for (const double cpu : {cpu0, cpu1}) {
    weft::WorkerMetrics w;
    w.cpu_ns = static_cast<std::uint64_t>(cpu * seconds * kSecond);
    w.busy_ns = w.cpu_ns;
    w.polls = static_cast<std::uint64_t>(1000 * seconds);
    m.workers.push_back(w);
  }
  m.scheduling_delay.buckets[weft::DurationHistogram::bucket_of(3'000'000)] = delayed;
  m.scheduling_delay.buckets[0] = 100;
  return weft::profile::parse_runtime_sample(weft::metrics::prometheus_text(m));
}

}  // namespace

TEST(TargetLoad, ParsesWeftsOwnPrometheusText) {
  const RuntimeSample s = sample_at(2, 0.5, 0.25, 7);
  EXPECT_DOUBLE_EQ(s.uptime, 2);
  ASSERT_EQ(s.worker_cpu.size(), 2u);
  EXPECT_DOUBLE_EQ(s.worker_cpu[0], 1);
  EXPECT_DOUBLE_EQ(s.worker_cpu[1], 0.5);
  EXPECT_DOUBLE_EQ(s.worker_busy[1], 0.5);
  EXPECT_EQ(s.polls, 4000u);
  ASSERT_EQ(s.scheduling_delay.buckets.size(), weft::DurationHistogram::kBuckets);
  EXPECT_EQ(s.scheduling_delay.buckets.back().second, 107u);  // +Inf: every sample
}

TEST(TargetLoad, NamesTheCpusWhenEveryWorkerComputes) {
  const TargetLoad l =
      weft::profile::load_between(sample_at(1, 0.9, 0.95), sample_at(3, 0.9, 0.95));
  EXPECT_NEAR(l.seconds, 2, 1e-9);
  EXPECT_NEAR(l.cpu, 0.925, 0.001);
  EXPECT_NEAR(l.max_cpu, 0.95, 0.001);
  EXPECT_EQ(l.busiest_worker, 1);
  EXPECT_NEAR(l.polls_per_second, 2000, 1e-6);
  EXPECT_EQ(weft::profile::saturated_resource(l).rfind("the target's CPUs", 0), 0u)
      << weft::profile::saturated_resource(l);
}

TEST(TargetLoad, NamesOneWorkerWhenTheLoadIsNotSpread) {
  const TargetLoad l =
      weft::profile::load_between(sample_at(1, 0.95, 0.05), sample_at(2, 0.95, 0.05));
  EXPECT_EQ(l.busiest_worker, 0);
  EXPECT_EQ(weft::profile::saturated_resource(l).rfind("one worker's CPU: worker 0", 0), 0u)
      << weft::profile::saturated_resource(l);
}

TEST(TargetLoad, NamesTheRunQueuesWhenTasksWaitOnIdleCpus) {
  const TargetLoad l =
      weft::profile::load_between(sample_at(1, 0.1, 0.1, 0), sample_at(2, 0.2, 0.2, 50));
  ASSERT_TRUE(l.scheduling_delay_p99.has_value());
  EXPECT_GE(*l.scheduling_delay_p99, 2e-3);
  EXPECT_EQ(weft::profile::saturated_resource(l).rfind("the run queues", 0), 0u)
      << weft::profile::saturated_resource(l);
}

// A primitive `seconds` into the runtime's life after `waits` waits of `each` seconds.
weft::metrics::NamedWaitStats waited(std::string name, std::string kind, std::uint64_t waits,
                                     double each) {
  weft::WaitStats s{.tracked = true, .waits = waits, .ended = waits};
  s.wait_time = std::chrono::nanoseconds(static_cast<std::int64_t>(each * waits * kSecond));
  return {std::move(name), std::move(kind), s};
}

TEST(TargetLoad, ReadsExposedPrimitivesWithEscapedNamesBack) {
  const RuntimeSample s =
      sample_at(1, 0.1, 0.1, 0, {waited("db \"main\"\\1", "semaphore", 4, 0.5)});
  ASSERT_EQ(s.waits.size(), 1u);
  EXPECT_EQ(s.waits[0].name, "db \"main\"\\1");
  EXPECT_EQ(s.waits[0].kind, "semaphore");
  EXPECT_EQ(s.waits[0].waits, 4u);
  EXPECT_DOUBLE_EQ(s.waits[0].wait_seconds, 2);
}

TEST(TargetLoad, NamesAnExposedSemaphoreWhoseQueueIsLong) {
  // 2 s of waits in 1 s: two tasks waited on average; the starved consumers of a queue
  // (its getters) waited longer, but that is not a saturated resource.
  const TargetLoad l = weft::profile::load_between(
      sample_at(1, 0.1, 0.1, 0,
                {waited("db", "semaphore", 10, 0.1), waited("jobs", "queue get", 1, 1)}),
      sample_at(2, 0.2, 0.2, 50,
                {waited("db", "semaphore", 30, 0.15), waited("jobs", "queue get", 2, 5)}));
  ASSERT_EQ(l.queues.size(), 2u);
  EXPECT_NEAR(l.queues[0].waiting, 3.5, 1e-6);
  EXPECT_NEAR(l.queues[0].waits_per_second, 20, 1e-6);
  EXPECT_NEAR(l.queues[0].mean_wait, 0.175, 1e-6);
  EXPECT_EQ(weft::profile::saturated_resource(l).rfind("the semaphore \"db\": 3.5 tasks waited", 0),
            0u)
      << weft::profile::saturated_resource(l);
}

TEST(TargetLoad, WaitsForAnEventADataOrAnItemAreNotTheLimit) {
  const TargetLoad l = weft::profile::load_between(
      sample_at(1, 0.1, 0.1, 0,
                {waited("ready", "event", 0, 0), waited("peer", "socket read", 0, 0),
                 waited("jobs", "queue get", 0, 0)}),
      sample_at(2, 0.2, 0.3, 0,
                {waited("ready", "event", 10, 1), waited("peer", "socket read", 10, 1),
                 waited("jobs", "queue get", 10, 1)}));
  ASSERT_EQ(l.queues.size(), 3u);
  EXPECT_EQ(weft::profile::saturated_resource(l).rfind("not the target's runtime", 0), 0u)
      << weft::profile::saturated_resource(l);
}

TEST(TargetLoad, AShortQueueIsNotTheLimit) {
  const TargetLoad l =
      weft::profile::load_between(sample_at(1, 0.1, 0.1, 0, {waited("db", "mutex", 10, 0.01)}),
                                  sample_at(2, 0.2, 0.3, 0, {waited("db", "mutex", 20, 0.02)}));
  EXPECT_EQ(weft::profile::saturated_resource(l).rfind("not the target's runtime", 0), 0u)
      << weft::profile::saturated_resource(l);
}

TEST(TargetLoad, NamesSomethingOutsideTheRuntimeOtherwise) {
  const TargetLoad l = weft::profile::load_between(sample_at(1, 0.1, 0.1), sample_at(2, 0.2, 0.3));
  EXPECT_EQ(weft::profile::saturated_resource(l).rfind("not the target's runtime", 0), 0u)
      << weft::profile::saturated_resource(l);
}

TEST(TargetLoad, RejectsWhatIsNotAWeftRuntimesPage) {
  EXPECT_THROW(weft::profile::parse_runtime_sample("up 1\n"), std::runtime_error);
  EXPECT_THROW(weft::profile::parse_runtime_sample("weft_uptime_seconds one\n"),
               std::runtime_error);
  EXPECT_THROW(weft::profile::parse_runtime_sample("weft_worker_cpu_seconds_total{worker=\"x\"} "
                                                   "1\nweft_uptime_seconds 1\n"),
               std::runtime_error);
  EXPECT_THROW(weft::profile::load_between(sample_at(2, 0, 0), sample_at(1, 0, 0)),
               std::runtime_error);
}

TEST(TargetLoad, AProfileReadsTheTargetsMetricsAtEachStep) {
  const Profile profile =
      weft::run(against_limited_server([](TcpEchoTarget& target) {
                  weft::profile::ProfileOptions options{
                      .concurrencies = {1, 4, 16}, .warmup = 50ms, .measure = 200ms};
                  options.read_metrics = []() -> weft::Task<std::string> {
                    co_return weft::metrics::prometheus_text(weft::current_runtime());
                  };
                  return weft::profile::run_profile(target, std::move(options));
                }),
                virtual_clock());
  ASSERT_EQ(profile.steps.size(), 3u);
  for (const auto& step : profile.steps) {
    ASSERT_TRUE(step.target.has_value()) << "concurrency " << step.concurrency;
    EXPECT_EQ(step.target->workers, 2);
    EXPECT_GT(step.target->polls_per_second, 0);
  }
  ASSERT_TRUE(profile.saturated.has_value());
  const std::string table = weft::profile::markdown_report(profile);
  EXPECT_NE(table.find("| target CPU | target sched p99 µs |"), std::string::npos) << table;
  EXPECT_NE(table.find("Saturated: " + *profile.saturated), std::string::npos) << table;
  EXPECT_NE(weft::profile::json_report(profile).find("\"target\": {\"workers\": 2"),
            std::string::npos);
}

// End to end on the real clock: two permits, each held 5 ms, and eight requests at once keep
// six waiting for a permit nearly all the time, on CPUs that have little to do (also under
// the sanitizers): the profile names the exposed semaphore.
TEST(TargetLoad, AProfileNamesTheExposedSemaphoreItsRequestsQueueOn) {
  weft::Semaphore permits(2);
  weft::metrics::Exposure exposed = weft::metrics::expose("permits", permits);
  weft::profile::CoroutineTarget target("two permits", [&permits]() -> weft::Task<void> {
    weft::SemaphoreGuard g = co_await permits.acquire();
    co_await weft::sleep(5ms);
  });
  weft::profile::ProfileOptions options{
      .concurrencies = {1, 2, 8}, .warmup = 20ms, .measure = 150ms};
  options.read_metrics = []() -> weft::Task<std::string> {
    co_return weft::metrics::prometheus_text(weft::current_runtime());
  };
  const Profile profile =
      weft::run(weft::profile::run_profile(target, std::move(options)), {.workers = 2});
  ASSERT_TRUE(profile.saturated.has_value());
  EXPECT_EQ(profile.saturated->rfind("the semaphore \"permits\": ", 0), 0u) << *profile.saturated;
  ASSERT_TRUE(profile.steps.back().target.has_value());
  ASSERT_EQ(profile.steps.back().target->queues.size(), 1u);
  EXPECT_GE(profile.steps.back().target->queues[0].waiting, 1.0);
}
