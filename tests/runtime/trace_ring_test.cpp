// The trace ring (trace/trace_ring.hpp) and its Chrome trace JSON (trace/chrome_trace.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "python_json.hpp"
#include "trace/chrome_trace.hpp"
#include "trace/trace_ring.hpp"
#include "trace/trace_stamps.hpp"

namespace {

using weft::detail::chrome_trace_json;
using weft::detail::TraceEvent;
using weft::detail::TraceKind;
using weft::detail::TraceRing;
using weft::detail::with_resolved_stamps;
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
  TraceRing r(5);  // rounded up to 8 slots, which keep 7 events
  EXPECT_EQ(r.capacity(), 7u);
  for (int i = 0; i < 20; ++i) r.push(ev(i, TraceKind::kPollBegin, static_cast<unsigned>(i)));
  EXPECT_EQ(r.written(), 20u);
  const std::vector<TraceEvent> s = r.snapshot();
  ASSERT_EQ(s.size(), 7u);
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s[i].task, 13 + i);
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
  // The writer goes on until the reader is done (bounded: a reader that gets no CPU
  // meanwhile copies a ring at rest, which must be whole too).
  constexpr std::uint64_t kMaxEvents = 100'000'000;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t i = 1; i <= kMaxEvents && !stop.load(std::memory_order_relaxed); ++i) {
      r.push(ev(static_cast<std::int64_t>(i), TraceKind::kWake, i * 3, i * 7));
    }
  });
  while (r.written() < 1'000) std::this_thread::yield();  // lapped the ring many times
  std::uint64_t seen = 0;
  for (int copies = 0; copies < 2'000; ++copies) {
    std::uint64_t last = 0;
    for (const TraceEvent& e : r.snapshot()) {
      const auto i = static_cast<std::uint64_t>(e.ns);
      ASSERT_EQ(e.task, i * 3);
      ASSERT_EQ(e.other, i * 7);
      ASSERT_EQ(e.kind, TraceKind::kWake);
      ASSERT_EQ(last == 0 ? i : last + 1, i);  // consecutive: none dropped in the middle
      last = i;
      ++seen;
    }
  }
  stop = true;
  writer.join();
  EXPECT_GT(seen, 0u);
}

TEST(TraceRing, ATaskStartKeepsItsLineAndNoStamp) {
  TraceRing r(4);
  TraceEvent e = ev(0, TraceKind::kTaskStart, 42, 0x1234);
  e.aux = 70'000;
  r.push(e);
  const std::vector<TraceEvent> s = r.snapshot();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].ns, 0);
  EXPECT_EQ(s[0].aux, 70'000u);
  EXPECT_EQ(s[0].task, 42u);
  EXPECT_EQ(s[0].other, 0x1234u);
}

/// An event as (kind, ns, task, aux), for comparing resolved events.
using Seen = std::tuple<TraceKind, std::int64_t, std::uint64_t, std::uint32_t>;

/// with_resolved_stamps(events), each as Seen.
std::vector<Seen> resolved(std::vector<TraceEvent> events) {
  std::vector<Seen> out;
  for (const TraceEvent& e : with_resolved_stamps(std::move(events))) {
    out.emplace_back(e.kind, e.ns, e.task, e.aux);
  }
  return out;
}

// Poll 1 stamped, polls 2-4 a group written without stamps (each waking a task as it
// ends), poll 5 stamped: the group's four polls share 1,000-1,400 evenly, each wake-up
// takes the next poll's begin, and every poll of the group says it was one of four.
TEST(TraceStamps, AGroupOfUnstampedPollsSharesTheSpanBetweenItsStamps) {
  const std::vector<Seen> got = resolved({
      ev(1'000, TraceKind::kPollBegin, 1),
      ev(0, TraceKind::kWake, 0xa, 1),
      ev(0, TraceKind::kPollBegin, 2),
      ev(0, TraceKind::kWake, 0xb, 2),
      ev(0, TraceKind::kPollBegin, 3),
      ev(0, TraceKind::kPollBegin, 4),
      ev(1'400, TraceKind::kPollBegin, 5),
      ev(1'500, TraceKind::kIdle),
  });
  using K = TraceKind;
  const std::vector<Seen> want = {
      {K::kPollBegin, 1'000, 1, 4}, {K::kPollEnd, 1'100, 1, 0},   {K::kWake, 1'100, 0xa, 0},
      {K::kPollBegin, 1'100, 2, 4}, {K::kPollEnd, 1'200, 2, 0},   {K::kWake, 1'200, 0xb, 0},
      {K::kPollBegin, 1'200, 3, 4}, {K::kPollEnd, 1'300, 3, 0},   {K::kPollBegin, 1'300, 4, 4},
      {K::kPollEnd, 1'400, 4, 0},   {K::kPollBegin, 1'400, 5, 0}, {K::kPollEnd, 1'500, 5, 0},
      {K::kIdle, 1'500, 0, 0},
  };
  EXPECT_EQ(got, want);
}

// The ring lost the stamp before the first group and the last has none after it yet:
// neither is timed, so neither is in the trace; a stamped event of another kind (running
// out of tasks) ends a group as a poll's does.
TEST(TraceStamps, AGroupWithoutAStampOnBothSidesIsLeftOut) {
  const std::vector<Seen> got = resolved({
      ev(0, TraceKind::kPollBegin, 1),
      ev(0, TraceKind::kWake, 0xa, 1),
      ev(0, TraceKind::kPollBegin, 2),
      ev(2'000, TraceKind::kPollBegin, 3),
      ev(0, TraceKind::kPollBegin, 4),
      ev(2'600, TraceKind::kIdle),
      ev(3'000, TraceKind::kPollBegin, 5),
      ev(0, TraceKind::kPollBegin, 6),
      ev(0, TraceKind::kPollBegin, 7),
  });
  using K = TraceKind;
  const std::vector<Seen> want = {
      {K::kWake, 2'000, 0xa, 0},    {K::kPollBegin, 2'000, 3, 2}, {K::kPollEnd, 2'300, 3, 0},
      {K::kPollBegin, 2'300, 4, 2}, {K::kPollEnd, 2'600, 4, 0},   {K::kIdle, 2'600, 0, 0},
  };
  EXPECT_EQ(got, want);
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
