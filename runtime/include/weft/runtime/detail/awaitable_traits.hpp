// What `co_await x` yields, for any awaitable x (a Task, a JoinHandle, an awaiter).
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

}  // namespace weft::detail
