// Hook points: named places in the runtime's concurrency protocols where a test can stop a
// thread, and where schedule fuzzing injects stalls and yields.
//
// A race between two threads usually lives in a window a few instructions wide (a waker
// between releasing a lock and claiming a wait; a task group between its join and its
// close). A test that hopes a loop will hit such a window proves nothing when it passes.
// Instead the runtime calls `hook(point)` at each such place, and a test installs a hook
// (set_hook) that holds the thread there while it drives the other side into the window.
//
// Schedule fuzzing uses the same points: with `WEFT_SCHEDULE_FUZZ=<seed>` in the
// environment, every hook point on every thread stalls for a short random spin or yields
// the CPU now and then (a per-thread generator seeded from <seed>), so the sanitizers see
// interleavings that an unloaded machine never produces. tools/test runs the concurrency
// tests that way under ThreadSanitizer.
//
// Hooks are compiled in only with the CMake option WEFT_HOOKS (on in the sanitizer
// presets). Without it `hook()` is an empty inline function and the release build's code
// is unchanged; tests that need a hook skip, saying so.
#pragma once

#include <cstdint>

namespace weft::detail {

enum class HookPoint : std::uint8_t {
  kClaim,             ///< a waker is about to claim a task's wait (try_claim)
  kPublish,           ///< a task is about to publish its wait (begin_wait)
  kAttach,            ///< an observer is about to attach to a task's completion
  kDetach,            ///< an observer is about to detach from a task's completion
  kSteal,             ///< a worker is about to steal from another's queue
  kPark,              ///< a worker is about to park
  kCompletionQueued,  ///< as_completed: a child's index is queued, the queue's lock released
  kAckAwaited,        ///< wait/as_completed/run_until_cancelled: ending, it waits for a
                      ///< notifier's last touch
  kGroupJoined,       ///< task_group: the join saw every child finish, before the errors
  kScopeFiring,       ///< CancellationToken::cancel: the locks are released, the scopes it
                      ///< took from the tree are about to be fired
  kSpawnRegistered,   ///< a spawn linked its task into the registry, before the phase check
  kShutdownSnapshot,  ///< shutdown holds references to the live tasks, before cancelling
};

#ifdef WEFT_HOOKS
inline constexpr bool kHooks = true;
/// Runs the installed test hook, then the schedule fuzzer, if any. Any thread.
void run_hook(HookPoint p) noexcept;
#else
inline constexpr bool kHooks = false;
inline void run_hook(HookPoint) noexcept {}
#endif

/// Marks a hook point (free of cost unless built with WEFT_HOOKS).
inline void hook(HookPoint p) noexcept {
  if constexpr (kHooks) run_hook(p);
}

/// A test hook: called at every hook point on every thread while it is installed. It keeps
/// its state in statics (a test has one hook at a time).
using HookFn = void (*)(HookPoint) noexcept;

/// Installs `fn` (nullptr removes it). For tests; without WEFT_HOOKS it is never called.
void set_hook(HookFn fn) noexcept;

}  // namespace weft::detail
