// A RuntimeMetrics snapshot as Prometheus text (prometheus.hpp).
//
// The counters and gauges are two tables, one of runtime-wide series and one of per-worker
// series: each entry names its family, type, unit and help text and reads its value, so a new
// field in metrics.hpp is one entry here. Families come out one after another, each with its
// HELP and TYPE lines before all of its samples (a per-worker family lists every worker
// before the next family starts), which is what the format asks for.
//
// The histograms: DurationHistogram's bucket i counts samples below upper_bound_ns(i), and
// Prometheus' `le` means "at most", so a sample of exactly a bound (to the nanosecond) is
// counted one bucket later than `le` says; the last bucket (about 1.07 s and up) is the
// "+Inf" one. `_count` is the buckets' sum rather than DurationHistogram::count, so that
// the "+Inf" bucket equals `_count` as the format requires even if the snapshot read the two
// a moment apart.
#include "weft/runtime/prometheus.hpp"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace weft::metrics {

namespace {

enum class Unit : std::uint8_t {
  kCount,        // written as the integer it is
  kNanoseconds,  // written in seconds
};

/// One counter or gauge family, read from an `M` (WorkerMetrics, RuntimeMetrics or an exposed
/// primitive's WaitStats).
template <class M>
struct Series {
  std::string_view name;
  std::string_view type;  // "counter" (the name ends in _total) or "gauge"
  Unit unit;
  std::string_view help;
  std::uint64_t (*value)(const M&);
};

constexpr Series<RuntimeMetrics> kRuntimeSeries[] = {
    {"weft_workers", "gauge", Unit::kCount, "Worker threads of the runtime.",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.workers.size(); }},
    {"weft_uptime_seconds", "gauge", Unit::kNanoseconds, "Time since the runtime was built.",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.uptime_ns; }},
    {"weft_tasks_spawned_total", "counter", Unit::kCount,
     "Tasks spawned (spawn, block_on, run, task groups).",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.spawned_tasks; }},
    {"weft_tasks_completed_total", "counter", Unit::kCount,
     "Tasks that finished (returned, threw or were cancelled).",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.completed_tasks; }},
    {"weft_live_tasks", "gauge", Unit::kCount, "Tasks spawned and not yet finished.",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.live_tasks; }},
    {"weft_injection_queue_depth", "gauge", Unit::kCount,
     "Tasks queued from outside the workers (approximate).",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.injection_queue_depth; }},
    {"weft_blocking_threads", "gauge", Unit::kCount, "Threads of the to_thread pool.",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.blocking_threads; }},
    {"weft_blocking_idle_threads", "gauge", Unit::kCount,
     "Threads of the to_thread pool waiting for a job.",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.blocking_idle_threads; }},
    {"weft_blocking_queue_depth", "gauge", Unit::kCount, "to_thread jobs waiting for a thread.",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.blocking_queue_depth; }},
    {"weft_blocking_jobs_total", "counter", Unit::kCount, "to_thread jobs submitted.",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.blocking_jobs; }},
    {"weft_offload_jobs_total", "counter", Unit::kCount, "offload (oneTBB arena) jobs submitted.",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.offload_jobs; }},
    {"weft_metrics_sample_every", "gauge", Unit::kCount,
     "One poll and one wake-up in this many is timed for the histograms.",
     [](const RuntimeMetrics& m) -> std::uint64_t { return m.sample_every; }},
};

constexpr Series<WorkerMetrics> kWorkerSeries[] = {
    {"weft_worker_polls_total", "counter", Unit::kCount, "Task polls (resumptions) the worker ran.",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.polls; }},
    {"weft_worker_lifo_polls_total", "counter", Unit::kCount,
     "Polls of the task in the LIFO slot (woken by the task polled before it).",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.lifo_polls; }},
    {"weft_worker_steals_total", "counter", Unit::kCount,
     "Successful steals (half a queue, or one LIFO task).",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.steals; }},
    {"weft_worker_steal_attempts_total", "counter", Unit::kCount,
     "Other workers' queues the worker tried to steal from.",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.steal_attempts; }},
    {"weft_worker_budget_yields_total", "counter", Unit::kCount,
     "Awaits made to yield because the task's budget ran out.",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.budget_yields; }},
    {"weft_worker_parks_total", "counter", Unit::kCount,
     "Times the worker slept in epoll_wait for lack of work.",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.parks; }},
    {"weft_worker_parked_seconds_total", "counter", Unit::kNanoseconds,
     "Wall time the worker spent parked (the current park included).",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.parked_ns; }},
    {"weft_worker_busy_seconds_total", "counter", Unit::kNanoseconds,
     "Wall time since the worker started, less the time parked.",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.busy_ns; }},
    {"weft_worker_cpu_seconds_total", "counter", Unit::kNanoseconds,
     "CPU time of the worker's thread, user and system.",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.cpu_ns; }},
    {"weft_worker_timers_fired_total", "counter", Unit::kCount,
     "Timers the worker fired (its own or a busy worker's).",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.timers_fired; }},
    {"weft_worker_io_events_total", "counter", Unit::kCount,
     "Epoll events the worker delivered (its own or a busy worker's).",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.io_events; }},
    {"weft_worker_stalls_total", "counter", Unit::kCount,
     "Polls that held the worker longer than the stall threshold.",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.stalls; }},
    {"weft_worker_queue_depth", "gauge", Unit::kCount, "Tasks in the worker's local run queue.",
     [](const WorkerMetrics& w) -> std::uint64_t { return w.queue_depth; }},
};

double seconds(std::uint64_t ns) noexcept {
  return static_cast<double>(ns) / 1e9;
}

