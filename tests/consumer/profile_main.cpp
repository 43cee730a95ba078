// The packaging test's second program (find_package mode): the load profiler's library,
// weft::profile, used from an installed weft — a coroutine of the program's own profiled at
// two concurrencies — printing a fixed transcript that run_consumer.cmake compares.
#include <chrono>
#include <cstdio>

#include <weft/profile/coroutine_target.hpp>
#include <weft/profile/profile.hpp>
#include <weft/weft.hpp>

namespace {

weft::profile::ProfileOptions options() {
  weft::profile::ProfileOptions o;
  o.concurrencies = {1, 2};
  o.warmup = std::chrono::milliseconds(5);
  o.measure = std::chrono::milliseconds(20);
  return o;
}

}  // namespace

int main() {
  weft::profile::CoroutineTarget target("yield",
                                        []() -> weft::Task<void> { co_await weft::yield_now(); });
  const weft::profile::Profile p =
      weft::run(weft::profile::run_profile(target, options()), {.workers = 1});
  bool requests = true;
  int errors = 0;
  for (const auto& s : p.steps) {
    requests = requests && s.requests > 0;
    errors += static_cast<int>(s.errors);
  }
  std::printf("profile: %s, %zu steps, requests %s, %d errors\n", p.target.c_str(), p.steps.size(),
              requests ? "made" : "missing", errors);
}
