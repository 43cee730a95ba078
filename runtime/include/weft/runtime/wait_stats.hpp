// What the waits on one sync primitive come to: how many tasks had to wait, how many wait
// now and at most, for how long — the queue in front of a semaphore, a mutex, a pool or a
// queue that a server's requests stand in when it stops scaling (docs/guide.md, "Finding
// your concurrency limit"). A primitive's wait_stats() returns one once its track_waits()
// was called; weft::metrics::expose (weft/sync/expose.hpp) puts it on the metrics pages.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace weft {

/// A snapshot of one primitive's (or one side of a queue's) waits since tracking began.
struct WaitStats {
  bool tracked = false;           ///< track_waits() was called; all zero otherwise
  std::uint64_t waits = 0;        ///< waits begun: a task or thread that found it unavailable
  std::uint64_t ended = 0;        ///< waits over, woken or cancelled
  std::uint64_t cancelled = 0;    ///< of those, ended by a cancellation (a timeout too)
  std::uint64_t waiting = 0;      ///< waiting now (waits − ended)
  std::uint64_t max_waiting = 0;  ///< the most waiting at once
  std::chrono::nanoseconds wait_time{0};  ///< the ended waits' time, summed
  std::chrono::nanoseconds max_wait{0};   ///< the longest ended wait
  /// The ended waits' mean time; zero if none ended.
  std::chrono::nanoseconds mean_wait() const noexcept {
    return ended ? wait_time / static_cast<std::int64_t>(ended) : std::chrono::nanoseconds(0);
  }
};

namespace metrics {

/// An exposed primitive's waits (exposed_waits.hpp), as RuntimeMetrics::waits lists them.
struct NamedWaitStats {
  std::string name;  ///< as exposed, e.g. "db"
  std::string kind;  ///< what it is: "semaphore", "mutex", "pool", "queue get", "queue put"…
  WaitStats stats;
};

}  // namespace metrics
}  // namespace weft
