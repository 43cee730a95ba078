// The loops every Socket operation is made of, shared by socket.cpp and udp.cpp:
//
// - try_io makes one syscall (again on EINTR) and notes the direction blocked when it finds
//   the socket not ready, with the readiness sequence read before the syscall;
// - until_done is an operation that one successful try completes: while the direction is
//   blocked it waits for an edge since that try, then tries again.
//
// sendv_all and accept are loops of their own around try_io: the first tries until all is
// written, the second backs off when the process is out of descriptors. send_all keeps a
// hand-written copy of the syscall loop (see there).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "weft/io/net/socket.hpp"
#include "weft/runtime/budget.hpp"
#include "weft/runtime/errors.hpp"

namespace weft::net {

// `drained_below`: a result of fewer bytes than this (and more than none) leaves the
// direction blocked, as EAGAIN does (0: never). `on_error(err)` takes any other error: it
// throws, or returns true to try again at once, or false to end this try with nullopt
// without blocking the direction.
template <class Syscall, class OnError>
std::optional<std::size_t> Socket::try_io(Interest interest, std::size_t drained_below,
                                          Syscall call, OnError on_error) {
  Blocked& b = blocked_[static_cast<int>(interest)];
  for (;;) {
    const auto seq = reg_.ready_seq(interest);
    const ssize_t n = call();
    if (n >= 0) {
      if (n > 0 && static_cast<std::size_t>(n) < drained_below && !reg_.read_closed()) {
        b.block(seq);
      } else {
        b.clear();
      }
      return static_cast<std::size_t>(n);
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EWOULDBLOCK) {
      if (on_error(err)) continue;
      return std::nullopt;
    }
    b.block(seq);
    return std::nullopt;
  }
}

// Throws UsageError if the socket is closed, and socket_error naming `what` and the socket's
// address for an error.
template <class Syscall>
std::optional<std::size_t> Socket::try_io(Interest interest, const char* what,
                                          std::size_t drained_below, Syscall call) {
  if (fd_ < 0) throw UsageError(std::string("weft::net: ") + what + " on a closed socket");
  return try_io(interest, drained_below, std::move(call),
                [this, what](int err) -> bool { throw socket_error(err, describe(what)); });
}

// `try_once()` is one try: the result, or nullopt if the socket was not ready (the direction
// is then blocked, or not if it should simply try again). A try that completes spends a unit
// of the task's budget. Throws UsageError naming `what` if the socket is closed.
template <class Result, class Try>
Task<Result> Socket::until_done(Interest interest, const char* what, Try try_once) {
  if (fd_ < 0) throw UsageError(std::string("weft::net: ") + what + " on a closed socket");
  Blocked& blocked = blocked_[static_cast<int>(interest)];
  for (;;) {
    if (const std::optional<std::uint32_t> since = blocked.since()) {
      // The last try found nothing, or emptied the queue: nothing to do until an edge.
      co_await reg_.wait(interest, *since);
      blocked.clear();
    }
    if (std::optional<Result> r = try_once()) {
      co_await consume_budget();
      co_return std::move(*r);
    }
  }
}

}  // namespace weft::net
