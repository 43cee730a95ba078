// The profiler's outputs: a markdown table with the fit and the knee under it, for people,
// and the same numbers as JSON, for scripts and later plots. Latencies are in microseconds
// in both.
#pragma once

#include <string>

#include "weft/profile/profile.hpp"

namespace weft::profile {

/// The steps as a markdown table (concurrency, req/s, p50/p90/p99/p99.9 µs, max µs,
/// errors), then a line for the USL fit and one for the knee.
std::string markdown_report(const Profile& profile);

/// The whole profile as one JSON object: "target", "steps" [...], "usl" (or null), "knee".
std::string json_report(const Profile& profile);

}  // namespace weft::profile
