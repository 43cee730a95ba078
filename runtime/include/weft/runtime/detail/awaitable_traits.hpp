// What `co_await x` yields, and whether it may be written, for any x (a Task, a JoinHandle,
// an awaiter).
#pragma once

#include <type_traits>
#include <utility>

namespace weft::detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
    return std::forward<A>(a).operator co_await();
  } else if constexpr (requires { operator co_await(std::forward<A>(a)); }) {
    return operator co_await(std::forward<A>(a));
  } else {
    return std::forward<A>(a);
  }
}

/// The type of `co_await std::declval<A>()`.
template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

/// True if `co_await std::declval<A>()` is well-formed in a weft::Task (whose promise
/// transforms nothing): A, or what its operator co_await returns, is an awaiter.
template <class A>
concept awaitable = requires(A&& a) {
  get_awaiter(std::forward<A>(a)).await_ready();
  get_awaiter(std::forward<A>(a)).await_resume();
};

}  // namespace weft::detail
