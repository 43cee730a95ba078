// DurationHistogram's arithmetic (metrics.hpp). The counting itself is the scheduler's
// (Worker::Remote, Scheduler::metrics).
#include "weft/runtime/metrics.hpp"

#include <cmath>

namespace weft {

std::uint64_t DurationHistogram::quantile_ns(double q) const noexcept {
  if (count == 0) return 0;
  // The rank of the q-quantile among the samples, 1-based: the smallest sample with at
  // least q of all samples at or below it.
  const double wanted = std::ceil(q * static_cast<double>(count));
  const std::uint64_t rank = wanted < 1 ? 1 : static_cast<std::uint64_t>(wanted);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets[i];
    if (seen >= rank) return i + 1 < kBuckets ? upper_bound_ns(i) : upper_bound_ns(i - 1);
  }
  return upper_bound_ns(kBuckets - 2);
}

void DurationHistogram::merge(const DurationHistogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets[i] += other.buckets[i];
  count += other.count;
  sum_ns += other.sum_ns;
}

}  // namespace weft
