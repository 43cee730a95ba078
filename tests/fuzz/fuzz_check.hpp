// What the fuzz targets share: a check that aborts (so libFuzzer reports the input as a
// crash and saves it) naming the broken invariant, and the cut points at which a target
// splits its input to compare a fed-in-pieces parse with the whole one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <source_location>
#include <string_view>
#include <vector>

namespace weft::fuzz {

/// Aborts with `what` and the caller's line unless `ok`.
inline void check(bool ok, const char* what,
                  std::source_location where = std::source_location::current()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s (%s:%u)\n", what, where.file_name(),
               static_cast<unsigned>(where.line()));
  std::abort();
}

/// Whether `part` lies within `whole` (an empty view may sit at its end).
inline bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

/// Cut points for an input of `size` bytes, chosen from its bytes so that a crash replays:
/// two cuts, or every byte for a short input (each prefix is one parse, so a long input
/// fed a byte at a time would cost its size squared).
inline std::vector<std::size_t> cuts_for(std::string_view input) {
  std::vector<std::size_t> cuts;
  const std::size_t n = input.size();
  if (n <= 96) {
    for (std::size_t i = 1; i < n; ++i) cuts.push_back(i);
    return cuts;
  }
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : input) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  std::size_t a = static_cast<std::size_t>(h % (n + 1));
  std::size_t b = a + static_cast<std::size_t>((h >> 32) % (n - a + 1));
  cuts.push_back(a);
  cuts.push_back(b);
  return cuts;
}

}  // namespace weft::fuzz
