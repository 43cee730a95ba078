// Named primitives on the metrics pages: weft::metrics::expose_waits registers a function
// that returns a primitive's WaitStats under a name, and every runtime's metrics() (its
// `waits`) and prometheus_text() show it as long as the returned Exposure lives — the queue
// a server's requests stand in, next to the workers, for the profiler to name when it is the
// limit. weft/sync/expose.hpp has the overloads for Mutex, Semaphore, Pool and Queue.
//
// The registry is the process's, like a Prometheus client's default registry: a primitive is
// not bound to one runtime, so each runtime's page shows all of them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "weft/runtime/wait_stats.hpp"

namespace weft::metrics {

/// One side of an exposed primitive: its kind ("semaphore", "queue get"…) and how to read it.
struct WaitSource {
  std::string kind;
  std::function<WaitStats()> read;
};

/// Keeps a primitive on the metrics pages; destroying (or reset()) takes it off, after any
/// snapshot that is reading it has finished. Declare it after the primitive it exposes, so it
/// goes first.
class [[nodiscard]] Exposure {
 public:
  Exposure() noexcept = default;
  Exposure(Exposure&& other) noexcept : id_(other.id_) { other.id_ = 0; }
  Exposure& operator=(Exposure&& other) noexcept;
  Exposure(const Exposure&) = delete;
  Exposure& operator=(const Exposure&) = delete;
  ~Exposure() { reset(); }

  /// Takes the primitive off the pages now (waits for a snapshot reading it). Any thread.
  void reset() noexcept;
  /// Whether it still exposes one.
  explicit operator bool() const noexcept { return id_ != 0; }

 private:
  friend Exposure expose_waits(std::string name, std::vector<WaitSource> sources);
  explicit Exposure(std::uint64_t id) noexcept : id_(id) {}
  std::uint64_t id_ = 0;
};

/// Shows each of `sources` under `name` and its kind on the metrics pages until the returned
/// Exposure goes. Throws std::invalid_argument for an empty name, no sources, a source
/// without a kind or a read function, and when a (name, kind) pair is exposed already (the
/// page would carry one series twice). `read` is called on the thread taking a snapshot,
/// with the registry's lock held: it must not expose or reset, and must be safe to call from
/// any thread (the primitives' wait_stats() are).
Exposure expose_waits(std::string name, std::vector<WaitSource> sources);

/// Every exposed source's waits now, in the order they were exposed. Any thread.
std::vector<NamedWaitStats> exposed_waits();

}  // namespace weft::metrics
