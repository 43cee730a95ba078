// Per-thread size-class caches for coroutine frames (detail/frame_allocator.hpp).
//
// In ASan and TSan builds (kSanitized) allocate_frame and free_frame are operator new and
// operator delete, and the caches below are never used: a block kept in a free list is one
// the sanitizers never see freed, so a use-after-free of a frame would go unreported
// (DESIGN invariant 5). Other builds compile exactly the cached path.
#include "weft/runtime/detail/frame_allocator.hpp"

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "weft/runtime/detail/sanitizer.hpp"

namespace weft::detail {

namespace {

constexpr std::size_t kGranule = 32;
constexpr std::size_t kClasses = 32;  // 32 .. 1024 bytes
constexpr std::size_t kBatch = 64;    // blocks moved between a thread and the depot at once
constexpr std::size_t kCap = 2 * kBatch;

struct Block {
  Block* next;
};

/// Batches of free blocks that threads hand over when their caches overflow.
struct Depot {
  std::mutex mu;
  std::array<std::vector<Block*>, kClasses> batches;  // each entry: a list of kBatch blocks
  std::array<std::atomic<std::size_t>, kClasses>
      sizes{};  // batches[c].size(), for a lock-free peek
};
Depot& depot() {
  static Depot* d = new Depot();  // never destroyed: frames may be freed during exit
  return *d;
}

// Trivially constructible and destructible, so the hot path reads it with no TLS init
// call; the Reaper (touched once per thread) drains it when the thread exits.
struct ThreadCache {
  Block* head[kClasses];
  std::size_t count[kClasses];
  bool reaper_armed;
  bool gone;
};
thread_local ThreadCache tls_cache;

void drain(ThreadCache& c) noexcept {
  for (std::size_t k = 0; k < kClasses; ++k) {
    while (Block* b = c.head[k]) {
      c.head[k] = b->next;
      std::free(b);
    }
    c.count[k] = 0;
  }
}

struct Reaper {
  ~Reaper() {
    tls_cache.gone = true;  // frames freed later in this thread's exit go to free()
    drain(tls_cache);
  }
};
thread_local Reaper tls_reaper;

[[gnu::noinline]] void arm_reaper(ThreadCache& tc) {
  tc.reaper_armed = true;
  (void)&tls_reaper;  // odr-use constructs it: its destructor runs at thread exit
}

[[gnu::noinline]] void* pop_slow(std::size_t c) {
  ThreadCache& tc = tls_cache;
  if (!tc.reaper_armed) arm_reaper(tc);
  Depot& d = depot();
  // Relaxed peek: a stale answer only costs a malloc or a lock.
  if (d.sizes[c].load(std::memory_order_relaxed) == 0) return nullptr;
  {
    std::lock_guard lk(d.mu);
    if (d.batches[c].empty()) return nullptr;
    tc.head[c] = d.batches[c].back();
    d.batches[c].pop_back();
    d.sizes[c].store(d.batches[c].size(), std::memory_order_relaxed);
  }
  tc.count[c] = kBatch;
  Block* b = tc.head[c];
  tc.head[c] = b->next;
  --tc.count[c];
  return b;
}

[[gnu::noinline]] void push_overflow(std::size_t c) noexcept {
  // Over the cap: hand kBatch blocks to the depot for other threads.
  ThreadCache& tc = tls_cache;
  Block* batch = tc.head[c];
  Block* last = batch;
  for (std::size_t i = 1; i < kBatch; ++i) last = last->next;
  tc.head[c] = last->next;
  last->next = nullptr;
  tc.count[c] -= kBatch;
  Depot& d = depot();
  std::lock_guard lk(d.mu);
  d.batches[c].push_back(batch);
  d.sizes[c].store(d.batches[c].size(), std::memory_order_relaxed);
}

std::size_t class_of(std::size_t size) {
  return (size + kGranule - 1) / kGranule - 1;
}

}  // namespace

void* allocate_frame(std::size_t size) {
  if constexpr (kSanitized) return ::operator new(size);
  std::size_t c = class_of(size);
  ThreadCache& tc = tls_cache;
  if (c < kClasses && !tc.gone) {
    if (Block* b = tc.head[c]) {
      tc.head[c] = b->next;
      --tc.count[c];
      return b;
    }
    if (void* p = pop_slow(c)) return p;
    if (void* p = std::malloc((c + 1) * kGranule)) return p;
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(size)) return p;
  throw std::bad_alloc();
}

void free_frame(void* p, std::size_t size) noexcept {
  if constexpr (kSanitized) {
    ::operator delete(p, size);
    return;
  }
  std::size_t c = class_of(size);
  ThreadCache& tc = tls_cache;
  if (c < kClasses && !tc.gone) {
    if (!tc.reaper_armed) arm_reaper(tc);
    auto* b = static_cast<Block*>(p);
    b->next = tc.head[c];
    tc.head[c] = b;
    if (++tc.count[c] >= kCap) push_overflow(c);
    return;
  }
  std::free(p);
}

}  // namespace weft::detail
