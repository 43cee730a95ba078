// What both loops do with a session: one request under a timeout, a reconnect after a
// failure, connecting a step's sessions, and durations in nanoseconds for the histograms.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <weft/runtime/task.hpp>
#include <weft/runtime/time.hpp>

#include "weft/profile/target.hpp"

namespace weft::profile {

/// A request that takes longer has failed: a target that stops answering must not hang a
/// step. Far above any latency worth profiling.
inline constexpr auto kRequestTimeout = std::chrono::seconds(10);

/// One request on `session`; false (and `session` reset) if it failed or timed out.
/// Cancellation passes through.
Task<bool> try_request(std::unique_ptr<Session>& session);

/// A new session in place of a failed one; false (after a short pause, so that a dead
/// target cannot make a loop spin) if connecting failed. Cancellation passes through.
Task<bool> try_reconnect(Target& target, std::unique_ptr<Session>& session);

/// `count` sessions, connected concurrently; throws what the first failed connect threw.
Task<std::vector<std::unique_ptr<Session>>> connect_all(Target& target, int count);

/// `d` in whole nanoseconds (negative durations are 0).
std::uint64_t nanoseconds(Duration d);

}  // namespace weft::profile
