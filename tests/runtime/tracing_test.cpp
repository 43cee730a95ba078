// Tracing (Runtime::start_tracing, stop_tracing, trace_json): what the workers record, read
// back as Chrome trace JSON by python3 — valid, with matched begin and end events, named
// polls, wake and spawn arrows that land, parks and timers — while tasks run, after a stop,
// from a ring that wrapped, and through a RuntimeHandle.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "python_json.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

// Python over the trace `d`: `ok` holds if every B has its E (per thread and category, in
// order, same name), every arrow start its end (by id), and every timestamp is >= 0.
const char* const kPrelude = R"(
ev = d['traceEvents']
ok = True
stacks = {}
for e in ev:
    if e['ph'] == 'B':
        stacks.setdefault((e['tid'], e['cat']), []).append(e['name'])
    elif e['ph'] == 'E':
        s = stacks.get((e['tid'], e['cat']))
        ok = ok and bool(s) and s.pop() == e['name']
    ok = ok and e['ts'] >= 0
ok = ok and all(not s for s in stacks.values())
starts = sorted(e['id'] for e in ev if e['ph'] == 's')
ends = sorted(e['id'] for e in ev if e['ph'] == 'f')
ok = ok and starts == ends
polls = [e for e in ev if e['ph'] == 'B' and e['cat'] == 'poll']
def count(cat, ph):
    return sum(1 for e in ev if e['cat'] == cat and e['ph'] == ph)
def polled(prefix):
    return any(e['name'].startswith(prefix) for e in polls)
)";

/// python_accepts_json over the trace with kPrelude; a trace that fails is kept in a file
/// whose name the failure gives.
testing::AssertionResult trace_holds(const std::string& json, const std::string& check) {
  if (weft_test::python_accepts_json(json, check, kPrelude)) return testing::AssertionSuccess();
  static std::atomic<int> n{0};
  const std::string path = testing::TempDir() + "tracing_test_failed_" +
                           std::to_string(::getpid()) + "_" + std::to_string(n++) + ".json";
  std::ofstream(path) << json;
  return testing::AssertionFailure() << "the trace fails `" << check << "`; it is in " << path;
}

weft::Task<void> pinger(weft::Queue<int>& to, weft::Queue<int>& from, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    co_await to.put(i);
    (void)co_await from.get();
  }
}

weft::Task<void> ponger(weft::Queue<int>& to, weft::Queue<int>& from, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    const int v = co_await to.get();
    co_await from.put(v);
  }
}

weft::Task<int> child(int i) {
  co_return i;
}

std::atomic<int> g_child_line{0};

// Spawns n children, ten at a time: they run from the queue (awaited at once, a child not
// yet started would run inline in its joiner's poll, not as a poll of its own).
weft::Task<void> spawner(int n) {
  for (int i = 0; i < n; i += 10) {
    std::vector<weft::JoinHandle<int>> hs;
    for (int j = 0; j < 10; ++j) {
      // clang-format off
      g_child_line = __LINE__; hs.push_back(weft::spawn(child(i + j)));
      // clang-format on
    }
    co_await weft::yield_now();
    for (auto& h : hs) (void)co_await h;
  }
}

weft::Task<void> sleeper(int n) {
  for (int i = 0; i < n; ++i) co_await weft::sleep(1ms);
}

weft::Task<void> waiter(weft::Event& e) {
  co_await e.wait();
}

/// Ping-pong, spawns and sleeps on the runtime's workers, to the end.
void workload(weft::Runtime& rt, int rounds) {
  weft::Queue<int> a, b;
  auto p = rt.spawn(pinger(a, b, rounds), "pinger");
  auto q = rt.spawn(ponger(a, b, rounds), "ponger");
  auto s = rt.spawn(spawner(rounds / 4), "spawner");
  rt.block_on(sleeper(5));
  rt.block_on([](weft::JoinHandle<void> p, weft::JoinHandle<void> q,
                 weft::JoinHandle<void> s) -> weft::Task<void> {
    co_await p;
    co_await q;
    co_await s;
  }(std::move(p), std::move(q), std::move(s)));
}

