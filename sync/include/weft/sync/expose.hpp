// weft::metrics::expose: a Mutex, Semaphore, Pool or Queue on the metrics pages under a name
// (exposed_waits.hpp) — its waits counted from now on (track_waits()) and shown by every
// runtime's metrics() and prometheus_text() as weft_sync_* series labelled name="…" and
// kind="…", while the returned Exposure lives:
//
//   weft::Semaphore db_slots(16);
//   weft::metrics::Exposure exposed = weft::metrics::expose("db", db_slots);
//
// The primitive must stay where it is (not moved) until the Exposure is gone: declare the
// Exposure after it. A Queue shows two series, kind "queue get" (consumers waiting for items)
// and "queue put" (producers held back by a full queue).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "weft/runtime/exposed_waits.hpp"
#include "weft/sync/mutex.hpp"
#include "weft/sync/pool.hpp"
#include "weft/sync/queue.hpp"
#include "weft/sync/semaphore.hpp"

namespace weft::metrics {

namespace detail {
template <class P>
Exposure expose_one(std::string name, std::string kind, P& primitive) {
  primitive.track_waits();
  std::vector<WaitSource> sources;
  sources.push_back({std::move(kind), [&primitive] { return primitive.wait_stats(); }});
  return expose_waits(std::move(name), std::move(sources));
}
}  // namespace detail

/// Exposes `m`'s lock waits as kind "mutex". Throws std::invalid_argument as expose_waits.
inline Exposure expose(std::string name, Mutex& m) {
  return detail::expose_one(std::move(name), "mutex", m);
}

/// Exposes the waits for `s`'s permits as kind "semaphore".
inline Exposure expose(std::string name, Semaphore& s) {
  return detail::expose_one(std::move(name), "semaphore", s);
}

/// Exposes the acquire() waits of `p` as kind "pool".
template <class T>
Exposure expose(std::string name, Pool<T>& p) {
  return detail::expose_one(std::move(name), "pool", p);
}

/// Exposes `q`'s get() waits as kind "queue get" and its put() waits as "queue put".
template <class T>
Exposure expose(std::string name, Queue<T>& q) {
  q.track_waits();
  std::vector<WaitSource> sources;
  sources.push_back({"queue get", [&q] { return q.get_wait_stats(); }});
  sources.push_back({"queue put", [&q] { return q.put_wait_stats(); }});
  return expose_waits(std::move(name), std::move(sources));
}

}  // namespace weft::metrics
