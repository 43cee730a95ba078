// weft::signal (signal.hpp): the per-signal channels, the poller/waiter protocol of recv(),
// and the check that every thread blocks a signal before anyone listens for it.
//
// A channel exists while a Listener of its signal does; the registry's mutex guards which
// channels exist and their listener counts. Inside a channel, `lock` (a SpinLock: every
// critical section is a few loads and stores) guards the delivery count, the poller flag
// and the waiter list. Only the poller reads the signalfd, and it always steps down (under
// the lock, waking every waiter) when it stops, so a delivery it read is seen by everybody.
#include "weft/io/signal.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <weft/runtime/budget.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/runtime/io.hpp>
#include <weft/runtime/runtime.hpp>
#include <weft/sync/detail/waiter_list.hpp>

namespace weft::signal {

namespace detail {

/// The shared state of every Listener of one signal (see the top of this file).
struct Channel {
  int signo = 0;
  int fd = -1;                       // signalfd for {signo}: non-blocking, close-on-exec
  IoRegistration reg;                // fd's readiness, waited for by the poller only
  weft::detail::SpinLock lock;       // guards the three below
  std::uint64_t delivered = 0;       // deliveries read from fd so far
  bool polling = false;              // a recv is the poller
  weft::detail::WaiterList waiters;  // the other recvs
  std::size_t listeners = 0;         // guarded by the registry's mutex
};

}  // namespace detail

namespace {

using detail::Channel;

struct Registry {
  std::mutex mu;
  std::array<Channel*, NSIG> channels{};  // guarded by mu, indexed by signal number
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: listeners may outlive main()
  return *r;
}

/// Throws std::invalid_argument unless weft can wait for `signo`.
void check_waitable(int signo) {
  const char* why = nullptr;
  if (signo <= 0 || signo >= NSIG) {
    why = "no such signal";
  } else if (signo == SIGKILL || signo == SIGSTOP) {
    why = "it cannot be blocked";
  } else if (signo == SIGSEGV || signo == SIGBUS || signo == SIGILL || signo == SIGFPE ||
             signo == SIGTRAP) {
    why = "it reports a fault of the thread that raised it";
  } else if (signo >= __SIGRTMIN && signo < SIGRTMIN) {
    why = "the C library uses it internally";
  }
  if (why) {
    throw std::invalid_argument("weft::signal: cannot wait for " + name(signo) + ": " + why);
  }
}

/// The contents of a small /proc file, or nothing if it cannot be read (the thread exited).
std::optional<std::string> read_proc_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

/// True if the "SigBlk:" line of a /proc/<tid>/status text has `signo`'s bit, or if the
/// line cannot be found (nothing to complain about then).
bool status_blocks(const std::string& status, int signo) {
  auto at = status.find("SigBlk:");
  if (at == std::string::npos) return true;
  unsigned long long mask = std::strtoull(status.c_str() + at + 7, nullptr, 16);
  return (mask >> (signo - 1)) & 1;
}

/// Throws UsageError naming the first thread of this process that does not block `signo`.
void check_blocked_everywhere(int signo) {
  DIR* dir = ::opendir("/proc/self/task");
  if (!dir) return;  // no /proc: nothing to check with
  std::optional<std::string> offender;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::string base = std::string("/proc/self/task/") + e->d_name;
    auto status = read_proc_file(base + "/status");
    if (!status || status_blocks(*status, signo)) continue;
    std::string comm = read_proc_file(base + "/comm").value_or("?");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    offender = std::string(e->d_name) + " (" + comm + ")";
    break;
  }
  ::closedir(dir);
  if (offender) {
    const std::string sig = name(signo);
    throw UsageError("weft::signal: " + sig + " is not blocked in thread " + *offender +
                     ", so it could be delivered there instead of to weft; call "
                     "weft::signal::block({" +
                     sig +
                     "}) at the top of main(), before the runtime or any other thread "
                     "starts, so that every thread inherits the mask");
  }
}

/// Reads every pending delivery from the signalfd and adds them to the count. Poller only.
std::size_t drain(Channel& ch) {
  std::size_t got = 0;
  signalfd_siginfo info[8];
  for (;;) {
    ssize_t n = ::read(ch.fd, info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      throw std::system_error(errno, std::system_category(),
                              "weft::signal: reading the signalfd for " + name(ch.signo));
    }
    if (n <= 0) break;
    got += static_cast<std::size_t>(n) / sizeof(signalfd_siginfo);
    if (static_cast<std::size_t>(n) < sizeof info) break;
  }
  if (got > 0) {
    std::lock_guard lk(ch.lock);
    ch.delivered += got;
  }
  return got;
}

/// The poller stops: another recv may take over, and every waiter looks at the count again.
void step_down(Channel& ch) noexcept {
  weft::detail::WakeList woken;
  {
    std::lock_guard lk(ch.lock);
    ch.polling = false;
    while (weft::detail::SyncWaiter* w = ch.waiters.claim_front()) woken.push(w);
  }
  woken.wake_all();
}

/// Awaiter of a recv that is not the poller: waits until the count moves past `seen` or the
/// poller steps down. Lives in recv's frame.
class WaiterAwaiter : weft::detail::SyncWaiter {
 public:
  WaiterAwaiter(Channel& ch, std::uint64_t seen) noexcept : ch_(ch), seen_(seen) {}

