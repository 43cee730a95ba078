// SigpipeBlock: SIGPIPE blocked in the calling thread for a scope, around writes that cannot
// pass MSG_NOSIGNAL (write(2) on a pipe; OpenSSL's socket BIO inside a client library).
//
// A write to a peer that is gone raises SIGPIPE, whose default action ends the process; weft
// leaves the program's disposition alone (a program's signals are its own), so a write of the
// runtime's own that may meet a closed peer runs under this guard and fails with EPIPE
// instead. The SIGPIPE such a write raises is directed at the writing thread and stays
// pending while blocked: take_pending() takes it before the mask is restored, unless SIGPIPE
// was blocked already (a pending one may then be the program's own, and is left).
#pragma once

#include <pthread.h>

#include <cerrno>
#include <csignal>
#include <ctime>

namespace weft::detail {

class SigpipeBlock {
 public:
  SigpipeBlock() noexcept {
    ::sigemptyset(&pipe_only_);
    ::sigaddset(&pipe_only_, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_only_, &old_);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

  /// Restores the thread's mask; errno is left as the guarded calls left it.
  ~SigpipeBlock() {
    const int err = errno;
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    errno = err;
  }

  /// Takes the SIGPIPE a guarded write raised, if one is pending and SIGPIPE was not blocked
  /// before the guard: call it when a write may have failed with EPIPE (one syscall).
  void take_pending() noexcept {
    if (::sigismember(&old_, SIGPIPE)) return;
    const int err = errno;
    timespec zero{0, 0};
    while (::sigtimedwait(&pipe_only_, nullptr, &zero) < 0 && errno == EINTR) {
    }
    errno = err;
  }

 private:
  sigset_t pipe_only_;
  sigset_t old_;
};

}  // namespace weft::detail
