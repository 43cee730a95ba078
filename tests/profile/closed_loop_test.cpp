// The closed loop end to end: the profiler against an in-process TCP server whose capacity
// is known — every request takes one of 8 semaphore permits for a 1 ms service time, so
// throughput rises linearly to 8 concurrent requests and is flat beyond — must name the
// knee at 8. The runtime runs on the virtual clock: the service time is exact, the test
// does not sleep, and the result does not depend on the machine's load (on the real clock
// a loaded machine delays the clients enough at concurrency 8 to leave permits idle, and
// the knee moves). Also: a refused connection names the address, a silent target ends in
// errors rather than a hang, and the reports carry the steps, the fit and the knee.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <system_error>

#include <weft/weft.hpp>

#include "limited_server.hpp"
#include "weft/profile/closed_loop.hpp"
#include "weft/profile/profile.hpp"
#include "weft/profile/report.hpp"
#include "weft/profile/tcp_echo_target.hpp"

using namespace std::chrono_literals;
using weft::net::BufferedStream;
using weft::profile::Profile;
using weft::profile::TcpEchoTarget;
using weft_test::profile::against_limited_server;
using weft_test::profile::kPayload;
using weft_test::profile::kPermits;
using weft_test::profile::virtual_clock;

namespace {

// Profiles a Semaphore(8) server at 1..32 with short steps, then shuts the server down.
weft::Task<Profile> profile_limited_server() {
  return against_limited_server([](TcpEchoTarget& target) {
    return weft::profile::run_profile(
        target, {.concurrencies = {1, 2, 4, 8, 16, 32}, .warmup = 100ms, .measure = 300ms});
  });
}

// Reads requests and never answers them.
weft::Task<void> never_answer(BufferedStream s) {
  try {
    while (true) co_await s.read_exact(kPayload);
  } catch (const weft::net::IncompleteRead&) {
  }
}

// One step against a server that never answers; the server is shut down after it.
weft::Task<weft::profile::StepResult> step_against_silent_server() {
  weft::net::Server server = co_await weft::net::start_server(never_answer, "127.0.0.1", 0);
  weft::JoinHandle<void> serving = weft::spawn(server.serve_forever());
  TcpEchoTarget target("127.0.0.1", server.local_address().port(), kPayload);
  weft::profile::StepResult step = co_await weft::profile::run_step(target, 2, 0ms, 100ms);
  co_await server.shutdown(0ms);
  co_await serving;
  co_return step;
}

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
std::uint16_t closed_port() {
  auto listener = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("127.0.0.1", 0));
  const std::uint16_t port = listener.local_address().port();
  listener.close();
  return port;
}

weft::Task<void> one_step(std::uint16_t port) {
  TcpEchoTarget target("127.0.0.1", port, kPayload);
  co_await weft::profile::run_step(target, 2, 0ms, 10ms);
}

}  // namespace

TEST(ClosedLoop, NamesTheKneeOfASemaphoreLimitedServerAtItsPermitCount) {
  const Profile profile = weft::run(profile_limited_server(), virtual_clock());
  ASSERT_EQ(profile.steps.size(), 6u);
  // The plateau follows from the measured service time: 8 permits / p50 at concurrency 1.
  const double service_seconds = profile.steps[0].latency.percentile(0.5) / 1e9;
  const double plateau = kPermits / service_seconds;
  EXPECT_NEAR(plateau, 8000, 0.1 * 8000);
  for (const auto& step : profile.steps) {
    EXPECT_EQ(step.errors, 0u) << "concurrency " << step.concurrency;
    if (step.concurrency >= 8) {
      EXPECT_NEAR(step.throughput(), plateau, 0.1 * plateau) << "concurrency " << step.concurrency;
    }
  }
  ASSERT_TRUE(profile.knee.concurrency.has_value()) << profile.knee.reason;
  EXPECT_EQ(*profile.knee.concurrency, 8) << weft::profile::markdown_report(profile);
  EXPECT_TRUE(profile.knee.latency_rises);
  ASSERT_TRUE(profile.usl.has_value());
  EXPECT_GT(profile.usl->r2, 0.9);
}

TEST(ClosedLoop, ReportsCarryTheStepsTheFitAndTheKnee) {
  const Profile profile = weft::run(profile_limited_server(), virtual_clock());
  const std::string table = weft::profile::markdown_report(profile);
  EXPECT_NE(table.find("| 32 | "), std::string::npos) << table;
  EXPECT_NE(table.find("Knee: concurrency 8"), std::string::npos) << table;
  EXPECT_NE(table.find("USL fit: lambda"), std::string::npos) << table;
  const std::string json = weft::profile::json_report(profile);
  EXPECT_NE(json.find("\"knee\": {\"concurrency\": 8"), std::string::npos) << json;
  EXPECT_NE(json.find("\"concurrency\": 32, \"requests\": "), std::string::npos) << json;
  EXPECT_NE(json.find("\"p999_us\": "), std::string::npos) << json;
}

TEST(ClosedLoop, ATargetThatStopsAnsweringCountsErrorsInsteadOfHangingTheStep) {
  const weft::profile::StepResult step = weft::run(step_against_silent_server(), virtual_clock());
  EXPECT_EQ(step.requests, 0u);
  EXPECT_EQ(step.errors, 2u);  // one timed-out request per task, then the window is over
  EXPECT_EQ(step.latency.count(), 0u);
}

TEST(ClosedLoop, ARefusedConnectionNamesTheAddress) {
  const std::uint16_t port = closed_port();
  try {
    weft::run(one_step(port), virtual_clock());
    FAIL() << "run_step connected to a closed port";
  } catch (const std::system_error& error) {
    EXPECT_NE(std::string(error.what()).find("127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << error.what();
  }
}
