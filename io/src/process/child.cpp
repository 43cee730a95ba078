// weft::process::Child and run() (child.hpp): the process state behind a Child, waiting on
// its pidfd, signals, communicate(), and what destruction does.
//
// ChildState is heap-allocated so a Child moves without moving what a wait() in progress
// points at. Its mutex guards the status and the reaping waitid (non-blocking: WNOHANG), so
// of several tasks waiting at once exactly one reaps and all see the status.
#include "weft/io/process/child.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <weft/runtime/budget.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/runtime/gather.hpp>
#include <weft/runtime/io.hpp>

#include "pidfd.hpp"
#include "reaper.hpp"
#include "spawn.hpp"
#include "weft/io/signal.hpp"

namespace weft::process {

namespace detail {

/// The process a Child owns (see the top of this file).
struct ChildState {
  pid_t pid = -1;
  int pidfd = -1;
  IoRegistration reg;  // the pidfd's readiness: readable once the process has exited
  std::string program;
  std::size_t max_output = kDefaultMaxOutput;  // Options::max_output, for communicate()
  std::mutex mu;
  std::optional<ExitStatus> status;  // guarded by mu: set by the reaping waitid

  /// "prog (pid 42)".
  std::string describe() const { return program + " (pid " + std::to_string(pid) + ")"; }

  /// Reaps the process if it has exited (once; later calls return the same status).
  std::optional<ExitStatus> try_reap() {
    std::lock_guard lk(mu);
    if (status) return status;
    for (;;) {
      siginfo_t info{};
      if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
                   WEXITED | WNOHANG) == 0) {
        if (info.si_pid == 0) return std::nullopt;  // still running
        status = from_siginfo(info);
        return status;
      }
      if (errno == EINTR) continue;
      const int err = errno;
      if (err == ECHILD) {
        throw std::system_error(err, std::system_category(),
                                "wait for " + describe() +
                                    ": it was reaped elsewhere (a SIGCHLD handler calling "
                                    "waitpid(-1), or SIGCHLD set to SIG_IGN)");
      }
      throw std::system_error(err, std::system_category(), "wait for " + describe());
    }
  }

  /// True unless the process is still running (or waitid cannot tell: then it is not ours
  /// to reap any more either).
  bool gone() noexcept {
    try {
      return try_reap().has_value();
    } catch (...) {
      return true;
    }
  }

  static ExitStatus from_siginfo(const siginfo_t& info) {
    ExitStatus s;
    if (info.si_code == CLD_EXITED) {
      s.code = info.si_status;
    } else {
      s.signal = info.si_status;
      s.core_dumped = info.si_code == CLD_DUMPED;
    }
    return s;
  }
};

}  // namespace detail

namespace {

using detail::ChildState;

Task<ExitStatus> wait_for_exit(ChildState* st) {
  for (;;) {
    const auto seq = st->reg.ready_seq(Interest::kRead);
    if (auto status = st->try_reap()) {
      co_await consume_budget();
      co_return *status;
    }
    co_await st->reg.wait(Interest::kRead, seq);
  }
}

/// Writes `input` (owned by the caller's frame) to stdin and closes it; a reader that has
/// gone (EPIPE) is no error here.
Task<void> feed(PipeWriter* in, std::string_view input) {
  if (!in) co_return;
  try {
    co_await in->write_all(input);
  } catch (const std::system_error& e) {
    if (e.code() != std::errc::broken_pipe) throw;
  }
  in->close();
}

/// Reads `r` to its end: at most `max` bytes, else std::length_error naming `what` (the call).
Task<std::string> collect(PipeReader* r, std::size_t max, const char* what) {
  if (!r || !r->is_open()) co_return std::string();
  try {
    co_return co_await r->read_all(max);
  } catch (const std::length_error&) {
    throw std::length_error(std::string("weft::process::") + what + ": " + r->name() +
                            ": more than the maximum of " + std::to_string(max) +
                            " bytes (Options::max_output)");
  }
}

/// communicate()'s check of its arguments: input needs a stdin pipe.
void check_input(const Child& c, std::string_view input) {
  if (!input.empty() && !c.in) {
    throw UsageError("weft::process::Child::communicate: input given, but the stdin of " +
                     c.program() + " (pid " + std::to_string(c.pid()) + ") is not a pipe");
  }
}

/// communicate(), naming `what` in its errors. gather stops the other streams when one fails.
Task<Output> communicate_on(Child* c, std::string input, std::size_t max, const char* what) {
  auto streams = co_await gather(feed(c->in ? &*c->in : nullptr, input),
                                 collect(c->out ? &*c->out : nullptr, max, what),
                                 collect(c->err ? &*c->err : nullptr, max, what));
  Output result;
  result.out = std::move(std::get<1>(streams));
  result.err = std::move(std::get<2>(streams));
  result.status = co_await c->wait();
  co_return result;
}

Task<Output> run_child(std::vector<std::string> args, Options options,
                       std::optional<std::string> input) {
  if (!options.in) options.in = input ? Stdio::pipe() : Stdio::null();
  if (!options.out) options.out = Stdio::pipe();
  if (!options.err) options.err = Stdio::pipe();
  std::string data = input ? std::move(*input) : std::string();
  const std::size_t max = options.max_output;
  Child c = Child::spawn(std::move(args), std::move(options));
  check_input(c, data);
  // On any error (a stream above the maximum, a cancellation), c's destructor kills the child
  // if it still runs, and it is reaped (at once, or by the reaper).
  Output output = co_await communicate_on(&c, std::move(data), max, "run");
  co_return output;
}

[[noreturn]] void fail_empty(const char* what) {
  throw UsageError(std::string("weft::process::Child::") + what + " on an empty Child");
}

}  // namespace

