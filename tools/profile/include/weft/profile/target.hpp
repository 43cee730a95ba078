// Target and Session: what the load profiler drives. A Target makes connections (sessions);
// a session makes one request at a time and waits for its response. The closed loop gives
// each of its tasks a session of its own, so a session is never used by two tasks at once,
// while connect() is called from many tasks, on any worker, concurrently.
#pragma once

#include <memory>
#include <string>

#include <weft/runtime/task.hpp>

namespace weft::profile {

/// One connection to the target, used by one task at a time.
class Session {
 public:
  virtual ~Session() = default;
  /// Makes one request and waits for its whole response. Throws on any error (a failed
  /// write, a short or wrong response); the session is not used again after it throws.
  virtual Task<void> request() = 0;
};

/// A system under load: a factory of sessions.
class Target {
 public:
  virtual ~Target() = default;
  /// Opens a new session. Throws what connecting throws (std::system_error naming the
  /// address for a refused connection). Called concurrently from many tasks.
  virtual Task<std::unique_ptr<Session>> connect() = 0;
  /// A short description for reports, e.g. "tcp-echo 127.0.0.1:7000 payload 64".
  virtual std::string describe() const = 0;
};

}  // namespace weft::profile
