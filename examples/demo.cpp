// The headline demo (tools/demo runs it): what weft does, in one minute of output.
//
//   1. a million tasks spawned and joined, across every worker;
//   2. a fan-out of 10,000 "requests" with gather, each with its own timeout, some of which
//      time out — and every one of them is accounted for;
//   3. a TaskGroup whose failing child cancels its siblings and the body;
//   4. CPU work offloaded to oneTBB and blocking work to the blocking pool, while timers
//      keep firing on the workers.
// Then the runtime's per-worker counters.
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <vector>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_reduce.h>

using namespace std::chrono_literals;

namespace {

double seconds_since(weft::TimePoint t0) {
  return std::chrono::duration<double>(weft::now() - t0).count();
}

weft::Task<int> leaf(int i) {
  co_return i & 1;
}

weft::Task<void> million_tasks() {
  auto t0 = weft::now();
  constexpr int kTasks = 1'000'000;
  std::vector<weft::JoinHandle<int>> handles;
  handles.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) handles.push_back(weft::spawn(leaf(i)));
  long odd = 0;
  for (auto& h : handles) odd += co_await h;
  double s = seconds_since(t0);
  std::printf("1. %d tasks spawned and joined in %.3f s (%.0f ns per task), %ld odd\n", kTasks, s,
              s * 1e9 / kTasks, odd);
}

// A "request" that takes between 1 and 40 ms.
weft::Task<int> request(int id) {
  co_await weft::sleep(std::chrono::milliseconds(1 + (id * 7919) % 40));
  co_return id;
}

// Each request gets 30 ms; a late one counts as a timeout instead of a value.
weft::Task<int> request_with_deadline(int id, std::atomic<int>& timeouts) {
  try {
    co_return co_await weft::wait_for(request(id), 30ms);
  } catch (const weft::TimeoutError&) {
    timeouts.fetch_add(1, std::memory_order_relaxed);
    co_return -1;
  }
}

weft::Task<void> fan_out() {
  auto t0 = weft::now();
  std::atomic<int> timeouts{0};
  std::vector<weft::Task<int>> reqs;
  for (int i = 0; i < 10'000; ++i) reqs.push_back(request_with_deadline(i, timeouts));
  std::vector<int> results = co_await weft::gather(std::move(reqs));
  int ok =
      static_cast<int>(std::count_if(results.begin(), results.end(), [](int r) { return r >= 0; }));
  std::printf("2. 10000 requests with a 30 ms timeout each: %d answered, %d timed out, in %.3f s\n",
              ok, timeouts.load(), seconds_since(t0));
}

weft::Task<void> flaky(int n) {
  co_await weft::sleep(std::chrono::milliseconds(5 * n));
  if (n == 3) throw std::runtime_error("child 3 failed");
  co_await weft::sleep(1h);  // never reached: cancelled by the failure
}

weft::Task<void> group() {
  try {
    co_await weft::task_group([](weft::TaskGroup& tg) -> weft::Task<> {
      for (int i = 1; i <= 5; ++i) tg.spawn(flaky(i));
      co_await weft::sleep(1h);  // the body is cancelled too
    });
  } catch (const weft::ExceptionGroup& e) {
    std::printf("3. task group: %s (the other four children and the body were cancelled)\n",
                e.what());
  }
}

weft::Task<void> ticker(std::atomic<int>& ticks, std::atomic<bool>& stop) {
  while (!stop.load()) {
    co_await weft::sleep(1ms);
    ticks.fetch_add(1, std::memory_order_relaxed);
  }
}

weft::Task<void> offload_and_block() {
  std::atomic<int> ticks{0};
  std::atomic<bool> stop{false};
  auto t = weft::spawn(ticker(ticks, stop));
  auto t0 = weft::now();
  double sum = co_await weft::offload([] {
    return tbb::parallel_reduce(
        tbb::blocked_range<long>(1, 20'000'000), 0.0,
        [](const tbb::blocked_range<long>& r, double acc) {
          for (long i = r.begin(); i != r.end(); ++i) acc += 1.0 / static_cast<double>(i * i);
          return acc;
        },
        std::plus<double>());
  });
  co_await weft::to_thread([] { std::this_thread::sleep_for(50ms); });
  stop.store(true);
  co_await t;
  std::printf(
      "4. offloaded sum 1/i^2 = %.6f and a 50 ms blocking call in %.3f s; meanwhile a 1 ms "
      "timer fired %d times\n",
      sum, seconds_since(t0), ticks.load());
}

weft::Task<int> demo() {
  co_await million_tasks();
  co_await fan_out();
  co_await group();
  co_await offload_and_block();
  co_return 0;
}

}  // namespace

int main() {
  weft::Runtime rt;
  std::printf("weft demo on %zu workers\n", rt.workers());
  int rc = rt.block_on(demo());
  std::size_t w = 0;
  for (const weft::WorkerMetrics& m : rt.metrics().workers) {
    std::printf("   worker %zu: %llu polls, %llu steals, %llu parks, %llu timers fired\n", w++,
                static_cast<unsigned long long>(m.polls), static_cast<unsigned long long>(m.steals),
                static_cast<unsigned long long>(m.parks),
                static_cast<unsigned long long>(m.timers_fired));
  }
  return rc;
}
