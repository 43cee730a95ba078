// Task<T>: the lazy, move-only coroutine type of weft (asyncio's `async def`).
//
// A Task does nothing until it is awaited; `co_await task` starts it by symmetric transfer
// and, when it finishes, its final_suspend transfers straight back to the awaiter. Both
// transfers are tail calls where the compiler makes them so, and go through the run queue
// when the worker's stack runs low (detail/stack_guard.hpp), so a chain of any depth of
// tasks that complete synchronously runs in bounded stack in every build. The value, a
// reference, or the exception travels to the awaiter.
// Frames come from the frame allocator (detail/frame_allocator.hpp).
#pragma once

#include <coroutine>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>
#include <variant>

#include "weft/runtime/detail/frame_allocator.hpp"
#include "weft/runtime/detail/stack_guard.hpp"
#include "weft/runtime/errors.hpp"

namespace weft {

template <class T = void>
class Task;

namespace detail {

class PromiseBase : public FrameAllocated {
 public:
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      return transfer_to(h.promise().continuation_);
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void set_continuation(std::coroutine_handle<> c) noexcept {
    continuation_ = c;
    awaited_ = true;
  }
  bool awaited() const noexcept { return awaited_; }

 private:
  std::coroutine_handle<> continuation_ = std::noop_coroutine();
  bool awaited_ = false;
};

}  // namespace detail

/// A lazy coroutine producing a T (or void, or a reference). Move-only; awaiting it starts
/// it and yields its result or rethrows its exception. Await it at most once.
template <class T>
class [[nodiscard]] Task {
  class ValueResult;
  class ReferenceResult;
  class VoidResult;
  using Result = std::conditional_t<
      std::is_void_v<T>, VoidResult,
      std::conditional_t<std::is_lvalue_reference_v<T>, ReferenceResult, ValueResult>>;

 public:
  /// The coroutine promise (what the compiler uses to run a Task coroutine; users never
  /// call it): `co_return v;` in a Task<T>, `co_return;` in a Task<void>.
  class promise_type final : public Result {
   public:
    Task get_return_object() noexcept {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
  };
  using value_type = T;

  Task() noexcept = default;
  /// Owns the coroutine `h` (promise_type::get_return_object makes each Task this way).
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  /// True if this Task holds a coroutine (not moved-from, not yet awaited).
  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

  auto operator co_await() && {
    struct Awaiter {
      std::coroutine_handle<promise_type> h;
      bool await_ready() const {
        if (!h || h.promise().awaited()) {
          throw UsageError("weft::Task awaited twice, or after being moved from");
        }
        return false;
      }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        h.promise().set_continuation(awaiting);
        return detail::transfer_to(h);
      }
      decltype(auto) await_resume() { return h.promise().take(); }
    };
    return Awaiter{h_};
  }

  /// Gives up ownership of the coroutine: the caller destroys its frame.
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

 private:
  std::coroutine_handle<promise_type> h_;
};

// The promise's result, one class per kind of T: a promise may declare return_value or
// return_void, not both. Members of Task, so that a `co_return` of the wrong kind is reported
// against weft::Task<T>::promise_type and its candidates.

template <class T>
class Task<T>::ValueResult : public detail::PromiseBase {
 public:
  template <class U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    result_.template emplace<1>(std::forward<U>(v));
  }
  void unhandled_exception() noexcept { result_.template emplace<2>(std::current_exception()); }
  T take() {
    if (result_.index() == 2) std::rethrow_exception(std::get<2>(result_));
    return std::move(std::get<1>(result_));
  }

 private:
  std::variant<std::monostate, T, std::exception_ptr> result_;
};

template <class T>
class Task<T>::ReferenceResult : public detail::PromiseBase {
 public:
  void return_value(T v) noexcept { value_ = std::addressof(v); }
  void unhandled_exception() noexcept { error_ = std::current_exception(); }
  T take() {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }

 private:
  std::remove_reference_t<T>* value_ = nullptr;
  std::exception_ptr error_;
};

template <class T>
class Task<T>::VoidResult : public detail::PromiseBase {
 public:
  void return_void() noexcept {}
  void unhandled_exception() noexcept { error_ = std::current_exception(); }
  void take() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
};

namespace detail {
template <class A>
struct is_task : std::false_type {};
template <class T>
struct is_task<Task<T>> : std::true_type {};
}  // namespace detail

/// True for a Task<T>: what a callable given to spawn must return.
template <class A>
inline constexpr bool is_task_v = detail::is_task<A>::value;

}  // namespace weft
