// The names of the tasks a worker started while tracing: a trace names a task that has
// ended by the time it is read (docs/design.md §8, "Tracing").
//
// The rule is the event ring's (trace_ring.hpp): one writer, the worker, which never waits
// or allocates and overwrites the oldest name; a sequence number per slot lets a copy on
// another thread drop a slot the writer was overwriting. A name is kept to its first
// kMaxName bytes, stored as relaxed words.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "trace/trace_ring.hpp"

namespace weft::detail {

class TraceNameRing {
 public:
  static constexpr std::size_t kWords = 5;
  static constexpr std::size_t kMaxName = kWords * 8;

  /// A ring of at least `capacity` names (a power of two, at least 2).
  explicit TraceNameRing(std::size_t capacity) {
    std::size_t c = 2;
    while (c < capacity) c *= 2;
    mask_ = c - 1;
    slots_ = std::make_unique<Slot[]>(c);
  }

  /// Notes task `id`'s name. The owner only.
  void push(std::uint64_t id, std::string_view name) noexcept {
    const std::uint64_t pos = next_++;
    Slot& s = slots_[pos & mask_];
    s.seq.store(2 * pos + 1, std::memory_order_relaxed);  // odd: being written
    s.id.store(id, std::memory_order_release);
    const std::size_t n = std::min(name.size(), kMaxName);
    s.len.store(static_cast<std::uint8_t>(n), std::memory_order_release);
    for (std::size_t w = 0; w < kWords; ++w) {
      std::uint64_t word = 0;
      if (w * 8 < n) std::memcpy(&word, name.data() + w * 8, std::min<std::size_t>(8, n - w * 8));
      s.words[w].store(word, std::memory_order_release);
    }
    s.seq.store(2 * (pos + 1), std::memory_order_release);
    written_.store(pos + 1, std::memory_order_release);
  }

  struct Named {
    std::uint64_t id;
    std::string name;
  };
  /// The names still in the ring, without those overwritten while copied. Any thread.
  std::vector<Named> snapshot() const {
    const std::uint64_t end = written_.load(std::memory_order_acquire);
    const std::uint64_t cap = mask_ + 1;
    std::vector<Named> out;
    for (std::uint64_t pos = end > cap ? end - cap : 0; pos < end; ++pos) {
      const Slot& s = slots_[pos & mask_];
      const std::uint64_t want = 2 * (pos + 1);
      if (s.seq.load(std::memory_order_acquire) != want) continue;
      const std::uint64_t id = s.id.load(std::memory_order_acquire);
      const std::size_t n = s.len.load(std::memory_order_acquire);
      char buf[kMaxName];
      for (std::size_t w = 0; w < kWords; ++w) {
        const std::uint64_t word = s.words[w].load(std::memory_order_acquire);
        std::memcpy(buf + w * 8, &word, 8);
      }
      if (s.seq.load(std::memory_order_relaxed) != want) continue;  // overwritten meanwhile
      out.push_back({id, std::string(buf, std::min(n, kMaxName))});
    }
    return out;
  }

 private:
  struct Slot {
    std::atomic<std::uint64_t> seq{0};
    std::atomic<std::uint64_t> id{0};
    std::atomic<std::uint8_t> len{0};
    std::array<std::atomic<std::uint64_t>, kWords> words{};
  };

  std::size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  std::uint64_t next_ = 0;  // the owner's
  std::atomic<std::uint64_t> written_{0};
};

/// What one worker writes while tracing: its events and the names of the tasks it started.
struct TraceBuffers {
  explicit TraceBuffers(std::size_t events) : events(events), names(events / 8) {}
  TraceRing events;
  TraceNameRing names;
};

}  // namespace weft::detail