  bool await_ready() const noexcept { return false; }

  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current()) {
    weft::detail::TaskHeader* t = &weft::detail::require_task("weft::signal::Listener::recv");
    init(t, &ch_.lock, &ch_.waiters);
    std::lock_guard lk(ch_.lock);
    if (ch_.delivered != seen_ || !ch_.polling) return false;  // news, or the role is free
    if (!publish(h, {"signal", where})) {
      cancelled = true;
      return false;
    }
    return true;  // published: the frame is not touched again
  }

  void await_resume() {
    if (cancelled) {
      task->take_cancel();
      throw CancelledError();
    }
  }

 private:
  Channel& ch_;
  std::uint64_t seen_;
};

}  // namespace

std::string name(int signo) {
  if (signo >= SIGRTMIN && signo <= SIGRTMAX) {
    return signo == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(signo - SIGRTMIN);
  }
  if (signo > 0 && signo < NSIG) {
    if (const char* abbrev = ::sigabbrev_np(signo)) return std::string("SIG") + abbrev;
  }
  return "signal " + std::to_string(signo);
}

void block(std::span<const int> signals) {
  if (in_runtime()) {
    throw UsageError(
        "weft::signal::block called on a weft worker: it would block the signals in that one "
        "thread only; call it at the top of main(), before the runtime starts");
  }
  sigset_t set;
  ::sigemptyset(&set);
  for (int s : signals) {
    check_waitable(s);
    ::sigaddset(&set, s);
  }
  if (int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr)) {
    throw std::system_error(err, std::system_category(), "weft::signal::block");
  }
}

Listener::Listener(int signo) : signo_(signo) {
  check_waitable(signo);
  Registry& r = registry();
  std::lock_guard lk(r.mu);
  Channel*& slot = r.channels[static_cast<std::size_t>(signo)];
  if (!slot) {
    check_blocked_everywhere(signo);
    sigset_t set;
    ::sigemptyset(&set);
    ::sigaddset(&set, signo);
    int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
      throw std::system_error(errno, std::system_category(),
                              "weft::signal: signalfd for " + name(signo));
    }
    auto* ch = new Channel;
    ch->signo = signo;
    ch->fd = fd;
    ch->reg = IoRegistration(fd);
    slot = ch;
  }
  ch_ = slot;
  ++ch_->listeners;
  std::lock_guard clk(ch_->lock);
  seen_ = ch_->delivered;
}

Listener::Listener(Listener&& o) noexcept
    : ch_(std::exchange(o.ch_, nullptr)),
      seen_(std::exchange(o.seen_, 0)),
      signo_(std::exchange(o.signo_, 0)) {}

Listener& Listener::operator=(Listener&& o) noexcept {
  if (this != &o) {
    release();
    ch_ = std::exchange(o.ch_, nullptr);
    seen_ = std::exchange(o.seen_, 0);
    signo_ = std::exchange(o.signo_, 0);
  }
  return *this;
}

Listener::~Listener() {
  release();
}

void Listener::release() noexcept {
  Channel* ch = std::exchange(ch_, nullptr);
  if (!ch) return;
  Registry& r = registry();
  std::lock_guard lk(r.mu);
  if (--ch->listeners > 0) return;
  r.channels[static_cast<std::size_t>(ch->signo)] = nullptr;
  ch->reg.reset();  // nobody waits: no listener is left to run a recv
  ::close(ch->fd);
  delete ch;
}

Task<std::size_t> Listener::recv() {
  if (!ch_) throw UsageError("weft::signal::Listener::recv on a moved-from listener");
  Channel& ch = *ch_;
  for (;;) {
    bool poller = false;
    std::uint64_t news = 0;
    {
      std::lock_guard lk(ch.lock);
      news = ch.delivered - seen_;
      seen_ = ch.delivered;
      if (news == 0 && !ch.polling) poller = ch.polling = true;
    }
    if (news > 0) {
      co_await consume_budget();
      co_return static_cast<std::size_t>(news);
    }
    if (!poller) {
      co_await WaiterAwaiter(ch, seen_);
      continue;
    }
    try {
      const auto seq = ch.reg.ready_seq(Interest::kRead);
      if (drain(ch) == 0) {
        co_await ch.reg.wait(Interest::kRead, seq);
        drain(ch);
      }
    } catch (...) {
      step_down(ch);
      throw;
    }
    step_down(ch);
  }
}

Task<void> wait(int signo) {
  Listener l(signo);
  co_await l.recv();
}

}  // namespace weft::signal
