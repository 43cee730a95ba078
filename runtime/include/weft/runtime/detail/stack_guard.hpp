// A bounded stack for chains of coroutines that complete at once.
//
// `co_await task` transfers into the task (await_suspend returns its handle), and the task's
// final_suspend transfers back to the awaiter. When the compiler turns those transfers into
// tail calls (GCC with sibling-call optimisation, clang at -O1 and up) a loop of a million
// awaits of tasks that finish synchronously runs in constant stack. When it does not (GCC
// under ThreadSanitizer, AddressSanitizer at -O0, some Debug builds) every transfer nests a
// call, the loop recurses, and a worker's 8 MiB stack overflows after some ten thousand
// awaits. Server teams run Debug and sanitizer builds for days; the depth must be bounded
// without the optimiser's help.
//
// The rule: each worker records, when it starts, the lowest stack address a task may reach
// (`tls_stack_floor`, kStackBudget below its main loop's frame). Every transfer checks the
// current frame against it (one thread-local load and a compare); past the floor, the
// transfer does not happen on this stack: the running task's next coroutine becomes its
// resume point and the task goes to the back of the run queue, as yield_now does, and the
// worker resumes it from its main loop with the whole stack unwound. Builds with tail calls
// never reach the floor, so their behaviour is unchanged. Threads that are not workers have
// no floor (nullptr) and never bounce.
#pragma once

#include <coroutine>
#include <cstddef>

namespace weft::detail {

/// How much of a worker's stack the tasks' coroutine chains may use before a transfer is
/// taken through the run queue: far below the 8 MiB default, far above any one resume.
inline constexpr std::size_t kStackBudget = 256 * 1024;

/// Lowest stack address before transfers bounce; nullptr on threads that are not workers.
/// Written only by its own thread (Worker::main).
extern constinit thread_local char* tls_stack_floor;

/// The current stack pointer. Read from the register where we can: __builtin_frame_address
/// would make every coroutine that checks keep a frame pointer.
inline char* stack_pointer() noexcept {
  char* sp;
#if defined(__x86_64__)
  asm("mov %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
  asm("mov %0, sp" : "=r"(sp));
#else
  sp = static_cast<char*>(__builtin_frame_address(0));
#endif
  return sp;
}

/// True when this thread's stack has grown past its floor.
inline bool stack_exhausted() noexcept {
  return stack_pointer() < tls_stack_floor;
}

/// The slow path of transfer_to: makes `next` the running task's resume point, re-queues
/// the task and returns noop_coroutine(), which unwinds this stack. Returns `next` itself
/// where that is impossible (no task runs on this thread, or `next` is the noop coroutine).
std::coroutine_handle<> resume_from_queue(std::coroutine_handle<> next) noexcept;

/// The handle a symmetric transfer should return: `next`, or, when the stack is exhausted,
/// a detour through the run queue (see the file comment).
inline std::coroutine_handle<> transfer_to(std::coroutine_handle<> next) noexcept {
  if (stack_exhausted()) [[unlikely]]
    return resume_from_queue(next);
  return next;
}

}  // namespace weft::detail
