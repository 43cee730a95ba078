// The trace ring (trace/trace_ring.hpp) and its Chrome trace JSON (trace/chrome_trace.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "python_json.hpp"
#include "trace/chrome_trace.hpp"
#include "trace/trace_ring.hpp"

namespace {

using weft::detail::chrome_trace_json;
using weft::detail::TraceEvent;
using weft::detail::TraceKind;
using weft::detail::TraceRing;
using weft::detail::WorkerTrace;

TraceEvent ev(std::int64_t ns, TraceKind k, std::uint64_t task = 0, std::uint64_t other = 0) {
  TraceEvent e;
  e.ns = ns;
  e.kind = k;
  e.task = task;
  e.other = other;
  return e;
}

TEST(TraceRing, KeepsTheNewestEventsInOrderOnceFull) {
  TraceRing r(5);  // rounded up to 8
  EXPECT_EQ(r.capacity(), 8u);
  for (int i = 0; i < 20; ++i) r.push(ev(i, TraceKind::kPollBegin, static_cast<unsigned>(i)));
  EXPECT_EQ(r.written(), 20u);
  const std::vector<TraceEvent> s = r.snapshot();
  ASSERT_EQ(s.size(), 8u);
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s[i].task, 12 + i);
}

TEST(TraceRing, AnEmptyOrPartlyFilledRingGivesWhatWasPushed) {
  TraceRing r(16);
  EXPECT_TRUE(r.snapshot().empty());
  r.push(ev(5, TraceKind::kSteal, 3, 1));
  const std::vector<TraceEvent> s = r.snapshot();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].ns, 5);
  EXPECT_EQ(s[0].kind, TraceKind::kSteal);
  EXPECT_EQ(s[0].task, 3u);
  EXPECT_EQ(s[0].other, 1u);
}

// A reader copying while the writer laps the ring gets only whole events: each event's
// fields are derived from one number, so a torn copy would show.
TEST(TraceRingStress, ACopyTakenWhileTheWriterWritesHasNoTornEvent) {
  TraceRing r(64);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t i = 1; i <= 2'000'000 && !stop.load(std::memory_order_relaxed); ++i) {
      r.push(ev(static_cast<std::int64_t>(i), TraceKind::kWake, i * 3, i * 7));
    }
  });
  std::uint64_t copies = 0, seen = 0;
  for (int k = 0; k < 2'000; ++k) {
    for (const TraceEvent& e : r.snapshot()) {
      const auto i = static_cast<std::uint64_t>(e.ns);
      ASSERT_EQ(e.task, i * 3);
      ASSERT_EQ(e.other, i * 7);
      ASSERT_EQ(e.kind, TraceKind::kWake);
      ++seen;
    }
    ++copies;
  }
  stop = true;
  writer.join();
  EXPECT_EQ(copies, 2'000u);
  (void)seen;
}

/// The trace's events as `E`, and pairs_ok(b, e): every `b` on a (worker, category) closed
/// by an `e` after it, nested.
constexpr const char* kTracePrelude =
    "E = d['traceEvents']\n"
    "def pairs_ok(ph_b, ph_e):\n"
    "    open_ = {}\n"
    "    for e in E:\n"
    "        k = (e['tid'], e['cat'])\n"
    "        if e['ph'] == ph_b: open_.setdefault(k, []).append(e)\n"
    "        elif e['ph'] == ph_e:\n"
    "            if not open_.get(k): return False\n"
    "            open_[k].pop()\n"
    "    return all(not v for v in open_.values())\n";

bool python_accepts(const std::string& json, const std::string& check) {
  return weft_test::python_accepts_json(json, check, kTracePrelude);
}

TEST(ChromeTrace, PollsAndParksAreMatchedPairsAndAWakeIsAnArrowToTheNextPoll) {
  WorkerTrace w0{0, {}}, w1{1, {}};
  // Worker 0: an end whose begin the ring lost, then task 7 polls and wakes task 9, parks.
  w0.events = {ev(1'000, TraceKind::kPollEnd, 5),  ev(2'000, TraceKind::kPollBegin, 7),
               ev(2'500, TraceKind::kWake, 9, 7),  ev(3'000, TraceKind::kPollEnd, 7),
               ev(3'100, TraceKind::kParkBegin),   ev(9'000, TraceKind::kParkEnd),
               ev(9'100, TraceKind::kPollBegin, 8)};  // still running: no end yet
  // Worker 1 steals task 9 and polls it.
  w1.events = {ev(2'600, TraceKind::kSteal, 1, 0), ev(2'700, TraceKind::kPollBegin, 9),
               ev(4'000, TraceKind::kIoEvents, 3), ev(4'100, TraceKind::kPollEnd, 9)};
  const std::string json = chrome_trace_json(
      {w0, w1}, [](std::uint64_t id) { return id == 9 ? std::string("ni\"ne") : std::string(); });
  EXPECT_TRUE(python_accepts(
      json,
      "pairs_ok('B', 'E') "
      "and len([e for e in E if e['ph'] == 'B' and e['cat'] == 'poll']) == 2 "
      "and len([e for e in E if e['ph'] == 'B' and e['cat'] == 'park']) == 1 "
      "and [e['name'] for e in E if e['ph'] == 'B' and e['cat'] == 'poll'] == ['task 7', "
      "'ni\"ne'] "
      "and len([e for e in E if e['ph'] == 'b']) == 2 and len([e for e in E if e['ph'] == "
      "'e']) == 2 "
      "and [(e['ph'], e['tid'], e['ts']) for e in E if e['cat'] == 'wake'] == "
      "[('s', 0, 1.5), ('f', 1, 1.7)] "
      "and [e['name'] for e in E if e['ph'] == 'i'] == ['steal', 'io events'] "
      "and {e['args']['name'] for e in E if e['ph'] == 'M'} == {'worker 0', 'worker 1'}"))
      << json;
}

TEST(ChromeTrace, NoEventsIsAnEmptyValidTrace) {
  const std::string json = chrome_trace_json({}, nullptr);
  EXPECT_TRUE(python_accepts(json, "E == []")) << json;
}

}  // namespace
