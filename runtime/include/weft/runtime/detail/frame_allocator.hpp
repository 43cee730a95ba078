// Allocation of coroutine frames: per-thread size-class caches in front of malloc.
//
// Frames are small (a few hundred bytes) and short-lived, and they are often freed on a
// different thread than the one that allocated them (a task spawned on one worker finishes
// on another). Each thread keeps a free list per 32-byte size class; a list that grows past
// its cap hands a batch to a global (mutex-guarded) depot, and an empty list takes a batch
// from there before it falls back to malloc. So producer/consumer patterns recycle frames
// instead of hitting malloc on one side and free on the other. Blocks above the largest
// class go straight to malloc. bench/frame_alloc_bench.cpp measures this against glibc and
// mimalloc.
//
// Sanitizer builds (detail::kSanitized, detail/sanitizer.hpp) keep no cache: every frame
// comes from operator new and goes back to operator delete with its size. A recycled frame
// would hide a use-after-free from ASan (the block is never freed in its eyes) and look to
// TSan like a race between the frame's two lives (DESIGN invariant 5); handed back, ASan's
// quarantine reports a read of a freed frame and checks the size it is freed with.
#pragma once

#include <cstddef>

namespace weft::detail {

/// Allocates `size` bytes for a coroutine frame; throws std::bad_alloc. Any thread.
void* allocate_frame(std::size_t size);
/// Frees a block from allocate_frame; `size` must be the size it was allocated with.
void free_frame(void* p, std::size_t size) noexcept;

/// Mixed into promise types so their frames come from the frame allocator.
struct FrameAllocated {
  static void* operator new(std::size_t size) { return allocate_frame(size); }
  static void operator delete(void* p, std::size_t size) noexcept { free_frame(p, size); }
};

}  // namespace weft::detail
