// A worker's ring read back as times: its unstamped events given theirs, and each poll an
// end (docs/design.md §8, "Tracing").
//
// The rule: a traced poll reads the clock once, at its begin, or not at all in a group of
// short polls (Worker::trace_poll), and writes no end; what the ring holds is resolved
// here, where time is cheap. A group's unstamped polls share the span between the stamped
// events around them evenly; an unstamped wake-up, spawn or first-poll note (written as a
// poll ends) takes the stamp of the worker's next stamped event; a poll ends where the next
// event that is not one of those begins.
#pragma once

#include <vector>

#include "trace/trace_ring.hpp"

namespace weft::detail {

/// `events` (one worker's, oldest first, as TraceRing::snapshot gives them) with every
/// event stamped and a kPollEnd after each poll's begin. A grouped poll's begin, and the
/// stamped first of its group, carry the group's size in `aux`. Left out: the grouped polls
/// and unstamped events with no stamp after them (their poll has not ended as far as the
/// ring can tell) and grouped polls with no stamp before them (the ring lost it).
std::vector<TraceEvent> with_resolved_stamps(std::vector<TraceEvent> events);

}  // namespace weft::detail
