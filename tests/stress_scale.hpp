// WEFT_STRESS_SCALE for the tests labelled "stress": a float (default 1.0) that scales how
// many tasks, threads' operations or iterations a stress test uses. tools/test runs them at 1
// in every build and at 0.1 in the schedule-fuzzing run, whose stalls make each operation
// slow, so the same interleaving checks run there at a tenth of the size.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>

namespace weft::test {

/// The value of WEFT_STRESS_SCALE, or 1.0 when it is unset or not a positive number.
inline double stress_scale() {
  const char* env = std::getenv("WEFT_STRESS_SCALE");
  if (!env) return 1.0;
  char* end = nullptr;
  double s = std::strtod(env, &end);
  if (end == env || !std::isfinite(s) || s <= 0) return 1.0;
  return s;
}

/// `n` times the stress scale, rounded, and at least `min`.
inline std::size_t scaled(std::size_t n, std::size_t min = 1) {
  auto s = static_cast<std::size_t>(std::llround(static_cast<double>(n) * stress_scale()));
  return std::max(min, s);
}

}  // namespace weft::test
