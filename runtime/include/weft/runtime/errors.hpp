// Exceptions that weft raises at await points and at API boundaries.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace weft {

/// Raised at an await point of a task that was cancelled (asyncio.CancelledError).
/// Catching it and carrying on is allowed; the cancellation is then consumed.
class CancelledError : public std::runtime_error {
 public:
  CancelledError() : std::runtime_error("task cancelled") {}
  explicit CancelledError(const std::string& what) : std::runtime_error(what) {}
};

/// Raised at the boundary of a timeout scope (`wait_for`, `timeout`, `timeout_at`) whose
/// deadline passed while its body was still running.
class TimeoutError : public std::runtime_error {
 public:
  explicit TimeoutError(const std::string& what = "timed out") : std::runtime_error(what) {}
};

/// Raised by `spawn` and `block_on` on a runtime that is shutting down or shut down.
class RuntimeClosed : public std::logic_error {
 public:
  explicit RuntimeClosed(const std::string& what) : std::logic_error(what) {}
};

/// Raised when weft is used where it cannot work: a weft awaitable awaited outside a
/// runtime, `run()` inside a running runtime, a handle awaited twice.
class UsageError : public std::logic_error {
 public:
  explicit UsageError(const std::string& what) : std::logic_error(what) {}
};

/// Raised by a `TaskGroup` whose children failed: every non-cancellation error, in the
/// order they happened (asyncio's ExceptionGroup).
class ExceptionGroup : public std::runtime_error {
 public:
  explicit ExceptionGroup(std::vector<std::exception_ptr> errors);
  /// The children's exceptions, first failure first.
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return errors_; }

 private:
  std::vector<std::exception_ptr> errors_;
};

namespace detail {
/// The what() of an exception_ptr, for messages ("unknown exception" for non-std types).
std::string describe(const std::exception_ptr& e);
/// True when `e` holds a CancelledError.
bool is_cancelled_error(const std::exception_ptr& e) noexcept;
}  // namespace detail

}  // namespace weft