std::string ExitStatus::to_string() const {
  if (code) return "exit code " + std::to_string(*code);
  if (signal) {
    return "killed by " + weft::signal::name(*signal) + (core_dumped ? " (core dumped)" : "");
  }
  return "no status";
}

Child Child::spawn(std::vector<std::string> args, Options options) {
  if (args.empty()) throw std::invalid_argument("weft::process::Child::spawn: no program given");
  auto st = std::make_unique<ChildState>();  // before spawning: nothing allocates after it
  st->program = args.front();
  st->max_output = options.max_output;
  detail::Spawned sp = detail::spawn_process(args, options);
  Child c;
  st->pid = sp.pid;
  st->pidfd = sp.pidfd.release();
  st->reg = IoRegistration(st->pidfd);
  c.st_ = std::move(st);
  // The Child owns the process now: if a pipe cannot be set up, its destructor ends it.
  const std::string who = c.st_->describe();
  if (sp.in) {
    std::string name = "stdin of " + who;
    c.in.emplace(sp.in.release(), std::move(name));
  }
  if (sp.out) {
    std::string name = "stdout of " + who;
    c.out.emplace(sp.out.release(), std::move(name));
  }
  if (sp.err) {
    std::string name = "stderr of " + who;
    c.err.emplace(sp.err.release(), std::move(name));
  }
  return c;
}

Child::Child() noexcept = default;

Child::Child(Child&& o) noexcept
    : in(std::exchange(o.in, std::nullopt)),
      out(std::exchange(o.out, std::nullopt)),
      err(std::exchange(o.err, std::nullopt)),
      st_(std::move(o.st_)) {}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    release(/*kill=*/true);
    in = std::exchange(o.in, std::nullopt);
    out = std::exchange(o.out, std::nullopt);
    err = std::exchange(o.err, std::nullopt);
    st_ = std::move(o.st_);
  }
  return *this;
}

Child::~Child() {
  release(/*kill=*/true);
}

void Child::detach() noexcept {
  release(/*kill=*/false);
}

void Child::release(bool kill) noexcept {
  in.reset();
  out.reset();
  err.reset();
  std::unique_ptr<ChildState> st = std::move(st_);
  if (!st) return;
  st->reg.reset();  // aborts with a message if a wait() is still in progress
  if (st->gone()) {
    ::close(st->pidfd);
    return;
  }
  if (kill) ::pidfd_send_signal(st->pidfd, SIGKILL, nullptr, 0);
  detail::hand_to_reaper(st->pidfd, st->pid);
}

pid_t Child::pid() const noexcept {
  return st_ ? st_->pid : -1;
}

const std::string& Child::program() const noexcept {
  static const std::string none;
  return st_ ? st_->program : none;
}

Task<ExitStatus> Child::wait() {
  if (!st_) fail_empty("wait");
  return wait_for_exit(st_.get());
}

std::optional<ExitStatus> Child::try_wait() {
  if (!st_) fail_empty("try_wait");
  return st_->try_reap();
}

void Child::send_signal(int signo) {
  if (!st_) fail_empty("send_signal");
  {
    std::lock_guard lk(st_->mu);
    if (st_->status) return;  // reaped
  }
  if (::pidfd_send_signal(st_->pidfd, signo, nullptr, 0) == 0 || errno == ESRCH) return;
  throw std::system_error(errno, std::system_category(),
                          "send " + weft::signal::name(signo) + " to " + st_->describe());
}

Task<Output> Child::communicate(std::string input) {
  if (!st_) fail_empty("communicate");
  check_input(*this, input);
  return communicate_on(this, std::move(input), st_->max_output, "Child::communicate");
}

Task<Output> run(std::vector<std::string> args) {
  return run_child(std::move(args), Options(), std::nullopt);
}

Task<Output> run(std::vector<std::string> args, const Options& options) {
  return run_child(std::move(args), options, std::nullopt);
}

Task<Output> run(std::vector<std::string> args, const Options& options, std::string input) {
  return run_child(std::move(args), options, std::move(input));
}

}  // namespace weft::process
