// TaskLocal<T>: a value per task, inherited by the tasks it spawns (Python's contextvars as
// asyncio uses them; Tokio's task_local!).
//
//   inline const weft::TaskLocal<std::string> request_id{"request_id"};
//
//   weft::Task<> handle(Request r) {
//     request_id.set(r.id);                    // this task and what it spawns from now on
//     co_await weft::spawn(audit(r));          // audit() reads request_id.get()
//   }
//   co_await request_id.scope("batch-7", run_batch());  // set for run_batch() only
//
// Each task sees one context, a map from TaskLocal to value:
// - a spawned task (spawn, Runtime::spawn, TaskGroup::spawn, the children of gather) starts
//   from a snapshot of its spawner's context: later sets in either do not reach the other;
// - a Task awaited directly (`co_await f()`) runs as part of the awaiting task and shares
//   its context, sets included;
// - to_thread and offload run their function with the awaiting task's context; what the
//   function sets stays in the function (as asyncio.to_thread, which runs it in a copy). It
//   is not seen by threads the function starts itself (a tbb::parallel_for body).
// A task's values never leak to another task, whichever worker either runs on.
//
// Cost: a task that never sets a TaskLocal has no context (a null pointer); a spawn from a
// task that has one copies a pointer and takes a reference. A set allocates the value and a
// new map, a copy of the old one's entries (one per variable the task has set).
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "weft/runtime/detail/task_context.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

/// A task-local variable holding a T. Declare it with static storage duration (at namespace
/// scope, or as a static member), since its address is its key in every task's context:
/// `inline const weft::TaskLocal<std::string> request_id{"request_id"};`. The object itself
/// holds no value and never changes, so it may be const and used from any thread.
///
/// Values are shared between the tasks that inherited them and may be read from several
/// threads at once, so T's const member functions must be safe to call concurrently (as for
/// the standard library's types); a value is destroyed on whichever thread drops it last.
template <class T>
class TaskLocal {
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "weft::TaskLocal holds an object type (not a reference, array or void)");

 public:
  /// An undo record for one set(): give it to reset() to restore the value from before.
  /// Move-only (a moved-from token counts as used); valid only in the task that made it.
  class Token {
   public:
    Token(Token&& o) noexcept : undo_(std::move(o.undo_)), used_(std::exchange(o.used_, true)) {}
    Token& operator=(Token&& o) noexcept {
      undo_ = std::move(o.undo_);
      used_ = std::exchange(o.used_, true);
      return *this;
    }
    Token(const Token&) = delete;
    Token& operator=(const Token&) = delete;

   private:
    friend class TaskLocal;
    explicit Token(detail::ContextUndo undo) noexcept : undo_(std::move(undo)) {}
    detail::ContextUndo undo_;
    bool used_ = false;
  };

  /// `name` (a string literal: it is not copied) names the variable in error messages.
  explicit constexpr TaskLocal(const char* name) noexcept : name_(name) {}
  TaskLocal(const TaskLocal&) = delete;
  TaskLocal& operator=(const TaskLocal&) = delete;

  /// The name given at construction.
  const char* name() const noexcept { return name_; }

  /// The running task's value. Throws UsageError naming the variable if it is not set in
  /// this task, or when called outside a weft task. The reference stays valid until this
  /// task sets or resets the variable again (or its scope() ends), or ends itself.
  const T& get() const {
    const void* v = detail::context_find(this);
    if (!v) detail::throw_context_unset(name_);
    return *static_cast<const T*>(v);
  }

  /// The running task's value, or nullptr if it is not set here (or outside a weft task).
  /// Valid as long as get()'s reference is.
  const T* try_get() const noexcept { return static_cast<const T*>(detail::context_find(this)); }

  /// The running task's value, or `fallback` if it is not set here (or outside a task).
  T get_or(T fallback) const {
    const T* v = try_get();
    return v ? *v : std::move(fallback);
  }

  /// Sets the variable for the running task and the tasks it spawns from now on
  /// (contextvars' ContextVar.set); tasks spawned before keep what they had. Returns a token
  /// that reset() takes to restore the previous value; dropping it is fine, the value then
  /// lasts as long as the task. Throws UsageError outside a weft task.
  Token set(T value) const {
    return Token(detail::context_set(this, std::make_shared<const T>(std::move(value)), name_));
  }

  /// Restores the value the variable had before the set() that made `token` (or unsets
  /// it), whatever was set in between. Throws UsageError if `token` was already used, belongs
  /// to another TaskLocal, or was made in another task.
  void reset(Token& token) const {
    if (token.used_) throw UsageError(quoted("reset with a token already used (or moved from)"));
    if (token.undo_.key != this) throw UsageError(quoted("reset with another variable's token"));
    detail::context_reset(token.undo_, name_);
    token.used_ = true;
    token.undo_.previous.reset();
  }

  /// Runs `task` with the variable set to `value`, as part of the awaiting task, then
  /// restores the value from before (Tokio's LocalKey::scope), whether `task` returns,
  /// throws or is cancelled. Tasks spawned inside keep the value. Yields `task`'s result or
  /// rethrows its exception; throws UsageError outside a weft task.
  template <class U>
  Task<U> scope(T value, Task<U> task) const {
    Token token = set(std::move(value));
    std::exception_ptr error;
    if constexpr (std::is_void_v<U>) {
      try {
        co_await std::move(task);
      } catch (...) {
        error = std::current_exception();
      }
      reset(token);
      if (error) std::rethrow_exception(error);
    } else if constexpr (std::is_reference_v<U>) {
      std::remove_reference_t<U>* result = nullptr;
      try {
        result = &co_await std::move(task);
      } catch (...) {
        error = std::current_exception();
      }
      reset(token);
      if (error) std::rethrow_exception(error);
      co_return *result;
    } else {
      std::optional<U> result;
      try {
        result.emplace(co_await std::move(task));
      } catch (...) {
        error = std::current_exception();
      }
      reset(token);
      if (error) std::rethrow_exception(error);
      co_return std::move(*result);
    }
  }

 private:
  std::string quoted(const char* what) const {
    return std::string("weft::TaskLocal '") + name_ + "' " + what;
  }

  const char* name_;
};

}  // namespace weft
