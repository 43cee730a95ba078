// What a runtime reports about itself: Runtime::metrics() and RuntimeHandle::metrics() take a
// snapshot of these counters, gauges and histograms; weft::metrics::prometheus_text formats
// one for Prometheus.
//
// Every value is counted where it happens, by the thread it happens on, with relaxed atomics,
// so taking a snapshot costs the workers nothing and a snapshot is not a transaction (two
// counters read a moment apart). The two histograms are sampled: one poll (and one wake-up) in
// RuntimeOptions::metrics_sample_every is timed, so that reading the clock stays off the
// common path. The sampled wake-up is one that poll made (or the first of the next batch of
// I/O events and timers if it made none); wake-ups from other threads are not sampled.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "weft/runtime/wait_stats.hpp"

namespace weft {

/// A histogram of durations with log-scale buckets: bucket 0 holds [0, 256) ns, bucket i
/// (1 ≤ i < kBuckets - 1) holds [2^(7+i), 2^(8+i)) ns, and the last bucket everything from
/// 2^(7+kBuckets-1) ns (about 1.07 s) up.
struct DurationHistogram {
  static constexpr std::size_t kBuckets = 24;

  /// The exclusive upper bound of bucket `i` in nanoseconds; UINT64_MAX for the last one.
  static constexpr std::uint64_t upper_bound_ns(std::size_t i) noexcept {
    return i + 1 >= kBuckets ? ~std::uint64_t{0} : std::uint64_t{256} << i;
  }
  /// The bucket that holds `ns`.
  static constexpr std::size_t bucket_of(std::uint64_t ns) noexcept {
    std::size_t i = 0;
    while (i + 1 < kBuckets && ns >= upper_bound_ns(i)) ++i;
    return i;
  }

  std::array<std::uint64_t, kBuckets> buckets{};  ///< samples per bucket
  std::uint64_t count = 0;                        ///< samples in all (the buckets' sum)
  std::uint64_t sum_ns = 0;                       ///< the samples' total

  /// The upper bound of the bucket that holds the q-quantile (0 < q ≤ 1), so at most twice
  /// the true value; the last bucket's lower bound if it lies there; 0 without samples.
  std::uint64_t quantile_ns(double q) const noexcept;
  /// Adds `other`'s samples to these.
  void merge(const DurationHistogram& other) noexcept;
};

/// One worker's counters (since the runtime started) and gauges (now).
struct WorkerMetrics {
  /// Task polls it ran from its queues (a child its joiner runs inline, and a joiner its
  /// child resumes on completing, are part of the poll they run in).
  std::uint64_t polls = 0;
  std::uint64_t lifo_polls = 0;      ///< of which the LIFO slot's task (woken by the one before)
  std::uint64_t steals = 0;          ///< successful steals (half a queue, or one LIFO task)
  std::uint64_t steal_attempts = 0;  ///< other workers' queues it tried to steal from
  std::uint64_t budget_yields = 0;   ///< awaits made to yield because the task's budget ran out
  std::uint64_t parks = 0;           ///< times it slept in epoll_wait for lack of work
  std::uint64_t parked_ns = 0;       ///< wall time spent parked (the current park included)
  std::uint64_t busy_ns = 0;         ///< wall time since it started, less parked_ns
  std::uint64_t cpu_ns = 0;          ///< its thread's CPU time, user and system
  std::uint64_t timers_fired = 0;    ///< timers it fired (its own or a busy worker's)
  std::uint64_t io_events = 0;       ///< epoll events it delivered (its own or a busy worker's)
  std::uint64_t stalls = 0;          ///< polls the stall detector reported (stall.hpp)
  std::size_t queue_depth = 0;       ///< tasks in its local run queue now
};

/// A snapshot of a whole runtime.
struct RuntimeMetrics {
  std::vector<WorkerMetrics> workers;     ///< one per worker, in index order
  std::uint64_t uptime_ns = 0;            ///< since the runtime was built
  std::uint64_t spawned_tasks = 0;        ///< tasks spawned (spawn, block_on, run, task groups)
  std::uint64_t completed_tasks = 0;      ///< tasks that finished (returned, threw or cancelled)
  std::size_t live_tasks = 0;             ///< spawned and not yet finished
  std::size_t injection_queue_depth = 0;  ///< tasks queued from outside the workers (approx.)
  std::size_t blocking_threads = 0;       ///< threads of the to_thread pool
  std::size_t blocking_idle_threads = 0;  ///< of which waiting for a job
  std::size_t blocking_queue_depth = 0;   ///< to_thread jobs waiting for a thread
  std::uint64_t blocking_jobs = 0;        ///< to_thread jobs submitted
  std::uint64_t offload_jobs = 0;         ///< offload (oneTBB arena) jobs submitted
  /// How long one poll of a task ran (sampled, see metrics_sample_every).
  DurationHistogram poll_duration;
  /// From a task becoming runnable (woken, or yielding) to its poll (sampled). Woken by a
  /// poll, it counts as runnable from that poll's end.
  DurationHistogram scheduling_delay;
  std::uint32_t sample_every = 0;  ///< one poll and one wake-up in this many is timed
  /// The primitives exposed by name (weft::metrics::expose, exposed_waits.hpp): the
  /// process's, on every runtime's snapshot.
  std::vector<metrics::NamedWaitStats> waits;
};

}  // namespace weft