TEST(Tracing, ATraceOfPingPongSpawnsAndSleepsIsValidWithMatchedPollsAndLandedArrows) {
  weft::Runtime rt({.workers = 2});
  weft::Event never;
  rt.start_tracing();
  auto w = rt.spawn(waiter(never), "waiter");
  // Read while the workers write: a copy drops what the writer laps, and stays valid.
  std::atomic<bool> done{false};
  std::thread reader([&] {
    for (int i = 0; i < 20 && !done.load(); ++i) {
      const std::string j = rt.trace_json();
      EXPECT_TRUE(trace_holds(j, "ok"));
    }
  });
  workload(rt, 2000);
  done = true;
  reader.join();
  rt.stop_tracing();
  const std::string json = rt.trace_json();
  const std::string site = "tracing_test.cpp:" + std::to_string(g_child_line.load());
  // Tasks that ended are named by spawn site; the live one by its name.
  EXPECT_TRUE(trace_holds(json, "ok and polled('pinger') and polled('ponger') and polled('" + site +
                                    "') and count('wake', 's') > 100 and count('spawn', 's') > 10 "
                                    "and count('timer', 'i') > 0 and count('park', 'B') > 0"));
  never.set();
  rt.block_on([](weft::JoinHandle<void> w) -> weft::Task<void> { co_await w; }(std::move(w)));
}

weft::Task<void> yielder(int n) {
  for (int i = 0; i < n; ++i) co_await weft::yield_now();
}

// Polls shorter than trace_grouped_polls_under (here all of them) read the clock once per
// 16: the trace spreads each group over its span, in order on the worker, and marks its
// polls with the group's size; with grouping off (0) every poll has its own time.
TEST(Tracing, ShortPollsAreTimedInGroupsAndMarkedSo) {
  for (const std::chrono::nanoseconds under : {std::chrono::nanoseconds(1s), 0ns}) {
    weft::Runtime rt({.workers = 1, .trace_grouped_polls_under = under});
    rt.start_tracing();
    auto h = rt.spawn(yielder(3000), "yielder");
    rt.block_on([](weft::JoinHandle<void> h) -> weft::Task<void> { co_await h; }(std::move(h)));
    rt.stop_tracing();
    const std::string check =
        "ok and polled('yielder') "
        "and all(a['ts'] <= b['ts'] for a, b in zip(polls, polls[1:])) "
        "and all(2 <= p['args'].get('grouped', 2) <= 16 for p in polls) " +
        std::string(under.count() != 0
                        ? "and sum(1 for p in polls if 'grouped' in p['args']) > 2000"
                        : "and not any('grouped' in p['args'] for p in polls)");
    EXPECT_TRUE(trace_holds(rt.trace_json(), check)) << "grouped under " << under.count() << " ns";
  }
}

TEST(Tracing, NothingAfterTheStopIsInTheTrace) {
  weft::Runtime rt({.workers = 2});
  rt.start_tracing();
  workload(rt, 200);
  rt.stop_tracing();
  const std::string before = rt.trace_json();
  // The workers may still write until their next pass between polls: the trace ends at the
  // stop all the same.
  rt.block_on(spawner(50));
  EXPECT_TRUE(trace_holds(before, "ok and polled('pinger')"));
  EXPECT_EQ(rt.trace_json(), before);
}

TEST(Tracing, ARingThatWrappedStillGivesMatchedEvents) {
  weft::Runtime rt({.workers = 2, .trace_events_per_worker = 64});
  rt.start_tracing();
  workload(rt, 3000);
  const std::string json = rt.trace_json();
  EXPECT_TRUE(trace_holds(json, "ok and len(ev) < 2 * 64 * 3"));
}

TEST(Tracing, WithoutAStartTheTraceIsEmpty) {
  weft::Runtime rt({.workers = 1});
  workload(rt, 100);
  EXPECT_TRUE(trace_holds(rt.trace_json(), "len(ev) == 0"));
  rt.stop_tracing();  // no trace: nothing to stop
}

TEST(Tracing, ARestartBeginsANewTrace) {
  weft::Runtime rt({.workers = 1});
  rt.start_tracing();
  rt.block_on(spawner(20));
  rt.stop_tracing();
  rt.start_tracing();
  rt.block_on(sleeper(3));
  rt.stop_tracing();
  const std::string site = "tracing_test.cpp:" + std::to_string(g_child_line.load());
  EXPECT_TRUE(trace_holds(rt.trace_json(),
                          "ok and count('timer', 'i') > 0 and not polled('" + site + "')"));
}

TEST(Tracing, ATaskTracesItsRuntimeThroughAHandle) {
  std::string json;
  weft::RuntimeHandle handle = weft::run([&]() -> weft::Task<weft::RuntimeHandle> {
    weft::RuntimeHandle h = weft::current_runtime();
    h.start_tracing();
    co_await spawner(100);
    h.stop_tracing();
    json = h.trace_json();
    co_return h;
  }());
  EXPECT_TRUE(trace_holds(json, "ok and count('spawn', 's') > 10"));
  EXPECT_THROW(handle.start_tracing(), weft::UsageError);
  EXPECT_THROW((void)handle.trace_json(), weft::UsageError);
}

}  // namespace
