// The exceptions of weft::Pool<T> (pool.hpp).
#pragma once

#include <stdexcept>
#include <string>

#include "weft/runtime/errors.hpp"

namespace weft {

/// Raised by acquire() on a closed pool, and in every task still waiting to acquire when
/// the pool is closed or destroyed (asyncpg's "pool is closing"). The message names the pool.
class PoolClosed : public std::runtime_error {
 public:
  explicit PoolClosed(const std::string& what) : std::runtime_error(what) {}
};

/// Raised by acquire() when its timeout (PoolOptions::acquire_timeout, or the one given to
/// acquire) passed before it had an object. A TimeoutError, so code that catches timeouts in
/// general catches it too; the message names the pool, the timeout and how busy it was.
class PoolTimeout : public TimeoutError {
 public:
  explicit PoolTimeout(const std::string& what) : TimeoutError(what) {}
};

}  // namespace weft
