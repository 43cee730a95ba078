// The scope in which both database clients' Connection::transaction runs its body (pg's and
// mysql's transaction.hpp): the body's outcome decides between commit and rollback.
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "weft/runtime/cancel.hpp"
#include "weft/runtime/task.hpp"

namespace weft::detail {

/// Runs `co_await body(tx)` and returns what it returns, after `commit(tx)`; if the body
/// throws or is cancelled, runs `rollback(tx)` instead and the exception (CancelledError,
/// TimeoutError) goes on. Commit and rollback run shielded from cancellation: a COMMIT the
/// server may already have applied must not be abandoned half way, and a rollback leaves the
/// connection out of its transaction before the cancellation goes on. `body` must outlive
/// the returned Task (the caller's frame holds it).
template <class Tx, class F, class Commit, class Rollback>
Task<typename std::invoke_result_t<F&, Tx&>::value_type> transaction_scope(Tx tx, F& body,
                                                                           Commit commit,
                                                                           Rollback rollback) {
  using R = typename std::invoke_result_t<F&, Tx&>::value_type;
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<R>, int, R>> result;
  try {
    if constexpr (std::is_void_v<R>) {
      co_await body(tx);
    } else {
      result.emplace(co_await body(tx));
    }
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    co_await shield(rollback(tx));
    std::rethrow_exception(error);
  }
  co_await shield(commit(tx));
  if constexpr (!std::is_void_v<R>) co_return std::move(*result);
}

}  // namespace weft::detail
