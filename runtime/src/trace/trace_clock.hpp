// The time stamps of trace events (docs/design.md §8, "Tracing").
//
// The rule: a traced poll writes its events with one counter read each, so the stamp is the
// CPU's time-stamp counter where it ticks at a constant rate on every CPU (x86's
// constant_tsc and nonstop_tsc), else CLOCK_MONOTONIC. Reading the TSC takes a few
// nanoseconds; clock_gettime through the vDSO about twenty, which is a poll's worth for a
// task that yields. The stamps are converted to CLOCK_MONOTONIC nanoseconds only when the
// trace is written, from two readings of both clocks: when tracing started and now.
#pragma once

#include <cstdint>
#include <ctime>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace weft::detail {

/// A group of traced polls (Worker::trace_poll) is this many, the first stamped, when the
/// polls before it averaged under RuntimeOptions::trace_grouped_polls_under: by default a
/// group spans 16 x 125 ns = 2 us or less unless one of its polls was long, and the export
/// shows each poll of it as an even share of the group's span.
inline constexpr std::uint32_t kTraceGroup = 16;

/// A trace stamp: the TSC if `tsc`, else CLOCK_MONOTONIC ns.
inline std::int64_t trace_stamp(bool tsc) noexcept {
#if defined(__x86_64__)
  if (tsc) return static_cast<std::int64_t>(__rdtsc());
#endif
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// True if this machine's TSC serves as a trace clock (/proc/cpuinfo's flags).
bool trace_tsc_usable() noexcept;

/// Maps stamps to CLOCK_MONOTONIC ns by the line through two readings of both clocks.
class TraceClock {
 public:
  /// The first reading: now.
  explicit TraceClock(bool tsc) noexcept;
  bool tsc() const noexcept { return tsc_; }
  /// Takes the second reading (now) for to_ns.
  void calibrate() noexcept;
  std::int64_t to_ns(std::int64_t stamp) const noexcept;

 private:
  bool tsc_;
  std::int64_t stamp0_ = 0, ns0_ = 0;
  double ns_per_stamp_ = 1.0;
};

}  // namespace weft::detail
