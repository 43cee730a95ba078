// The process's peak resident memory, for tests that check a call allocates for the bytes it
// handles rather than for a size it was asked for (an allocation of n bytes that is filled
// or zeroed raises the peak by n).
#pragma once

#include <cstddef>
#include <fstream>
#include <string>

#include <weft/runtime/detail/sanitizer.hpp>

namespace weft::test {

/// True where the peak measures the program's own memory closely enough to bound one
/// allocation: ThreadSanitizer keeps four bytes of shadow per byte touched, resident too.
inline constexpr bool kPeakRssIsTight = !weft::detail::kThreadSanitized;

/// VmHWM of /proc/self/status in bytes: the most memory resident at once since the process
/// started or since reset_peak_rss(). 0 if it cannot be read.
inline std::size_t peak_rss() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      std::size_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    std::getline(status, key);
  }
  return 0;
}

/// Resets the peak to what is resident now (clear_refs 5). Where the kernel refuses, the peak
/// stays the process's, so a growth measured from it can only read low (a missed alarm, never
/// a false one).
inline void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
}

}  // namespace weft::test
