// The exceptions of weft's queues (asyncio.QueueEmpty, QueueFull, QueueShutDown).
#pragma once

#include <stdexcept>
#include <string>

namespace weft {

/// Raised by get_nowait() on an empty queue (asyncio.QueueEmpty).
class QueueEmpty : public std::runtime_error {
 public:
  explicit QueueEmpty(const std::string& what = "weft::Queue: the queue is empty")
      : std::runtime_error(what) {}
};

/// Raised by put_nowait() on a full queue (asyncio.QueueFull).
class QueueFull : public std::runtime_error {
 public:
  explicit QueueFull(const std::string& what = "weft::Queue: the queue is full")
      : std::runtime_error(what) {}
};

/// Raised by puts on a shut-down queue, and by gets once it is also drained
/// (asyncio.QueueShutDown).
class QueueShutDown : public std::runtime_error {
 public:
  explicit QueueShutDown(const std::string& what = "weft::Queue: the queue is shut down")
      : std::runtime_error(what) {}
};

}  // namespace weft
