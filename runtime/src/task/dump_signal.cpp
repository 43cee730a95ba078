// Task dumps on SIGUSR1 (dump_signal.hpp).
#include "task/dump_signal.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "scheduler/scheduler.hpp"

namespace weft::detail {

namespace {

class DumpSignal {
 public:
  /// The process's one instance, never destroyed: its thread may be blocked in read() while
  /// static destructors run at exit.
  static DumpSignal& get() {
    static DumpSignal* d = new DumpSignal();
    return *d;
  }

  void add(Scheduler* s, TaskDumpHandler h) {
    std::lock_guard lk(mu_);
    if (pipe_[0] < 0) {
      if (::pipe2(pipe_, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "weft: task dump pipe");
      }
      ::fcntl(pipe_[1], F_SETFL, O_NONBLOCK);
      write_fd_.store(pipe_[1], std::memory_order_relaxed);
      std::thread([this] { loop(); }).detach();
    }
    if (entries_.empty()) install();
    entries_.push_back({s, std::move(h)});
  }

  void remove(Scheduler* s) noexcept {
    std::lock_guard lk(mu_);
    std::erase_if(entries_, [s](const Entry& e) { return e.sched == s; });
    if (entries_.empty()) ::sigaction(SIGUSR1, &old_, nullptr);
  }

 private:
  struct Entry {
    Scheduler* sched;
    TaskDumpHandler handler;
  };

  DumpSignal() = default;

  static void on_signal(int) noexcept {
    const int saved = errno;
    const char c = 1;
    // Non-blocking: a full pipe already has a dump coming.
    [[maybe_unused]] const ssize_t n = ::write(write_fd_.load(std::memory_order_relaxed), &c, 1);
    errno = saved;
  }

  void install() {
    struct sigaction sa {};
    sa.sa_handler = &DumpSignal::on_signal;
    ::sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (::sigaction(SIGUSR1, &sa, &old_) != 0) {
      throw std::system_error(errno, std::generic_category(), "weft: sigaction(SIGUSR1)");
    }
  }

  void loop() noexcept {
    char buf[64];
    for (;;) {
      const ssize_t n = ::read(pipe_[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      std::lock_guard lk(mu_);
      for (Entry& e : entries_) {
        try {
          e.handler(e.sched->dump_tasks());
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "weft: the task dump handler threw: %s\n", ex.what());
        } catch (...) {
          std::fprintf(stderr, "weft: the task dump handler threw\n");
        }
      }
    }
  }

  // Read by the signal handler, on whichever thread the kernel picks: set once, before the
  // handler is first installed. A lock-free atomic, which a handler may read.
  static inline std::atomic<int> write_fd_{-1};
  std::mutex mu_;
  std::vector<Entry> entries_;
  int pipe_[2] = {-1, -1};
  struct sigaction old_ {};
};

}  // namespace

DumpSignalRegistration::DumpSignalRegistration(Scheduler& sched, TaskDumpHandler handler)
    : sched_(sched) {
  if (!handler) {
    handler = [](const TaskDump& d) { std::fputs(d.text().c_str(), stderr); };
  }
  DumpSignal::get().add(&sched_, std::move(handler));
}

DumpSignalRegistration::~DumpSignalRegistration() {
  DumpSignal::get().remove(&sched_);
}

}  // namespace weft::detail
