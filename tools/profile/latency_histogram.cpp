// LatencyHistogram: the bucket arithmetic (see the header for the layout).
#include "weft/profile/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace weft::profile {
namespace {

// 2^kSubBits sub-buckets per power of two: the bucket width is 2^-kSubBits of its range.
constexpr int kSubBits = 6;
constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBits;
// Values below kSubBuckets have a bucket each; then one range per exponent kSubBits..63.
constexpr std::size_t kBuckets = kSubBuckets + (64 - kSubBits) * kSubBuckets;

std::size_t bucket_of(std::uint64_t ns) noexcept {
  if (ns < kSubBuckets) return static_cast<std::size_t>(ns);
  const int exponent = std::bit_width(ns) - 1;
  const int shift = exponent - kSubBits;
  const std::uint64_t sub = (ns >> shift) - kSubBuckets;
  return static_cast<std::size_t>(kSubBuckets + shift * kSubBuckets + sub);
}

// The midpoint of bucket `index`, rounded down.
std::uint64_t midpoint_of(std::size_t index) noexcept {
  if (index < kSubBuckets) return index;
  const std::size_t shift = (index - kSubBuckets) / kSubBuckets;
  const std::uint64_t sub = (index - kSubBuckets) % kSubBuckets;
  const std::uint64_t low = (kSubBuckets + sub) << shift;
  const std::uint64_t width = std::uint64_t{1} << shift;
  return low + (width - 1) / 2;
}

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

void LatencyHistogram::record(std::uint64_t ns) noexcept {
  ++counts_[bucket_of(ns)];
  ++count_;
  sum_ += static_cast<double>(ns);
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

double LatencyHistogram::mean() const noexcept {
  if (count_ == 0) return 0.0;
  return sum_ / static_cast<double>(count_);
}

std::uint64_t LatencyHistogram::percentile(double q) const noexcept {
  if (count_ == 0) return 0;
  const double wanted = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_));
  const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  if (rank >= count_) return max_;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(midpoint_of(i), min_, max_);
  }
  return max_;
}

}  // namespace weft::profile
