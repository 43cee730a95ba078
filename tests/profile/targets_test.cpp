// The profiler's other targets: HTTP (HttpTarget, against weft's own http::Server on
// 127.0.0.1) and a coroutine of the program's own (CoroutineTarget, the library API).
// The coroutine target runs on the virtual clock against a Semaphore(8) with a 1 ms service
// time, whose knee is 8 exactly; the HTTP one counts what the server answered.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

#include <weft/io/http.hpp>
#include <weft/weft.hpp>

#include "limited_server.hpp"
#include "weft/profile/closed_loop.hpp"
#include "weft/profile/coroutine_target.hpp"
#include "weft/profile/http_target.hpp"
#include "weft/profile/profile.hpp"
#include "weft/profile/report.hpp"

using namespace std::chrono_literals;
using weft::profile::CoroutineTarget;
using weft::profile::HttpTarget;
using weft::profile::StepResult;

namespace {

struct HttpRun {
  StepResult step;
  std::uint64_t served = 0;  // requests the server answered, the probes included
};

// One closed-loop step of `concurrency` against a server whose "/" answers "hello", but
// 503 from the `fail_after`-th request on.
weft::Task<HttpRun> step_against_http_server(int concurrency, std::uint64_t fail_after) {
  std::atomic<std::uint64_t> served{0};
  weft::http::Router router;
  router.get("/", [&served, fail_after](weft::http::Request&) -> weft::Task<weft::http::Response> {
    const std::uint64_t n = served.fetch_add(1) + 1;
    co_return weft::http::Response::text("hello", n >= fail_after ? 503 : 200);
  });
  weft::http::Server server(std::move(router));
  co_await server.listen("127.0.0.1", 0);
  weft::JoinHandle<void> serving = weft::spawn(server.serve_forever());
  HttpTarget target("http://127.0.0.1:" + std::to_string(server.local_address().port()) + "/");
  HttpRun run;
  run.step = co_await weft::profile::run_step(target, concurrency, 20ms, 200ms);
  co_await server.shutdown(1s);
  co_await serving;
  run.served = served.load();
  co_return run;
}

// Steps 1..32 with short windows. (Out of the coroutine: GCC 12 refuses a braced list in
// one, design §11.)
weft::profile::ProfileOptions short_steps() {
  return {.concurrencies = {1, 2, 4, 8, 16, 32}, .warmup = 100ms, .measure = 300ms};
}

// The closed loop against a coroutine: a request holds one of 8 permits for 1 ms.
weft::Task<weft::profile::Profile> profile_limited_coroutine() {
  weft::Semaphore permits(weft_test::profile::kPermits);
  CoroutineTarget target("semaphore(8) x 1 ms", [&permits]() -> weft::Task<void> {
    weft::SemaphoreGuard permit = co_await permits.acquire();
    co_await weft::sleep(weft_test::profile::kServiceTime);
  });
  weft::profile::ProfileOptions options = short_steps();
  co_return co_await weft::profile::run_profile(target, std::move(options));
}

}  // namespace

TEST(HttpTarget, EveryRequestCountedIsOneTheServerAnsweredWithItsWholeBody) {
  const HttpRun run = weft::run(step_against_http_server(4, ~std::uint64_t{0}), {.workers = 2});
  EXPECT_EQ(run.step.errors, 0u);
  EXPECT_GT(run.step.requests, 0u);
  // The probes (one per session), the warm-up and the window's requests were all served; a
  // request still in flight at the window's end was served but not counted.
  EXPECT_GE(run.served, run.step.requests + 4);
}

TEST(HttpTarget, AStatusOtherThan2xxIsAnError) {
  // The four sessions' probes succeed; everything after fails with 503.
  const HttpRun run = weft::run(step_against_http_server(4, 5), {.workers = 2});
  EXPECT_EQ(run.step.requests, 0u);
  EXPECT_GT(run.step.errors, 0u);
}

TEST(HttpTarget, ARefusedConnectionIsThrownByTheStepNamingTheTarget) {
  auto listener = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("127.0.0.1", 0));
  const std::uint16_t port = listener.local_address().port();
  listener.close();
  HttpTarget target("http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(target.describe(), "http GET http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_ANY_THROW(weft::run(
      [](HttpTarget& t) -> weft::Task<void> {
        co_await weft::profile::run_step(t, 2, 0ms, 10ms);
      }(target),
      {.workers = 1}));
}

TEST(HttpTarget, ABadUrlIsRejectedAtOnce) {
  EXPECT_THROW(HttpTarget("ftp://example.com/"), std::invalid_argument);
}

TEST(CoroutineTarget, NamesTheKneeOfASemaphoreLimitedCoroutineAtItsPermitCount) {
  const weft::profile::Profile profile =
      weft::run(profile_limited_coroutine(), weft_test::profile::virtual_clock());
  ASSERT_EQ(profile.steps.size(), 6u);
  EXPECT_EQ(profile.target, "semaphore(8) x 1 ms");
  for (const auto& step : profile.steps) {
    EXPECT_EQ(step.errors, 0u) << "concurrency " << step.concurrency;
    if (step.concurrency >= 8) {
      EXPECT_NEAR(step.throughput(), 8000, 0.1 * 8000) << "concurrency " << step.concurrency;
    }
  }
  ASSERT_TRUE(profile.knee.concurrency.has_value()) << profile.knee.reason;
  EXPECT_EQ(*profile.knee.concurrency, 8) << weft::profile::markdown_report(profile);
}

TEST(CoroutineTarget, AnEmptyFunctionIsRejected) {
  EXPECT_THROW(CoroutineTarget("none", {}), std::invalid_argument);
}
