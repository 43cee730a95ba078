// gather and gather_settled (asyncio.gather, with and without return_exceptions=True).
//
// Every argument becomes a child task (Tasks are spawned; JoinHandles are taken over), so
// the children run in parallel across the workers. The awaiting task then waits once for
// all of them: each child's completion decrements a counter in the awaiter (which lives in
// the gather's frame), and the one that reaches zero resumes the parent. The parent holds
// one count itself while it attaches to the children, so nobody can resume it before it has
// finished attaching.
//
// gather: the first child to fail cancels its siblings; when all have finished, the first
// failure is rethrown. gather_settled: every child runs to its end; each result is a
// Settled<T> holding the value or the exception. Cancelling the parent cancels every child
// and waits for them (DESIGN invariant 7) before CancelledError is raised.
//
// A gather awaits every child, so every child's error counts as observed, including the
// ones it does not pass on (see GatherAwaiter::await_resume): none reaches the runtime's
// unobserved-error handler.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/join_handle.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

/// The value type a gather yields for a child of type T: std::monostate for void.
template <class T>
using gather_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// The outcome of one child of gather_settled: its value, or the exception it ended with.
template <class T>
class Settled {
 public:
  explicit Settled(gather_value_t<T> v) : v_(std::in_place_index<0>, std::move(v)) {}
  explicit Settled(std::exception_ptr e) : v_(std::in_place_index<1>, std::move(e)) {}

