// LatencyHistogram: an HDR-style histogram of nanosecond latencies for the load profiler.
//
// Log-linear buckets: values below 64 ns have a bucket each; above, every power-of-two range
// [2^e, 2^(e+1)) is split into 64 equal sub-buckets of width 2^(e-6). A bucket is therefore
// never wider than 1/64 of its lower bound, and a value read back as its bucket's midpoint
// is within 1/128 (0.8%) of the recorded one. The buckets cover all of std::uint64_t, so
// nothing is clamped. The counters are allocated once, by the constructor: record() never
// allocates and costs a bit scan and an increment, cheap enough for every request.
//
// Not thread-safe: the closed loop gives each task its own histogram and merges them when
// the step ends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weft::profile {

/// A histogram of latencies in nanoseconds with at most 1/64 relative bucket width.
class LatencyHistogram {
 public:
  /// An empty histogram; allocates its fixed set of counters.
  LatencyHistogram();

  /// Counts one latency of `ns` nanoseconds. Never allocates.
  void record(std::uint64_t ns) noexcept;
  /// Adds every count of `other` to this histogram.
  void merge(const LatencyHistogram& other) noexcept;

  /// How many latencies were recorded.
  std::uint64_t count() const noexcept { return count_; }
  /// The mean of the recorded latencies (summed in a double: exact below 2^53 ns in all);
  /// 0 when empty.
  double mean() const noexcept;
  /// The smallest recorded latency (exact); 0 when empty.
  std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  /// The largest recorded latency (exact); 0 when empty.
  std::uint64_t max() const noexcept { return max_; }
  /// The latency at quantile `q` in [0, 1] (0.99 is p99): the midpoint of the bucket that
  /// holds the ceil(q * count)-th smallest value, clamped to [min, max]; max() itself for
  /// the largest rank (q = 1, and any q of a few values); 0 when empty.
  std::uint64_t percentile(double q) const noexcept;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace weft::profile
