// frame_alloc_bench: which allocator should coroutine frames come from?
//
// Allocates and frees blocks of coroutine-frame sizes (96, 192, 320 and 640 bytes) through
//   Glibc      std::malloc / std::free (glibc's ptmalloc with its per-thread tcache),
//   Mimalloc   mi_malloc / mi_free,
//   WeftFrames weft::detail::allocate_frame / free_frame (per-thread size-class caches
//              with a global depot, runtime/src/frame_allocator.cpp; malloc behind it),
// in the two patterns a runtime produces:
//   BM_SameThread   one thread allocates kLive blocks, then frees them in allocation order
//                   (a burst of spawns joined in order);
//   BM_CrossThread  this thread allocates, a consumer thread frees, the blocks travelling
//                   through a bounded SPSC ring (a task spawned on one worker and finished
//                   on another). Each iteration waits until the consumer has freed all of
//                   its kLive blocks, so the timing covers both sides.
// items_per_second counts allocate+free pairs. Every allocation writes its first bytes, as a
// promise's construction does.
//
// The process must use glibc's malloc for "Glibc" and behind the frame allocator: main()
// checks that malloc and operator new were not replaced by libmimalloc.so (see
// bench/CMakeLists.txt for the link order that keeps them).
#include <benchmark/benchmark.h>
#include <mimalloc.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include <weft/runtime/detail/frame_allocator.hpp>

namespace {

constexpr std::size_t kLive = 1'000;  // blocks allocated per iteration

struct Glibc {
  static void* allocate(std::size_t n) { return std::malloc(n); }
  static void release(void* p, std::size_t) noexcept { std::free(p); }
};

struct Mimalloc {
  static void* allocate(std::size_t n) { return mi_malloc(n); }
  static void release(void* p, std::size_t) noexcept { mi_free(p); }
};

struct WeftFrames {
  static void* allocate(std::size_t n) { return weft::detail::allocate_frame(n); }
  static void release(void* p, std::size_t n) noexcept { weft::detail::free_frame(p, n); }
};

/// Allocates through A and writes the block's first bytes (a promise being constructed).
template <class A>
void* allocate_touched(std::size_t size) {
  void* p = A::allocate(size);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0xab, 32);
  benchmark::DoNotOptimize(p);
  return p;
}

/// Waiting for the other thread: spins briefly, then yields the CPU, so that the benchmark
/// stays meaningful when the two threads share a core with others (a spinner would burn the
/// time slice the other side needs).
class Backoff {
 public:
  void wait() noexcept {
    if (++spins_ <= kSpins) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }

 private:
  static constexpr int kSpins = 64;
  int spins_ = 0;
};

/// A bounded single-producer single-consumer ring of pointers. The producer owns tail_, the
/// consumer owns head_; each keeps a cached copy of the other's index so that it reads the
/// shared one only when the ring looks full (producer) or empty (consumer).
class SpscRing {
 public:
  static constexpr std::size_t kCapacity = 256;  // a worker's local run queue holds 256

  /// Producer only. False when full.
  bool try_push(void* p) noexcept {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ == kCapacity) {
      // Acquire: pairs with try_pop's release of head_; the slot's old value was read.
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ == kCapacity) return false;
    }
    slots_[tail % kCapacity] = p;
    // Release: publishes the slot to try_pop's acquire load of tail_.
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  /// Consumer only. False when empty.
  bool try_pop(void*& p) noexcept {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      // Acquire: pairs with try_push's release of tail_, so the slot is written.
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    p = slots_[head % kCapacity];
    // Release: the slot has been read before the producer may reuse it.
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

 private:
  alignas(64) std::atomic<std::size_t> head_{0};
  std::size_t tail_cache_ = 0;  // consumer's copy of tail_
  alignas(64) std::atomic<std::size_t> tail_{0};
  std::size_t head_cache_ = 0;  // producer's copy of head_
  alignas(64) std::array<void*, kCapacity> slots_{};
};

template <class A>
void BM_SameThread(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  std::array<void*, kLive> live{};
  for (auto _ : state) {
    for (void*& p : live) p = allocate_touched<A>(size);
    for (void* p : live) A::release(p, size);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kLive));
}

template <class A>
void BM_CrossThread(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  SpscRing ring;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> freed{0};
  std::thread consumer([&] {
    std::uint64_t n = 0;
    Backoff idle;
    for (;;) {
      void* p = nullptr;
      if (ring.try_pop(p)) {
        A::release(p, size);
        // Release: the producer, acquiring `freed`, knows the block is freed.
        freed.store(++n, std::memory_order_release);
        idle = Backoff{};
      } else if (stop.load(std::memory_order_acquire)) {
        return;  // the producer stops only after everything it pushed was freed
      } else {
        idle.wait();
      }
    }
  });

  std::uint64_t produced = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kLive; ++i) {
      void* p = allocate_touched<A>(size);
      for (Backoff full; !ring.try_push(p);) full.wait();
    }
    produced += kLive;
    for (Backoff behind; freed.load(std::memory_order_acquire) < produced;) behind.wait();
  }
  stop.store(true, std::memory_order_release);
  consumer.join();
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kLive));
}

void frame_sizes(benchmark::internal::Benchmark* b) {
  b->ArgName("bytes")->Arg(96)->Arg(192)->Arg(320)->Arg(640)->UseRealTime();
}

BENCHMARK_TEMPLATE(BM_SameThread, Glibc)->Apply(frame_sizes);
BENCHMARK_TEMPLATE(BM_SameThread, Mimalloc)->Apply(frame_sizes);
BENCHMARK_TEMPLATE(BM_SameThread, WeftFrames)->Apply(frame_sizes);
BENCHMARK_TEMPLATE(BM_CrossThread, Glibc)->Apply(frame_sizes);
BENCHMARK_TEMPLATE(BM_CrossThread, Mimalloc)->Apply(frame_sizes);
BENCHMARK_TEMPLATE(BM_CrossThread, WeftFrames)->Apply(frame_sizes);

/// True if malloc or operator new hands out mimalloc's memory, i.e. libmimalloc.so replaced
/// glibc's allocator in this process.
bool malloc_is_mimalloc() {
  void* p = std::malloc(64);
  void* q = ::operator new(64);
  const bool replaced = mi_is_in_heap_region(p) || mi_is_in_heap_region(q);
  std::free(p);
  ::operator delete(q);
  return replaced;
}

}  // namespace

int main(int argc, char** argv) {
  if (malloc_is_mimalloc()) {
    std::fputs(
        "frame_alloc_bench: malloc is mimalloc's in this process (libmimalloc.so linked "
        "ahead of libc), so the Glibc numbers would be wrong; see bench/CMakeLists.txt\n",
        stderr);
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
