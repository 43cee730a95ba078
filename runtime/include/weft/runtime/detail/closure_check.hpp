// A compile-time guard against a GCC 12 code generation bug with coroutines.
//
// GCC before 13 destroys the closure object of a capturing lambda written inside a
// co_await expression twice (the second time as a bitwise copy that was never
// constructed), so `co_await weft::to_thread([s] {...})` with a std::string `s` frees `s`
// twice. weft's functions that take a callable to run later and are always awaited
// (to_thread, offload, task_group) refuse such closures at compile time on those compilers.
// spawn(f) is not guarded: it is mostly called outside a co_await (`auto h = spawn([s]
// ...)`, which is correct), and cannot tell when it is inside one (`co_await spawn([s]
// ...)`, which GCC 12 miscompiles); README.md says to name the handle first.
//
// This is a different trap from the lifetime one spawn(f) exists for: in `spawn([s]() ->
// Task<> {...}())` the closure dies, correctly, at the end of the statement while the
// spawned coroutine still refers to it. A Task does not carry the type of the lambda that
// made it, so that misuse cannot be detected at compile time; spawn(f) avoids it.
#pragma once

#include <type_traits>

namespace weft::detail {

/// On GCC before 13, a callable passed as an rvalue must be trivially destructible
/// (capture by reference, or pointers and numbers), or be passed as a named lvalue (it is
/// copied) or through std::ref.
template <class F>
constexpr void check_survives_co_await() {
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
  static_assert(
      std::is_lvalue_reference_v<F> || std::is_trivially_destructible_v<std::remove_reference_t<F>>,
      "weft: GCC 12 destroys a capturing lambda temporary in a "
      "co_await expression twice. Capture by reference ([&]), or name the lambda "
      "first and pass it as an lvalue (auto job = [s] {...}; co_await "
      "weft::to_thread(job);) or as std::ref(job)");
#endif
}

}  // namespace weft::detail
