// run_rate_step: one step of the open loop. Requests are due on a fixed schedule, `rate`
// per second, whatever the target does (an open system: users who do not wait for each
// other, which is what shows the latency a rate costs and the rate where it runs away).
// `connections` sessions share the schedule: session k takes the requests due at
// start + (k + j * connections) / rate, j = 0, 1, ...
//
// Latency counts from when a request was due, not from when it was sent, if its session
// was still busy with an earlier one then (wrk2's correction for coordinated omission: a
// slow response delays the requests behind it, and that wait is latency a user sees). A
// request whose session was idle when it came due counts from its send: the profiler's own
// timer lateness is not the target's.
//
// Timeline on weft::now(), as the closed loop's: connect (not measured), `warmup`, then
// `measure`. Throughput counts the requests completed inside the measuring window (as the
// closed loop's); latency, those due inside it, whenever they complete. A session stops at its
// first request due after the window, or at the window's end plus `measure` (a target that cannot
// keep up would otherwise keep it forever): the requests due in the window and not completed by
// then are counted as late. A failed request counts as an error, its session reconnects, and the
// requests due meanwhile wait.
#pragma once

#include <weft/runtime/task.hpp>
#include <weft/runtime/time.hpp>

#include "weft/profile/closed_loop.hpp"
#include "weft/profile/target.hpp"

namespace weft::profile {

/// Runs one open-loop step against `target` (which must outlive it). Throws what
/// Target::connect throws if a session cannot be opened at the start; later errors are
/// counted, not thrown. std::invalid_argument for rate ≤ 0, connections < 1 or measure ≤ 0.
Task<StepResult> run_rate_step(Target& target, double rate, int connections, Duration warmup,
                               Duration measure);

}  // namespace weft::profile
