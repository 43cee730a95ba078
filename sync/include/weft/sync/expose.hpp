// weft::metrics::expose: a Mutex, Semaphore, Pool, Event, Condition or queue on the metrics
// pages under a name (exposed_waits.hpp) — its waits counted from now on (track_waits()) and
// shown by every runtime's metrics() and prometheus_text() as weft_sync_* series labelled
// name="…" and kind="…", while the returned Exposure lives:
//
//   weft::Semaphore db_slots(16);
//   weft::metrics::Exposure exposed = weft::metrics::expose("db", db_slots);
//
// The primitive must stay where it is (not moved) until the Exposure is gone: declare the
// Exposure after it. A Queue (or LifoQueue, PriorityQueue) shows two series, kind "queue get"
// (consumers waiting for items) and "queue put" (producers held back by a full queue).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "weft/runtime/exposed_waits.hpp"
#include "weft/sync/condition.hpp"
#include "weft/sync/event.hpp"
#include "weft/sync/lifo_queue.hpp"
#include "weft/sync/mutex.hpp"
#include "weft/sync/pool.hpp"
#include "weft/sync/priority_queue.hpp"
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

/// Exposes the waits for `e`'s flag as kind "event".
inline Exposure expose(std::string name, Event& e) {
  return detail::expose_one(std::move(name), "event", e);
}

/// Exposes the waits for `c`'s notifications as kind "condition".
inline Exposure expose(std::string name, Condition& c) {
  return detail::expose_one(std::move(name), "condition", c);
}

/// Exposes a Queue's, LifoQueue's or PriorityQueue's get() waits as kind "queue get" and its
/// put() waits as "queue put".
template <class Q>
requires requires(Q& q) {
  q.track_waits();
  q.get_wait_stats();
  q.put_wait_stats();
}
Exposure expose(std::string name, Q& q) {
  q.track_waits();
  std::vector<WaitSource> sources;
  sources.push_back({"queue get", [&q] { return q.get_wait_stats(); }});
  sources.push_back({"queue put", [&q] { return q.put_wait_stats(); }});
  return expose_waits(std::move(name), std::move(sources));
}

}  // namespace weft::metrics
