// weft::process::Child and run() (asyncio.create_subprocess_exec, subprocess.run): child
// processes with pipes, waited for through a pidfd on the reactor.
//
// ## Spawning
// Child::spawn runs posix_spawn(3) in the calling thread: glibc starts the child with
// CLONE_VM|CLONE_VFORK and reports a failed exec or file action as posix_spawn's result, so
// "no such program" is a std::system_error in the parent ("spawn nosuchprog: No such file or
// directory"), never a child that exits 127. The caller is held only until the child has
// exec'd (as asyncio and Tokio do it on their loop threads). A program name without '/' is
// looked up in the PATH of the child's environment ("/bin:/usr/bin" if it has none); a
// relative path with '/' is taken relative to the child's working directory. The working
// directory and redirection files are opened by the parent first, so their errors name
// them. The child gets only fds 0, 1 and 2: everything else is closed in it (weft's own fds
// are close-on-exec too), its signal mask is empty (a parent that blocks SIGTERM for
// weft::signal does not pass that on) and SIGPIPE and SIGXFSZ are back to their defaults.
//
// ## Waiting
// A pidfd (pidfd_open) becomes readable when the process exits; wait() waits for that
// readiness and reaps with waitid(P_PIDFD), so weft installs no SIGCHLD handler and takes
// no other child of the host program. Several tasks may wait for one Child at once; all get
// the status. A host that reaps every child itself (a SIGCHLD handler calling waitpid(-1),
// or SIGCHLD set to SIG_IGN) takes the status from weft: wait() then throws ECHILD.
//
// ## Cancellation and destruction
// Cancelling wait() only stops waiting, as in asyncio: the process keeps running and the
// Child still owns it (wait again, kill it, or let the destructor end it). Destroying a Child
// whose process has not been reaped reaps it at once if it has exited; otherwise it is
// killed (SIGKILL) and handed to weft's reaper thread, which reaps it as soon as it exits —
// so no zombie is left and no thread blocks. detach() hands a process over without killing
// it. orphans() and blocking_wait_orphans() tell when the reaper is done.
//
// ## Thread safety
// A Child may be used from any thread and any task; wait(), try_wait() and the signal calls
// may race each other. It must not be moved or destroyed while a wait() or communicate() is
// in progress (the latter also uses the pipes). On the virtual clock a running child is not
// work the clock can see: a timeout around wait() expires as soon as every worker is idle.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <weft/runtime/task.hpp>

#include "weft/io/process/pipe.hpp"

namespace weft::process {

/// Where one of a child's standard streams goes.
class Stdio {
 public:
  /// Which of the four it is.
  enum class Kind { kInherit, kPipe, kNull, kFile };

  /// The parent's own fd 0, 1 or 2.
  static Stdio inherit() { return Stdio(Kind::kInherit, {}, false); }
  /// A pipe to the parent: Child::in, out or err.
  static Stdio pipe() { return Stdio(Kind::kPipe, {}, false); }
  /// /dev/null.
  static Stdio null() { return Stdio(Kind::kNull, {}, false); }
  /// A file, opened by the parent: read for stdin; for stdout and stderr created (mode 0666
  /// less the umask) and truncated, or appended to.
  static Stdio file(std::string path, bool append = false) {
    return Stdio(Kind::kFile, std::move(path), append);
  }

  /// Which of the four it is.
  Kind kind() const noexcept { return kind_; }
  /// The file of file() (empty for the others).
  const std::string& path() const noexcept { return path_; }
  /// file() appends rather than truncates.
  bool append() const noexcept { return append_; }

 private:
  Stdio(Kind kind, std::string path, bool append)
      : kind_(kind), path_(std::move(path)), append_(append) {}

  Kind kind_;
  std::string path_;
  bool append_;
};

/// How to start a child (designated initializers: `{.out = Stdio::pipe(), .cwd = "/tmp"}`).
struct Options {
  std::optional<Stdio> in{};   ///< unset: inherit for spawn(); for run(), /dev/null or a pipe
  std::optional<Stdio> out{};  ///< unset: inherit for spawn(); a pipe for run()
  std::optional<Stdio> err{};  ///< unset: inherit for spawn(); a pipe for run()
  std::string cwd{};           ///< the child's working directory; empty: the parent's
  bool clear_env = false;      ///< start from an empty environment instead of the parent's
  std::vector<std::pair<std::string, std::string>> env{};  ///< variables to add or override
  std::vector<std::string> env_remove{};                   ///< variables to remove
  /// The most communicate() and run() collect from stdout, and from stderr: a child that
  /// writes more makes them throw std::length_error rather than hold all of it.
  std::size_t max_output = kDefaultMaxOutput;
};

/// How a process ended: exactly one of `code` and `signal` is set.
struct ExitStatus {
  std::optional<int> code{};    ///< the exit code, if it exited
  std::optional<int> signal{};  ///< the signal that killed it, if one did
  bool core_dumped = false;     ///< killed by `signal` and left a core dump

