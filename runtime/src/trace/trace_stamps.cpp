// Resolving a worker's ring into times (trace_stamps.hpp).
#include "trace/trace_stamps.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

namespace {

/// Gives the unstamped polls of each group even shares of the span between the stamped
/// events around them and notes the group's size in its polls' `aux`; drops those without a
/// stamp on both sides.
void spread_grouped_polls(std::vector<TraceEvent>& events) {
  auto grouped = [](const TraceEvent& e) { return e.kind == TraceKind::kPollBegin && e.ns == 0; };
  std::size_t prev = events.size();  // the last stamped event; none yet
  std::vector<std::size_t> run;
  for (std::size_t i = 0; i < events.size(); ++i) {
    TraceEvent& e = events[i];
    if (grouped(e)) {
      run.push_back(i);
      continue;
    }
    if (e.ns == 0) continue;
    if (!run.empty() && prev != events.size()) {
      const std::int64_t from = events[prev].ns;
      const std::int64_t span = e.ns - from;
      const auto polls = static_cast<std::int64_t>(run.size() + 1);
      for (std::size_t k = 0; k < run.size(); ++k) {
        TraceEvent& p = events[run[k]];
        p.ns = from + span * static_cast<std::int64_t>(k + 1) / polls;
        p.aux = static_cast<std::uint32_t>(polls);
      }
      if (events[prev].kind == TraceKind::kPollBegin) {
        events[prev].aux = static_cast<std::uint32_t>(polls);
      }
    }
    run.clear();  // with no stamp before them: still unstamped, dropped below
    prev = i;
  }
  // The first, which the ring kept without their group's stamp, and the last, whose group
  // has not ended.
  std::erase_if(events, grouped);
}

/// `events` with an end after each poll's begin, stamped by the next event that is not what
/// a poll's end writes (wake-ups, spawns, a first poll's note); a poll with none after it
/// is still running and left out.
std::vector<TraceEvent> with_poll_ends(const std::vector<TraceEvent>& events) {
  auto at_poll_end = [](TraceKind k) {
    return k == TraceKind::kWake || k == TraceKind::kSpawn || k == TraceKind::kTaskStart;
  };
  std::vector<TraceEvent> out;
  out.reserve(events.size() + events.size() / 2);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const TraceEvent& e = events[i];
    if (e.kind != TraceKind::kPollBegin) {
      out.push_back(e);
      continue;
    }
    std::size_t j = i + 1;
    while (j < events.size() && at_poll_end(events[j].kind)) ++j;
    if (j == events.size()) continue;
    out.push_back(e);
    TraceEvent end;
    end.ns = events[j].ns;
    end.task = e.task;
    end.kind = TraceKind::kPollEnd;
    out.push_back(end);
  }
  return out;
}

}  // namespace

std::vector<TraceEvent> with_resolved_stamps(std::vector<TraceEvent> events) {
  spread_grouped_polls(events);
  std::int64_t next = 0;
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->ns != 0) {
      next = it->ns;
    } else {
      it->ns = next;
    }
  }
  std::erase_if(events, [](const TraceEvent& e) { return e.ns == 0; });
  return with_poll_ends(events);
}

}  // namespace weft::detail
