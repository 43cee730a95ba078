// Workers' trace events as Chrome trace event JSON, which Perfetto (ui.perfetto.dev) and
// chrome://tracing open (docs/design.md §8, "Tracing").
//
// What a person sees: one track per worker with its polls (named by task) and parks; one
// track per task with its polls, wherever they ran; an arrow from each wake-up or spawn to
// the poll it led to; steals, I/O batches and timer passes as instants. Only complete
// polls and parks are written, each as a matched begin and end: a ring that wrapped may
// have lost a begin, and a poll in progress has no end yet.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "trace/trace_ring.hpp"

namespace weft::detail {

/// One worker's events, oldest first (TraceRing::snapshot).
struct WorkerTrace {
  unsigned worker = 0;
  std::vector<TraceEvent> events;
};

/// The JSON object {"displayTimeUnit": "ns", "traceEvents": [...]}; timestamps in
/// microseconds from the earliest event. `task_name` names a task by id (empty: "task N").
std::string chrome_trace_json(const std::vector<WorkerTrace>& workers,
                              const std::function<std::string(std::uint64_t)>& task_name);

}  // namespace weft::detail
