// Per-thread size-class caches for coroutine frames (detail/frame_allocator.hpp).
#include "weft/runtime/detail/frame_allocator.hpp"

#include <array>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace weft::detail {

namespace {

constexpr std::size_t kGranule = 64;
constexpr std::size_t kClasses = 16;  // 64 .. 1024 bytes
constexpr std::size_t kBatch = 64;    // blocks moved between a thread and the depot at once
constexpr std::size_t kCap = 2 * kBatch;

struct Block {
  Block* next;
};

/// Batches of free blocks that threads hand over when their caches overflow.
struct Depot {
  std::mutex mu;
  std::array<std::vector<Block*>, kClasses> batches;  // each entry: a list of kBatch blocks
};
Depot& depot() {
  static Depot* d = new Depot();  // never destroyed: frames may be freed during exit
  return *d;
}

struct ThreadCache {
  std::array<Block*, kClasses> head{};
  std::array<std::size_t, kClasses> count{};

  ~ThreadCache();
  void* pop(std::size_t c) {
    if (Block* b = head[c]) {
      head[c] = b->next;
      --count[c];
      return b;
    }
    {
      Depot& d = depot();
      std::lock_guard lk(d.mu);
      if (!d.batches[c].empty()) {
        head[c] = d.batches[c].back();
        d.batches[c].pop_back();
        count[c] = kBatch;
      }
    }
    if (Block* b = head[c]) {
      head[c] = b->next;
      --count[c];
      return b;
    }
    return nullptr;
  }

  void push(std::size_t c, void* p) {
    auto* b = static_cast<Block*>(p);
    b->next = head[c];
    head[c] = b;
    if (++count[c] < kCap) return;
    // Over the cap: hand the newest kBatch blocks to the depot for other threads.
    Block* batch = head[c];
    Block* last = batch;
    for (std::size_t i = 1; i < kBatch; ++i) last = last->next;
    head[c] = last->next;
    last->next = nullptr;
    count[c] -= kBatch;
    Depot& d = depot();
    std::lock_guard lk(d.mu);
    d.batches[c].push_back(batch);
  }
};

thread_local ThreadCache tls_cache;
thread_local bool tls_cache_gone = false;  // trivially destructible: readable during exit

ThreadCache::~ThreadCache() {
  tls_cache_gone = true;
  for (std::size_t c = 0; c < kClasses; ++c) {
    while (Block* b = head[c]) {
      head[c] = b->next;
      std::free(b);
    }
  }
}

std::size_t class_of(std::size_t size) { return (size + kGranule - 1) / kGranule - 1; }

}  // namespace

void* allocate_frame(std::size_t size) {
  std::size_t c = class_of(size);
  if (c < kClasses && !tls_cache_gone) {
    if (void* p = tls_cache.pop(c)) return p;
    if (void* p = std::malloc((c + 1) * kGranule)) return p;
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(size)) return p;
  throw std::bad_alloc();
}

void free_frame(void* p, std::size_t size) noexcept {
  std::size_t c = class_of(size);
  if (c < kClasses && !tls_cache_gone) {
    tls_cache.push(c, p);
    return;
  }
  std::free(p);
}

}  // namespace weft::detail
