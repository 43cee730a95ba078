// weft::metrics::prometheus_text: a RuntimeMetrics snapshot in the Prometheus text exposition
// format 0.0.4, what a `/metrics` route serves (weft/io/http/metrics_route.hpp).
//
// Every metric is named `weft_...` and comes with its `# HELP` and `# TYPE` lines. Counters
// end in `_total`; durations are in seconds (the nanosecond counters divided by 1e9);
// per-worker series carry the label `worker="<index>"`; queue depths, live tasks and thread
// counts are gauges; poll duration and scheduling delay are Prometheus histograms whose
// `le` bounds are the DurationHistogram bucket bounds in seconds. Numbers are written with
// std::to_chars, so they parse back to the same value.
#pragma once

#include <string>

#include "weft/runtime/metrics.hpp"

namespace weft {

class RuntimeHandle;

namespace metrics {

/// `m` in the Prometheus text format 0.0.4 (one family after another, each line ending in
/// '\n'). Pure formatting: any thread; throws only std::bad_alloc.
std::string prometheus_text(const RuntimeMetrics& m);

/// prometheus_text(rt.metrics()): a fresh snapshot of the runtime `rt` views. Any thread;
/// throws UsageError once that runtime is gone.
std::string prometheus_text(const RuntimeHandle& rt);

}  // namespace metrics
}  // namespace weft
