// The reaper (reaper.hpp): one detached thread, started at the first hand-over, that waits
// for the pidfds of orphaned children in its own epoll and reaps each with waitid(P_PIDFD)
// as it exits, then closes its pidfd.
//
// ## Protocol
// `mu_` guards the start of the thread and the count of orphans; a hand-over raises the
// count before it adds the pidfd to the epoll (level-triggered), so the reaper, which lowers
// it under the same mutex after reaping, can never see it at zero too early. The count is
// mirrored in an atomic for orphans(); blocking_wait_orphans() waits on `idle_` for zero.
// The thread runs with every signal blocked (it must never take a signal meant for the
// program, nor be the thread that does not block a weft::signal), and lives until exit: the
// state is never destroyed, so a Child destroyed during static destruction is still fine.
#include "reaper.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include <weft/runtime/errors.hpp>
#include <weft/runtime/runtime.hpp>

#include "weft/io/process/child.hpp"

namespace weft::process {

namespace {

class Reaper {
 public:
  void adopt(int pidfd, pid_t pid) noexcept {
    std::lock_guard lk(mu_);
    if (!start_locked()) return give_up(pidfd, pid, "the reaper thread could not start");
    pending_.fetch_add(1, std::memory_order_relaxed);  // under mu_: see the file comment
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = pidfd;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
      pending_.fetch_sub(1, std::memory_order_relaxed);
      give_up(pidfd, pid, std::strerror(errno));
    }
  }

  std::size_t pending() const noexcept { return pending_.load(std::memory_order_relaxed); }

  void wait_idle() {
    std::unique_lock lk(mu_);
    idle_.wait(lk, [this] { return pending_.load(std::memory_order_relaxed) == 0; });
  }

 private:
  /// Starts the thread once; false if that failed (it is tried again at the next adopt).
  bool start_locked() noexcept {
    if (started_) return true;
    if (epfd_ < 0) epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return false;
    sigset_t all;
    sigset_t old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits "all blocked"
    try {
      std::thread([this] { loop(); }).detach();
      started_ = true;
    } catch (...) {
      started_ = false;
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return started_;
  }

  static void give_up(int pidfd, pid_t pid, const char* why) noexcept {
    std::fprintf(stderr,
                 "weft: process %d could not be handed to the reaper (%s); it stays a zombie "
                 "once it exits\n",
                 static_cast<int>(pid), why);
    ::close(pidfd);
  }

  void loop() noexcept {
    ::pthread_setname_np(::pthread_self(), "weft-reaper");
    epoll_event events[16];
    for (;;) {
      int n = ::epoll_wait(epfd_, events, 16, -1);
      for (int i = 0; i < n; ++i) reap(events[i].data.fd);
    }
  }

  void reap(int pidfd) noexcept {
    siginfo_t info{};
    int r;
    do {
      r = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
                   WEXITED | WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0 && info.si_pid == 0) return;  // not exited after all: keep waiting
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, pidfd, nullptr);
    ::close(pidfd);
    std::lock_guard lk(mu_);
    if (pending_.fetch_sub(1, std::memory_order_relaxed) == 1) idle_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable idle_;
  std::atomic<std::size_t> pending_{0};  // written under mu_
  int epfd_ = -1;                        // guarded by mu_ until the thread starts
  bool started_ = false;                 // guarded by mu_
};

Reaper& reaper() {
  static Reaper* r = new Reaper;  // never destroyed: its thread runs until exit
  return *r;
}

}  // namespace

void detail::hand_to_reaper(int pidfd, pid_t pid) noexcept {
  reaper().adopt(pidfd, pid);
}

std::size_t orphans() noexcept {
  return reaper().pending();
}

void blocking_wait_orphans() {
  if (in_runtime()) {
    throw UsageError(
        "weft::process::blocking_wait_orphans called on a weft worker: it would block the "
        "worker; use co_await weft::to_thread(weft::process::blocking_wait_orphans)");
  }
  reaper().wait_idle();
}

}  // namespace weft::process
