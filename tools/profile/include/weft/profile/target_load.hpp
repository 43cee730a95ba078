// What the target's runtime did during a step, from its /metrics (weft's Prometheus text,
// weft::metrics::prometheus_text) read before and after the step: how busy its workers'
// CPUs were, how long its tasks waited to be polled, and the resource that points at.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::profile {

/// A cumulative Prometheus histogram: (upper bound in seconds, samples at most that), the
/// last bound +infinity.
struct CumulativeHistogram {
  std::vector<std::pair<double, std::uint64_t>> buckets{};
};

/// One exposed primitive's waits on the page (weft_sync_*, weft::metrics::expose).
struct WaitSample {
  std::string name;
  std::string kind;  ///< "semaphore", "mutex", "pool", "queue get", "queue put"…
  std::uint64_t waits = 0;
  double wait_seconds = 0;  ///< the ended waits' time, summed
};

/// The series of one /metrics page that the profiler uses.
struct RuntimeSample {
  double uptime = 0;                  ///< seconds
  std::vector<double> worker_cpu{};   ///< per worker, CPU seconds
  std::vector<double> worker_busy{};  ///< per worker, wall seconds not parked
  std::uint64_t polls = 0;            ///< all workers'
  std::uint64_t steals = 0;
  std::uint64_t parks = 0;
  CumulativeHistogram scheduling_delay{};
  std::vector<WaitSample> waits{};  ///< in the page's order
};

/// Parses weft's Prometheus text. Throws std::runtime_error naming what is wrong if it is
/// not a weft runtime's page (no weft_uptime_seconds, a malformed sample line).
RuntimeSample parse_runtime_sample(std::string_view text);

/// An exposed primitive's queue between two samples.
struct QueueLoad {
  std::string name;
  std::string kind;
  double waiting = 0;           ///< the mean number waiting (wait time / elapsed, Little's law)
  double waits_per_second = 0;  ///< waits begun
  double mean_wait = 0;         ///< seconds, of the waits that ended between the samples
};

/// The target's runtime between two samples.
struct TargetLoad {
  double seconds = 0;  ///< between the samples (the target's uptime)
  int workers = 0;
  double cpu = 0;      ///< mean over workers of CPU time / elapsed, 0..1
  double max_cpu = 0;  ///< the busiest worker's
  int busiest_worker = 0;
  double busy = 0;  ///< mean over workers of wall time not parked / elapsed
  double polls_per_second = 0;
  double steals_per_second = 0;
  double parks_per_second = 0;
  /// p99 of the scheduling delay sampled between the two (an upper bucket bound, seconds);
  /// empty without samples.
  std::optional<double> scheduling_delay_p99{};
  /// The exposed primitives present in both samples, in the later page's order.
  std::vector<QueueLoad> queues{};
};

/// What `after` adds to `before`. Throws std::runtime_error if `after` is not later than
/// `before` (another process, a restarted target) or the worker counts differ.
TargetLoad load_between(const RuntimeSample& before, const RuntimeSample& after);

/// The resource the load points at, in a sentence: the workers' CPUs when they are nearly
/// all busy, one worker's when the load is not spread, an exposed semaphore, mutex, pool, full
/// queue or socket's writes when tasks stood in its queue (one or more waiting on average;
/// not waits for an event, a notification, an item or a peer's data), the run queues
/// when tasks wait long to be polled on idle CPUs, else something outside the runtime.
std::string saturated_resource(const TargetLoad& load);

}  // namespace weft::profile