  /// True if the child returned normally.
  bool ok() const noexcept { return v_.index() == 0; }
  /// The value; rethrows the child's exception if it failed.
  gather_value_t<T>& value() & {
    if (!ok()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  gather_value_t<T>&& value() && { return std::move(value()); }
  /// The exception (nullptr if the child succeeded).
  std::exception_ptr error() const noexcept { return ok() ? nullptr : std::get<1>(v_); }

 private:
  std::variant<gather_value_t<T>, std::exception_ptr> v_;
};

namespace detail {

/// Waits for every child in `children`; see the file comment. Lives in the gather's frame.
class GatherAwaiter : Waiter {
 public:
  GatherAwaiter(TaskHeader* const* children, std::size_t n, bool fail_fast);
  GatherAwaiter(const GatherAwaiter&) = delete;
  GatherAwaiter& operator=(const GatherAwaiter&) = delete;

  bool await_ready() const noexcept { return n_ == 0; }
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current());
  void await_resume();

  /// Index of the first child that failed, if any (gather only).
  std::optional<std::size_t> first_failure() const noexcept;

 private:
  struct Slot : Completion {
    GatherAwaiter* owner;
    std::size_t index;
    bool awaited = false;  // attached, or found finished: the gather waited for this child
  };
  static void on_child_done(Completion* c, TaskHeader* child) noexcept;
  void child_done(std::size_t index, TaskHeader* child) noexcept;
  void cancel_children(std::size_t except) noexcept;
  void observe_children(std::size_t except) noexcept;

  TaskHeader* const* children_;
  std::size_t n_;
  bool fail_fast_;
  TaskHeader* task_ = nullptr;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::size_t> remaining_{0};
  std::atomic<std::size_t> first_failure_{~std::size_t{0}};
};

template <class A>
auto to_handle(A&& a, std::source_location where) {
  using D = std::remove_cvref_t<A>;
  if constexpr (is_task<D>::value) {
    return spawn(std::move(a), "gather child", where);
  } else {
    if (!a) throw UsageError("weft::gather: a JoinHandle was moved from");
    return std::move(a);  // a JoinHandle
  }
}

template <class H>
using handle_value_t = decltype(std::declval<H&>().result());

/// Takes a finished child's result as the gather's value type (marks it observed).
template <class T>
gather_value_t<T> take_value(JoinHandle<T>& h) {
  if constexpr (std::is_void_v<T>) {
    h.result();
    return std::monostate{};
  } else {
    return h.result();
  }
}

template <class T>
Settled<T> take_settled(JoinHandle<T>& h) {
  try {
    return Settled<T>(take_value(h));
  } catch (...) {
    return Settled<T>(std::current_exception());
  }
}

/// Rethrows the first failure of `hs` (marking it observed) if there was one.
template <class Handles>
void rethrow_first_failure(GatherAwaiter& aw, Handles& hs) {
  std::optional<std::size_t> f = aw.first_failure();
  if (!f) return;
  std::size_t i = 0;
  std::apply([&](auto&... h) { ((i++ == *f ? (void)h.result() : void()), ...); }, hs);
}

template <class... Hs>
Task<std::tuple<gather_value_t<handle_value_t<Hs>>...>> gather_handles(std::tuple<Hs...> hs) {
  TaskHeader* children[sizeof...(Hs)];
  std::size_t i = 0;
  std::apply([&](auto&... h) { ((children[i++] = HandleAccess::header(h)), ...); }, hs);
  GatherAwaiter aw(children, sizeof...(Hs), /*fail_fast=*/true);
  co_await aw;
  rethrow_first_failure(aw, hs);
  co_return std::apply([](auto&... h) { return std::tuple{take_value(h)...}; }, hs);
}

template <class... Hs>
Task<std::tuple<Settled<handle_value_t<Hs>>...>> gather_settled_handles(std::tuple<Hs...> hs) {
  TaskHeader* children[sizeof...(Hs)];
  std::size_t i = 0;
  std::apply([&](auto&... h) { ((children[i++] = HandleAccess::header(h)), ...); }, hs);
  GatherAwaiter aw(children, sizeof...(Hs), /*fail_fast=*/false);
  co_await aw;
  co_return std::apply([](auto&... h) { return std::tuple{take_settled(h)...}; }, hs);
}

template <class T>
std::vector<JoinHandle<T>> spawn_all(std::vector<Task<T>>& tasks, std::source_location where) {
  std::vector<JoinHandle<T>> hs;
  hs.reserve(tasks.size());
  try {
    for (auto& t : tasks) hs.push_back(spawn(std::move(t), "gather child", where));
  } catch (...) {
    for (auto& h : hs) h.cancel();  // structured: nothing left running unobserved
    throw;
  }
  return hs;
}

template <class T>
Task<std::vector<gather_value_t<T>>> gather_range(std::vector<JoinHandle<T>> hs) {
  std::vector<TaskHeader*> children;
  children.reserve(hs.size());
  for (auto& h : hs) children.push_back(HandleAccess::header(h));
  GatherAwaiter aw(children.data(), children.size(), /*fail_fast=*/true);
  co_await aw;
  if (auto f = aw.first_failure()) hs[*f].result();
  std::vector<gather_value_t<T>> out;
  out.reserve(hs.size());
  for (auto& h : hs) out.push_back(take_value(h));
  co_return out;
}

template <class T>
Task<std::vector<Settled<T>>> gather_settled_range(std::vector<JoinHandle<T>> hs) {
  std::vector<TaskHeader*> children;
  children.reserve(hs.size());
  for (auto& h : hs) children.push_back(HandleAccess::header(h));
  GatherAwaiter aw(children.data(), children.size(), /*fail_fast=*/false);
  co_await aw;
  std::vector<Settled<T>> out;
  out.reserve(hs.size());
  for (auto& h : hs) out.push_back(take_settled(h));
  co_return out;
}

}  // namespace detail

/// Runs every argument (Task<T> or JoinHandle<T>) concurrently and returns their values as a
/// tuple (void → std::monostate). The first failure cancels the others, waits for them, and
/// is rethrown; errors the others end with are dropped, not reported as unobserved. Must be
/// awaited in a task.
template <class... As>
requires(sizeof...(As) > 0) auto gather(As&&... as) {
  std::source_location where = std::source_location::current();
  return detail::gather_handles(std::tuple{detail::to_handle(std::forward<As>(as), where)...});
}

/// gather over a vector of tasks → std::vector of values, in order.
template <class T>
Task<std::vector<gather_value_t<T>>> gather(std::vector<Task<T>> tasks) {
  return detail::gather_range(detail::spawn_all(tasks, std::source_location::current()));
}

/// gather over a vector of running tasks' handles.
template <class T>
Task<std::vector<gather_value_t<T>>> gather(std::vector<JoinHandle<T>> handles) {
  for (auto& h : handles) {
    if (!h) throw UsageError("weft::gather: a JoinHandle was moved from");
  }
  return detail::gather_range(std::move(handles));
}

/// Like gather, but every child runs to its end and each outcome is returned as a
/// Settled<T> (asyncio.gather(..., return_exceptions=True)).
template <class... As>
requires(sizeof...(As) > 0) auto gather_settled(As&&... as) {
  std::source_location where = std::source_location::current();
  return detail::gather_settled_handles(
      std::tuple{detail::to_handle(std::forward<As>(as), where)...});
}

/// gather_settled over a vector of tasks.
template <class T>
Task<std::vector<Settled<T>>> gather_settled(std::vector<Task<T>> tasks) {
  return detail::gather_settled_range(detail::spawn_all(tasks, std::source_location::current()));
}

/// gather_settled over a vector of running tasks' handles.
template <class T>
Task<std::vector<Settled<T>>> gather_settled(std::vector<JoinHandle<T>> handles) {
  for (auto& h : handles) {
    if (!h) throw UsageError("weft::gather_settled: a JoinHandle was moved from");
  }
  return detail::gather_settled_range(std::move(handles));
}

}  // namespace weft
