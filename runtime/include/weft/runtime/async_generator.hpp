// AsyncGenerator<T>: a coroutine that both awaits and yields (Python's async generator).
//
// The consumer calls `co_await gen.next()`, which resumes the generator by symmetric
// transfer; `co_yield v` stores v and transfers back; reaching the end gives std::nullopt.
// The generator runs inside the consumer's task, so its awaits are cancelled with it and its
// exceptions surface from next(). Destroying an unfinished generator destroys its frame
// (running the destructors of its locals), which is safe because the consumer is never
// inside next() at that moment.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "weft/runtime/detail/frame_allocator.hpp"
#include "weft/runtime/detail/stack_guard.hpp"
#include "weft/runtime/errors.hpp"

namespace weft {

/// An async generator of T. Move-only; iterate with `while (auto v = co_await g.next())`.
template <class T>
class [[nodiscard]] AsyncGenerator {
 public:
  class promise_type : public detail::FrameAllocated {
   public:
    AsyncGenerator get_return_object() noexcept {
      return AsyncGenerator(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }

    struct ToConsumer {
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        return detail::transfer_to(h.promise().consumer_);
      }
      void await_resume() const noexcept {}
    };
    ToConsumer final_suspend() noexcept { return {}; }

    template <class U = T>
    requires std::is_constructible_v<T, U&&> ToConsumer yield_value(U&& v)
    noexcept(std::is_nothrow_constructible_v<T, U&&>) {
      value_.emplace(std::forward<U>(v));
      return {};
    }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error_ = std::current_exception(); }

    std::coroutine_handle<> consumer_;
    std::optional<T> value_;
    std::exception_ptr error_;
  };

  AsyncGenerator() noexcept = default;
  explicit AsyncGenerator(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  AsyncGenerator(AsyncGenerator&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  AsyncGenerator& operator=(AsyncGenerator&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  AsyncGenerator(const AsyncGenerator&) = delete;
  AsyncGenerator& operator=(const AsyncGenerator&) = delete;
  ~AsyncGenerator() {
    if (h_) h_.destroy();
  }

  /// Awaitable: resumes the generator until its next co_yield (→ the value) or its end (→
  /// std::nullopt); rethrows what the generator threw. Await one next() at a time.
  auto next() {
    struct [[nodiscard]] Awaiter {
      std::coroutine_handle<promise_type> h;
      bool await_ready() const {
        if (!h) throw UsageError("weft::AsyncGenerator::next on an empty generator");
        return h.done();
      }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> consumer) noexcept {
        h.promise().consumer_ = consumer;
        h.promise().value_.reset();
        return detail::transfer_to(h);
      }
      std::optional<T> await_resume() {
        promise_type& p = h.promise();
        if (p.error_) std::rethrow_exception(std::exchange(p.error_, nullptr));
        if (h.done()) return std::nullopt;
        return std::move(p.value_);
      }
    };
    return Awaiter{h_};
  }

 private:
  std::coroutine_handle<promise_type> h_;
};

}  // namespace weft