/// The shortest text that reads back as the same value (std::to_chars).
class Number {
 public:
  explicit Number(std::uint64_t v) noexcept : len_(written(std::to_chars(buf_, end(), v))) {}
  explicit Number(double v) noexcept : len_(written(std::to_chars(buf_, end(), v))) {}
  Number(std::uint64_t v, Unit unit) noexcept
      : Number(unit == Unit::kNanoseconds ? Number(seconds(v)) : Number(v)) {}

  std::string_view text() const noexcept { return {buf_, len_}; }

 private:
  char* end() noexcept { return buf_ + sizeof buf_; }
  std::size_t written(std::to_chars_result r) const noexcept {
    return static_cast<std::size_t>(r.ptr - buf_);
  }

  char buf_[32]{};  // a double's shortest form takes at most 24 characters
  std::size_t len_;
};

/// Appends the lines of the exposition.
class Writer {
 public:
  /// The HELP and TYPE lines that open a family (`help` has no backslash or newline).
  void family(std::string_view name, std::string_view type, std::string_view help) {
    append("# HELP ", name, " ", help, "\n");
    append("# TYPE ", name, " ", type, "\n");
  }
  /// `name value`.
  void sample(std::string_view name, std::string_view value) { append(name, " ", value, "\n"); }
  /// `name{label="label_value"} value` (`label_value` needs no escaping).
  void sample(std::string_view name, std::string_view label, std::string_view label_value,
              std::string_view value) {
    append(name, "{", label, "=\"", label_value, "\"} ", value, "\n");
  }

  /// `name{name="...",kind="..."} value` for an exposed primitive, its labels escaped.
  void named_sample(std::string_view name, const NamedWaitStats& n, std::string_view value) {
    append(name, "{name=\"");
    escaped(n.name);
    append("\",kind=\"");
    escaped(n.kind);
    append("\"} ", value, "\n");
  }

  std::string take() && { return std::move(out_); }

 private:
  template <class... S>
  void append(const S&... parts) {
    (out_.append(std::string_view(parts)), ...);
  }
  /// A label value as the format escapes it: backslash, double quote and newline.
  void escaped(std::string_view v) {
    for (char c : v) {
      if (c == '\\') {
        out_ += "\\\\";
      } else if (c == '"') {
        out_ += "\\\"";
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
  }

  std::string out_;
};

void write_histogram(Writer& w, std::string_view name, std::string_view help,
                     const DurationHistogram& h) {
  w.family(name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i + 1 < DurationHistogram::kBuckets; ++i) {
    cumulative += h.buckets[i];
    w.sample(bucket, "le", Number(seconds(DurationHistogram::upper_bound_ns(i))).text(),
             Number(cumulative).text());
  }
  cumulative += h.buckets[DurationHistogram::kBuckets - 1];
  w.sample(bucket, "le", "+Inf", Number(cumulative).text());
  w.sample(std::string(name) + "_sum", Number(seconds(h.sum_ns)).text());
  w.sample(std::string(name) + "_count", Number(cumulative).text());
}

/// The exposed primitives' families (labels name and kind).
constexpr Series<WaitStats> kWaitSeries[] = {
    {"weft_sync_waits_total", "counter", Unit::kCount,
     "Waits begun on an exposed primitive (weft::metrics::expose): it was not available.",
     [](const WaitStats& s) -> std::uint64_t { return s.waits; }},
    {"weft_sync_waits_cancelled_total", "counter", Unit::kCount,
     "Waits on an exposed primitive that a cancellation or a timeout ended.",
     [](const WaitStats& s) -> std::uint64_t { return s.cancelled; }},
    {"weft_sync_waiting", "gauge", Unit::kCount, "Tasks and threads waiting on it now.",
     [](const WaitStats& s) -> std::uint64_t { return s.waiting; }},
    {"weft_sync_waiting_max", "gauge", Unit::kCount, "The most that waited on it at once.",
     [](const WaitStats& s) -> std::uint64_t { return s.max_waiting; }},
    {"weft_sync_wait_seconds_total", "counter", Unit::kNanoseconds,
     "The ended waits' time, summed (its rate is the mean number waiting).",
     [](const WaitStats& s) -> std::uint64_t {
       return static_cast<std::uint64_t>(s.wait_time.count());
     }},
    {"weft_sync_wait_max_seconds", "gauge", Unit::kNanoseconds, "The longest ended wait.",
     [](const WaitStats& s) -> std::uint64_t {
       return static_cast<std::uint64_t>(s.max_wait.count());
     }},
};

}  // namespace

std::string prometheus_text(const RuntimeMetrics& m) {
  Writer w;
  for (const Series<RuntimeMetrics>& s : kRuntimeSeries) {
    w.family(s.name, s.type, s.help);
    w.sample(s.name, Number(s.value(m), s.unit).text());
  }
  for (const Series<WorkerMetrics>& s : kWorkerSeries) {
    w.family(s.name, s.type, s.help);
    for (std::size_t i = 0; i < m.workers.size(); ++i) {
      w.sample(s.name, "worker", Number(std::uint64_t{i}).text(),
               Number(s.value(m.workers[i]), s.unit).text());
    }
  }
  write_histogram(w, "weft_poll_duration_seconds",
                  "How long one poll of a task ran (sampled: see weft_metrics_sample_every).",
                  m.poll_duration);
  write_histogram(w, "weft_scheduling_delay_seconds",
                  "From a task becoming runnable (woken, or yielding) to its poll (sampled).",
                  m.scheduling_delay);
  if (!m.waits.empty()) {
    for (const Series<WaitStats>& s : kWaitSeries) {
      w.family(s.name, s.type, s.help);
      for (const NamedWaitStats& n : m.waits) {
        w.named_sample(s.name, n, Number(s.value(n.stats), s.unit).text());
      }
    }
  }
  return std::move(w).take();
}

}  // namespace weft::metrics