  /// True if it exited with code 0.
  bool success() const noexcept { return code == 0; }
  /// "exit code 3", "killed by SIGKILL", "killed by SIGSEGV (core dumped)".
  std::string to_string() const;
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

/// What run() and communicate() collect.
struct Output {
  ExitStatus status{};
  std::string out{};  ///< everything the child wrote to stdout (empty unless it was a pipe)
  std::string err{};  ///< everything it wrote to stderr (empty unless it was a pipe)
};

namespace detail {
struct ChildState;
}  // namespace detail

/// A child process (see the file comment). Move-only.
class Child {
 public:
  /// Starts `args[0]` with arguments `args`. Any thread (a worker is held until the child has
  /// exec'd). Throws std::invalid_argument for empty `args`, and std::system_error naming the
  /// program — "spawn prog: No such file or directory", "spawn prog: Permission denied",
  /// "spawn prog: working directory DIR: ...", "spawn prog: stdout file PATH: ..." — if it
  /// cannot be started. Leaves no fd behind when it throws.
  static Child spawn(std::vector<std::string> args, Options options = {});

  /// An empty Child (no process).
  Child() noexcept;
  Child(Child&& o) noexcept;
  /// Ends the current process as the destructor does, then takes over `o`'s.
  Child& operator=(Child&& o) noexcept;
  /// Closes the pipes; reaps the process if it has exited, else kills it (SIGKILL) and
  /// leaves the reaping to the reaper thread. Never blocks.
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// The parent's ends of the pipes, present for the streams spawned with Stdio::pipe().
  /// Move them out to hand them to other tasks; communicate() uses those still here.
  std::optional<PipeWriter> in;
  std::optional<PipeReader> out;
  std::optional<PipeReader> err;

  /// The process id (-1 when empty). It stays valid until the Child is destroyed.
  pid_t pid() const noexcept;
  /// args[0] as given to spawn (for messages).
  const std::string& program() const noexcept;

  /// `co_await child.wait()` waits for the process to exit, reaps it and returns its status
  /// (at once once reaped). From a task; a cancellation point — cancelling leaves the process
  /// running. Throws UsageError on an empty Child, std::system_error if waitid fails.
  Task<ExitStatus> wait();
  /// The status if the process has exited (reaping it), without waiting. Any thread.
  std::optional<ExitStatus> try_wait();

  /// Sends `signo` (pidfd_send_signal: never a recycled pid). Nothing happens once the process
  /// has been reaped or has exited. Throws std::system_error naming the process and the signal
  /// (EPERM, EINVAL), UsageError on an empty Child. Any thread.
  void send_signal(int signo);
  /// send_signal(SIGKILL).
  void kill() { send_signal(SIGKILL); }
  /// send_signal(SIGTERM).
  void terminate() { send_signal(SIGTERM); }

  /// Writes `input` to stdin and closes it while reading stdout and stderr to their ends, all
  /// at once (so full pipes cannot deadlock), then waits for the exit. Streams that are not
  /// pipes (or were moved out) come back empty; a child that exits without reading all its
  /// input is not an error. Throws UsageError if `input` is not empty and stdin is not a pipe,
  /// and std::length_error "weft::process::Child::communicate: stdout of PROG (pid N): more
  /// than the maximum of MAX bytes (Options::max_output)" once a stream has given more than
  /// the spawn's Options::max_output: the reading and writing stop, and the process is left
  /// running, owned by the Child (kill it, or let the destructor end it). A cancellation
  /// point; on cancellation the reading and writing stop too.
  Task<Output> communicate(std::string input = {});

  /// Lets the process run on unobserved: the reaper thread reaps it whenever it exits. The
  /// pipes are closed and the Child becomes empty. Any thread.
  void detach() noexcept;

 private:
  void release(bool kill) noexcept;

  std::unique_ptr<detail::ChildState> st_;
};

/// Runs `args` to completion and collects its output (subprocess.run with capture):
/// `options.out` and `options.err`, when unset, become pipes, and `options.in` /dev/null — or,
/// in the overload with `input`, a pipe fed with it. Never throws for a failing exit status;
/// throws what spawn() throws, when awaited, and std::length_error "weft::process::run:
/// stdout of PROG (pid N): more than the maximum of MAX bytes (Options::max_output)" when the
/// child writes more than `options.max_output` to stdout or to stderr (the child is killed
/// then, and reaped). A cancellation point: cancelling it kills the child.
Task<Output> run(std::vector<std::string> args);
Task<Output> run(std::vector<std::string> args, const Options& options);
Task<Output> run(std::vector<std::string> args, const Options& options, std::string input);
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
// GCC before 13 destroys an aggregate temporary in a co_await expression twice, so
// `co_await run(args, {.cwd = "/tmp"})` would free the Options' strings twice. On those
// compilers, name the options first (`Options o{.cwd = "/tmp"}; co_await run(args, o);`).
Task<Output> run(std::vector<std::string> args, Options&& options) = delete;
Task<Output> run(std::vector<std::string> args, Options&& options, std::string input) = delete;
#endif

/// Processes handed to the reaper (destroyed while running, or detached) that it has not
/// reaped yet. Any thread; a snapshot.
std::size_t orphans() noexcept;

/// Blocks the calling thread until orphans() is zero — for an orderly exit after the killed
/// children have died, or a test. Waits forever for a detached process that never exits.
/// Throws UsageError on a weft worker (use to_thread).
void blocking_wait_orphans();

}  // namespace weft::process
