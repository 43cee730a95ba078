// weft::process: run() and communicate() collecting output (and refusing more than their
// maximum, leaving no fd or process behind), pipes both ways, waiting through the pidfd
// (several waiters, cancellation), kill and terminate, what destruction and detach() do (no
// zombie left), environment, PATH lookup, working directory and redirections, the spawn
// errors (each naming the program or the path), and that no fd leaks into the child or, on
// any error path, in the parent.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {  // glibc 2.36 declares these without C linkage
#include <sys/pidfd.h>
}

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "stress_scale.hpp"

using namespace std::chrono_literals;
using weft::process::Child;
using weft::process::ExitStatus;
using weft::process::Options;
using weft::process::Stdio;

namespace {

std::size_t open_fds() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

/// A fresh directory under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/weft-process-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name, const std::string& content, mode_t mode) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// Expects `f` to throw std::system_error with `err` and exactly the message `what`.
template <class F>
void expect_system_error(F f, int err, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << what;
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), err) << e.what();
    EXPECT_EQ(std::string(e.what()), what);
  }
}

/// weft::process::run in a runtime of its own, from a plain test body.
weft::process::Output run_now(std::vector<std::string> args, Options options = {}) {
  return weft::run(weft::process::run(std::move(args), options));
}

/// run_now, feeding `input` to the child.
weft::process::Output run_now(std::vector<std::string> args, Options options, std::string input) {
  return weft::run(weft::process::run(std::move(args), options, std::move(input)));
}

weft::RuntimeOptions virtual_clock(std::size_t workers) {
  return {.workers = workers, .clock = weft::ClockKind::Virtual};
}

/// True once `pid` is neither running nor a zombie (it was reaped), seen through a pidfd we
/// opened ourselves while it still existed.
bool reaped(int own_pidfd) {
  siginfo_t info{};
  return ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(own_pidfd), &info,
                  WEXITED | WNOHANG | WNOWAIT) < 0 &&
         errno == ECHILD;
}

TEST(Child, RunCollectsOutputErrorOutputAndTheExitCode) {
  auto r = weft::run(weft::process::run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.status.code, 3);
  EXPECT_FALSE(r.status.signal);
  EXPECT_FALSE(r.status.success());
  EXPECT_EQ(r.status.to_string(), "exit code 3");
}

TEST(Child, RunFeedsItsInputToTheChild) {
  auto r = run_now({"tr", "a-z", "A-Z"}, {}, "shout this");
  EXPECT_EQ(r.out, "SHOUT THIS");
  EXPECT_TRUE(r.status.success());
}

TEST(Child, RunGivesTheChildAnEmptyStdinByDefault) {
  auto r = weft::run(weft::process::run({"cat"}));
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(r.status.success());
}

TEST(Child, SpawningAMissingProgramNamesIt) {
  expect_system_error(
      [] {
        Child::spawn({"nosuchprog", "arg"});
      },
      ENOENT, "spawn nosuchprog: No such file or directory");
  expect_system_error([] { Child::spawn({"/no/such/dir/prog"}); }, ENOENT,
                      "spawn /no/such/dir/prog: No such file or directory");
}

TEST(Child, AFileWithoutAnyExecuteBitIsPermissionDeniedEvenForRoot) {
  TempDir dir;  // execve needs at least one x bit, whoever runs it
  const std::string script = dir.file("script", "#!/bin/sh\necho hi\n", 0644);
  expect_system_error([&] { Child::spawn({script}); }, EACCES,
                      "spawn " + script + ": Permission denied");
  Options in_path{.env = {{"PATH", dir.path()}}};
  expect_system_error([&] { Child::spawn({"script"}, in_path); }, EACCES,
                      "spawn script: Permission denied");
  expect_system_error([&] { Child::spawn({dir.path()}); }, EACCES,
                      "spawn " + dir.path() + ": Permission denied");  // a directory
}

TEST(Child, ABadWorkingDirectoryNamesTheDirectory) {
  TempDir dir;
  const std::string file = dir.file("plain", "", 0644);
  expect_system_error([] { Child::spawn({"/bin/true"}, {.cwd = "/no/such/dir"}); }, ENOENT,
                      "spawn /bin/true: working directory /no/such/dir: No such file or "
                      "directory");
  expect_system_error([&] { Child::spawn({"/bin/true"}, {.cwd = file}); }, ENOTDIR,
                      "spawn /bin/true: working directory " + file + ": Not a directory");
}

TEST(Child, ABadRedirectionNamesTheFile) {
  expect_system_error(
      [] { Child::spawn({"/bin/true"}, {.out = Stdio::file("/no/such/dir/out.txt")}); }, ENOENT,
      "spawn /bin/true: stdout file /no/such/dir/out.txt: No such file or directory");
  expect_system_error([] { Child::spawn({"/bin/cat"}, {.in = Stdio::file("/no/such/in")}); },
                      ENOENT, "spawn /bin/cat: stdin file /no/such/in: No such file or directory");
}

TEST(Child, NoErrorPathLeavesAnFdBehind) {
  weft::run([]() -> weft::Task<void> {
    TempDir dir;
    const std::size_t before = open_fds();
    const Options pipes{.in = Stdio::pipe(), .out = Stdio::pipe(), .err = Stdio::pipe()};
    Options bad_cwd = pipes;
    bad_cwd.cwd = "/no/such/dir";
    Options bad_err = pipes;
    bad_err.err = Stdio::file("/no/such/dir/err");
    Options bad_env = pipes;
    bad_env.env = {{"A=B", "x"}};
    const std::string denied = dir.file("denied", "", 0644);
    EXPECT_THROW(Child::spawn({"nosuchprog"}, pipes), std::system_error);
    EXPECT_THROW(Child::spawn({denied}, pipes), std::system_error);
    EXPECT_THROW(Child::spawn({"/bin/true"}, bad_cwd), std::system_error);
    EXPECT_THROW(Child::spawn({"/bin/true"}, bad_err), std::system_error);
    EXPECT_THROW(Child::spawn({"/bin/true"}, bad_env), std::invalid_argument);
    auto missing = weft::process::run({"nosuchprog"}, pipes, "input");
    EXPECT_THROW(co_await std::move(missing), std::system_error);
    EXPECT_EQ(open_fds(), before);
  }());
}

TEST(Child, ASpawnWaitAndDestroyLeaveNoFdBehind) {
  weft::run([]() -> weft::Task<void> {
    const std::size_t before = open_fds();
    {
      Child c = Child::spawn({"/bin/cat"},
                             {.in = Stdio::pipe(), .out = Stdio::pipe(), .err = Stdio::pipe()});
      EXPECT_GT(open_fds(), before);
      auto output = co_await c.communicate("x");
      EXPECT_EQ(output.out, "x");
    }
    EXPECT_EQ(open_fds(), before);
  }());
}

TEST(Child, OnlyStdioReachesTheChild) {
  // An fd the host opened without close-on-exec, far above the child's own.
  int leaky = ::fcntl(::open("/dev/null", O_RDONLY | O_CLOEXEC), F_DUPFD, 100);
  ASSERT_GE(leaky, 100);
  auto r = run_now({"/bin/ls", "/proc/self/fd"}, {.in = Stdio::pipe(), .err = Stdio::pipe()});
  ::close(leaky);
  std::set<std::string> fds;
  std::istringstream lines(r.out);
  for (std::string l; std::getline(lines, l);) fds.insert(l);
  // 0-2, and the directory ls itself is reading (the lowest free number, 3).
  EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2", "3"})) << r.out;
}

TEST(Child, ThePipesStreamBothWays) {
  weft::run([]() -> weft::Task<void> {
    Child c = Child::spawn({"cat"}, {.in = Stdio::pipe(), .out = Stdio::pipe()});
    co_await c.in->write_all("ping\n");
    std::string got(5, '\0');
    co_await c.out->read_exact(std::as_writable_bytes(std::span(got)));
    EXPECT_EQ(got, "ping\n");
    co_await c.in->write_all("the rest");
    c.in->close();  // cat sees end of stream and exits
    EXPECT_EQ(co_await c.out->read_all(), "the rest");
    std::byte b[1];
    EXPECT_THROW(co_await c.out->read_exact(b), weft::net::IncompleteRead);
    ExitStatus s = co_await c.wait();
    EXPECT_TRUE(s.success());
    EXPECT_EQ(c.try_wait(), s);
    EXPECT_EQ(co_await c.wait(), s);  // once reaped, at once
  }());
}

TEST(Child, CommunicateMovesMegabytesBothWaysWithoutDeadlock) {
  std::string big(8 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  weft::RuntimeOptions o;
  o.workers = 2;
  auto r = weft::run(
      [](std::string big) -> weft::Task<weft::process::Output> {
        // Far more than a pipe holds, in and out, while stderr gets output too.
        Child c = Child::spawn({"/bin/sh", "-c", "cat; echo done >&2"},
                               {.in = Stdio::pipe(), .out = Stdio::pipe(), .err = Stdio::pipe()});
        co_return co_await c.communicate(std::move(big));
      }(big),
      o);
  EXPECT_TRUE(r.out == big) << r.out.size() << " bytes back";
  EXPECT_EQ(r.err, "done\n");
  EXPECT_TRUE(r.status.success());
}

TEST(Child, CommunicateWithInputButNoStdinPipeIsAUsageError) {
  weft::run([]() -> weft::Task<void> {
    Child c = Child::spawn({"/bin/true"});
    EXPECT_THROW((void)c.communicate("input"), weft::UsageError);
    EXPECT_TRUE((co_await c.communicate()).status.success());
    const Options no_stdin{.in = Stdio::null()};
    auto run_with_input = weft::process::run({"/bin/true"}, no_stdin, "input");
    EXPECT_THROW(co_await std::move(run_with_input), weft::UsageError);
  }());
}

/// The pid in a message that names a pipe: "... stdout of prog (pid 42) ...".
pid_t pid_in(const std::string& what) {
  const auto at = what.find("(pid ");
  return at == std::string::npos ? -1 : std::stoi(what.substr(at + 5));
}

/// True once `pid` is gone: neither running nor a zombie.
bool gone(pid_t pid) {
  return ::kill(pid, 0) < 0 && errno == ESRCH;
}

TEST(Pipe, APipeCarriesBytesAndReadOrWriteOnceItIsClosedIsAUsageError) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  weft::run(
      [](int read_fd, int write_fd) -> weft::Task<void> {
        weft::process::PipeReader r(read_fd, "test pipe (read end)");
        weft::process::PipeWriter w(write_fd, "test pipe (write end)");
        auto reading = weft::spawn([](weft::process::PipeReader& r) -> weft::Task<std::string> {
          co_return co_await r.read_all();
        }(r));
        co_await weft::yield_now();  // it waits now: the pipe is empty
        co_await w.write_all("through the pipe");
        w.close();
        EXPECT_EQ(co_await reading, "through the pipe");
        r.close();
        std::byte buf[4];
        try {
          co_await r.read(buf);
          ADD_FAILURE() << "read a closed pipe";
        } catch (const weft::UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("read on a closed pipe"), std::string::npos);
        }
        try {
          co_await w.write(std::as_bytes(std::span(buf)));
          ADD_FAILURE() << "wrote to a closed pipe";
        } catch (const weft::UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("write on a closed pipe"), std::string::npos);
        }
      }(fds[0], fds[1]),
      {.workers = 1});
}

/// Code of one's own that takes either end of a pipe through their public base.
std::string describe(const weft::process::PipeEnd& end) {
  return end.name() + (end.is_open() ? ": open" : ": closed");
}

TEST(Pipe, BothEndsAreAPipeEndWithItsNameAndState) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  weft::process::PipeReader r(fds[0], "test pipe (read end)");
  weft::process::PipeWriter w(fds[1], "test pipe (write end)");
  EXPECT_EQ(describe(r), "test pipe (read end): open");
  w.close();
  EXPECT_EQ(describe(w), "test pipe (write end): closed");
  EXPECT_EQ(w.fd(), -1);
}

TEST(Child, PipeReaderReadAllRefusesMoreThanItsMaximum) {
  weft::run([]() -> weft::Task<void> {
    Child exact = Child::spawn({"head", "-c", "1000", "/dev/zero"}, {.out = Stdio::pipe()});
    EXPECT_EQ((co_await exact.out->read_all(1000)).size(), 1000u);
    EXPECT_TRUE((co_await exact.wait()).success());
    Child endless = Child::spawn({"yes"}, {.out = Stdio::pipe()});
    try {
      co_await endless.out->read_all(1000);
      ADD_FAILURE() << "read all of yes";
    } catch (const std::length_error& e) {
      EXPECT_EQ(std::string(e.what()), "weft::process::PipeReader::read_all: stdout of yes (pid " +
                                           std::to_string(endless.pid()) +
                                           "): more than the maximum of 1000 bytes (1001 bytes "
                                           "read)");
    }
    endless.kill();
    EXPECT_EQ((co_await endless.wait()).signal, SIGKILL);
  }());
}

TEST(Child, RunAndCommunicateRefuseMoreOutputThanTheMaximumAndLeaveNothingBehind) {
  {
    // The reaper's epoll, made at its first hand-over, stays: make it before counting.
    Child started = Child::spawn({"sleep", "1000"});
  }
  weft::process::blocking_wait_orphans();
  const std::size_t fds_before = open_fds();
  std::vector<pid_t> refused;
  const std::vector<std::string> exactly_the_maximum = {"head", "-c", "1000", "/dev/zero"};
  // One byte more, an endless writer, and the same on stderr: run() ends each child.
  const std::vector<std::vector<std::string>> noisy = {
      {"head", "-c", "1001", "/dev/zero"},
      {"yes"},
      {"/bin/sh", "-c", "exec yes >&2"},
  };
  weft::run([](const std::vector<std::string>& exactly_the_maximum,
               const std::vector<std::vector<std::string>>& noisy,
               std::vector<pid_t>& refused) -> weft::Task<void> {
    const Options limited{.max_output = 1000};
    const std::string over = "): more than the maximum of 1000 bytes (Options::max_output)";
    auto at_max = co_await weft::process::run(exactly_the_maximum, limited);
    EXPECT_EQ(at_max.out.size(), 1000u);
    EXPECT_TRUE(at_max.status.success());
    for (const auto& args : noisy) {
      try {
        co_await weft::process::run(args, limited);
        ADD_FAILURE() << "collected all the output of " << args.back();
      } catch (const std::length_error& e) {
        const std::string what = e.what();
        const std::string stream = args[0] == "/bin/sh" ? "stderr" : "stdout";
        const pid_t pid = pid_in(what);
        EXPECT_EQ(what, "weft::process::run: " + stream + " of " + args[0] + " (pid " +
                            std::to_string(pid) + over);
        refused.push_back(pid);
      }
    }
    // communicate() leaves the process to the Child that owns it, still running.
    Options piped = limited;
    piped.out = Stdio::pipe();
    Child c = Child::spawn({"yes"}, piped);
    try {
      co_await c.communicate();
      ADD_FAILURE() << "collected all the output of yes";
    } catch (const std::length_error& e) {
      EXPECT_EQ(std::string(e.what()), "weft::process::Child::communicate: stdout of yes (pid " +
                                           std::to_string(c.pid()) + over);
    }
    EXPECT_FALSE(c.try_wait());
    c.kill();
    EXPECT_EQ((co_await c.wait()).signal, SIGKILL);
  }(exactly_the_maximum, noisy, refused));
  weft::process::blocking_wait_orphans();
  ASSERT_EQ(refused.size(), 3u);
  for (pid_t pid : refused) EXPECT_TRUE(gone(pid)) << "pid " << pid << " is still there";
  EXPECT_EQ(open_fds(), fds_before);
}

TEST(Child, WritingToAChildThatExitedIsBrokenPipeNotSigpipe) {
  weft::run([]() -> weft::Task<void> {
    Child c = Child::spawn({"/bin/true"}, {.in = Stdio::pipe()});
    co_await c.wait();  // its end of the pipe is closed now
    try {
      co_await c.in->write_all("anybody there?");
      ADD_FAILURE() << "wrote to a pipe nobody reads";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EPIPE);
      EXPECT_EQ(std::string(e.what()),
                "write to stdin of /bin/true (pid " + std::to_string(c.pid()) + "): Broken pipe");
    }
  }());
}

TEST(Child, KillEndsTheProcessWithSigkill) {
  weft::run([]() -> weft::Task<void> {
    Child c = Child::spawn({"sleep", "1000"});
    EXPECT_GT(c.pid(), 0);
    EXPECT_FALSE(c.try_wait());
    c.kill();
    ExitStatus s = co_await c.wait();
    EXPECT_EQ(s.signal, SIGKILL);
    EXPECT_FALSE(s.code);
    EXPECT_EQ(s.to_string(), "killed by SIGKILL");
    c.kill();  // reaped: nothing to signal, and no error
  }());
}

TEST(Child, TerminateWorksEvenThoughTheParentBlocksSigterm) {
  sigset_t term;
  sigset_t saved;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &saved), 0);  // as weft::signal users do
  auto s = weft::run([]() -> weft::Task<ExitStatus> {
    Child c = Child::spawn({"sleep", "1000"});
    c.terminate();
    co_return co_await c.wait();
  }());
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  EXPECT_EQ(s.signal, SIGTERM) << s.to_string();
}

TEST(Child, ACancelledWaitLeavesTheProcessRunningAndOwned) {
  weft::run(
      []() -> weft::Task<void> {
        Child c = Child::spawn({"sleep", "1000"});
        // The virtual clock cannot see the child: it times out as soon as all are idle.
        EXPECT_THROW(co_await weft::wait_for(c.wait(), 5s), weft::TimeoutError);
        EXPECT_FALSE(c.try_wait());
        c.kill();
        EXPECT_EQ((co_await c.wait()).signal, SIGKILL);
      }(),
      virtual_clock(1));
}

TEST(Child, DestroyingARunningChildAfterACancelledWaitKillsAndReapsIt) {
  int own = -1;
  weft::run(
      [](int& own) -> weft::Task<void> {
        Child c = Child::spawn({"sleep", "1000"});
        own = ::pidfd_open(c.pid(), 0);
        auto waiting = weft::spawn(c.wait());
        co_await weft::sleep(1s);  // virtual: every task waits now
        waiting.cancel();
        EXPECT_THROW(co_await waiting, weft::CancelledError);
      }(own),
      virtual_clock(2));
  ASSERT_GE(own, 0);
  weft::process::blocking_wait_orphans();
  EXPECT_EQ(weft::process::orphans(), 0u);
  EXPECT_TRUE(reaped(own)) << "the killed child is still a zombie or still running";
  ::close(own);
}

TEST(Child, DestroyingAnExitedChildReapsItAtOnce) {
  int own = -1;
  {
    Child c = Child::spawn({"/bin/true"});
    own = ::pidfd_open(c.pid(), 0);
    pollfd p{own, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, -1), 1);  // it has exited: a zombie until somebody reaps it
  }
  EXPECT_EQ(weft::process::orphans(), 0u);  // not handed to the reaper
  EXPECT_TRUE(reaped(own));
  ::close(own);
}

TEST(Child, DetachLetsTheProcessFinishAndTheReaperReapsIt) {
  TempDir dir;
  const std::string out = dir.path() + "/out.txt";
  int own = -1;
  weft::run(
      [](const std::string& out, int& own) -> weft::Task<void> {
        Child c = Child::spawn({"/bin/sh", "-c", "read line; echo \"$line\""},
                               {.in = Stdio::pipe(), .out = Stdio::file(out)});
        own = ::pidfd_open(c.pid(), 0);
        co_await c.in->write_all("still alive\n");
        c.detach();  // closes the pipe: the child reads its line, writes it and exits
        EXPECT_EQ(c.pid(), -1);
        EXPECT_FALSE(c.in);
      }(out, own),
      {.workers = 1});
  weft::process::blocking_wait_orphans();
  EXPECT_TRUE(reaped(own));
  EXPECT_EQ(read_file(out), "still alive\n");
  ::close(own);
}

TEST(Child, EveryTaskWaitingForOneChildGetsItsStatus) {
  weft::run(
      []() -> weft::Task<void> {
        Child c = Child::spawn({"/bin/sh", "-c", "read x; exit 5"}, {.in = Stdio::pipe()});
        std::vector<weft::JoinHandle<ExitStatus>> waiters;
        for (int i = 0; i < 4; ++i) waiters.push_back(weft::spawn(c.wait()));
        co_await weft::sleep(1s);  // virtual: all four wait on the pidfd now
        c.in->close();
        for (ExitStatus s : co_await weft::gather(std::move(waiters))) EXPECT_EQ(s.code, 5);
      }(),
      virtual_clock(2));
}

TEST(Child, TheEnvironmentCanBeExtendedOverriddenReducedAndCleared) {
  auto cleared = run_now({"/usr/bin/env"}, {.clear_env = true, .env = {{"A", "1"}}});
  EXPECT_EQ(cleared.out, "A=1\n");
  auto overridden = run_now({"/bin/sh", "-c", "echo \"$HOME $WEFT_X\""},
                            {.env = {{"HOME", "/x"}, {"WEFT_X", "y"}}});
  EXPECT_EQ(overridden.out, "/x y\n");
  auto removed = run_now({"/bin/sh", "-c", "echo ${HOME-unset}"}, {.env_remove = {"HOME"}});
  EXPECT_EQ(removed.out, "unset\n");
  EXPECT_THROW(Child::spawn({"/bin/true"}, {.env = {{"", "x"}}}), std::invalid_argument);
}

TEST(Child, AProgramIsLookedUpInTheChildsPath) {
  TempDir dir;
  dir.file("weft-hello", "#!/bin/sh\necho hello from PATH\n", 0755);
  auto r = run_now({"weft-hello"}, {.env = {{"PATH", dir.path()}}});
  EXPECT_EQ(r.out, "hello from PATH\n");
}

TEST(Child, TheWorkingDirectoryIsTheChildsOwn) {
  TempDir dir;
  dir.file("here.txt", "found me\n", 0644);
  auto r = run_now({"cat", "here.txt"}, {.cwd = dir.path()});
  EXPECT_EQ(r.out, "found me\n");
  auto pwd = run_now({"/bin/pwd"}, {.cwd = dir.path()});
  EXPECT_EQ(pwd.out, std::filesystem::canonical(dir.path()).string() + "\n");
}

TEST(Child, StreamsGoToNullToFilesOrAreAppended) {
  TempDir dir;
  const std::string in = dir.file("in.txt", "from a file\n", 0644);
  const std::string out = dir.path() + "/out.txt";
  EXPECT_EQ(run_now({"cat"}, {.in = Stdio::null()}).out, "");
  EXPECT_EQ(run_now({"cat"}, {.in = Stdio::file(in)}).out, "from a file\n");
  run_now({"echo", "one"}, {.out = Stdio::file(out)});
  run_now({"echo", "two"}, {.out = Stdio::file(out, /*append=*/true)});
  EXPECT_EQ(read_file(out), "one\ntwo\n");
  auto quiet = run_now({"/bin/sh", "-c", "echo gone; echo gone >&2"},
                       {.out = Stdio::null(), .err = Stdio::null()});
  EXPECT_EQ(quiet.out + quiet.err, "");
}

TEST(Child, ASignalThatKilledTheChildIsReported) {
  auto r = weft::run(weft::process::run({"/bin/sh", "-c", "kill -USR1 $$"}));
  EXPECT_EQ(r.status.signal, SIGUSR1);
  EXPECT_EQ(r.status.to_string(), "killed by SIGUSR1");
}

TEST(Child, ItCanBeSpawnedOutsideARuntimeAndWaitedForInOne) {
  Child c = Child::spawn({"/bin/sh", "-c", "exit 7"});
  EXPECT_EQ(weft::run(c.wait()).code, 7);
}

TEST(Child, EmptyArgumentsAndAnEmptyChildAreErrors) {
  EXPECT_THROW(Child::spawn({}), std::invalid_argument);
  Child empty;
  EXPECT_EQ(empty.pid(), -1);
  EXPECT_THROW((void)empty.wait(), weft::UsageError);
  EXPECT_THROW(empty.kill(), weft::UsageError);
  EXPECT_THROW(empty.try_wait(), weft::UsageError);
}

TEST(Child, BlockingWaitOrphansOnAWorkerIsAUsageError) {
  weft::run([]() -> weft::Task<void> {
    EXPECT_THROW(weft::process::blocking_wait_orphans(), weft::UsageError);
    co_await weft::to_thread([] { weft::process::blocking_wait_orphans(); });
  }());
}

/// Many children on two and four workers, a bounded number at once: every exit status comes
/// back to the task that spawned it, and every child — waited for, or abandoned after a
/// cancelled wait — is reaped.
TEST(ProcessStress, ManyChildrenAcrossWorkersAreAllReaped) {
  const std::size_t n = weft::test::scaled(300, 20);
  for (std::size_t workers : {2u, 4u}) {
    std::atomic<std::size_t> right{0};
    weft::run(
        [](std::size_t n, std::atomic<std::size_t>& right) -> weft::Task<void> {
          weft::Semaphore limit(16);
          std::vector<weft::JoinHandle<void>> tasks;
          for (std::size_t i = 0; i < n; ++i) {
            tasks.push_back(weft::spawn([](std::size_t i, weft::Semaphore& limit,
                                           std::atomic<std::size_t>& right) -> weft::Task<void> {
              auto permit = co_await limit.acquire();
              if (i % 5 == 4) {  // abandoned: the destructor kills, the reaper reaps
                Child c = Child::spawn({"sleep", "1000"});
                auto waiting = weft::spawn(c.wait());
                waiting.cancel();
                try {
                  co_await waiting;
                } catch (const weft::CancelledError&) {
                }
                ++right;
                co_return;
              }
              const int code = static_cast<int>(i % 200);
              Child c = Child::spawn({"/bin/sh", "-c", "exit " + std::to_string(code)});
              if ((co_await c.wait()).code == code) ++right;
            }(i, limit, right)));
          }
          co_await weft::gather(std::move(tasks));
        }(n, right),
        {.workers = workers});
    EXPECT_EQ(right.load(), n) << workers << " workers";
    weft::process::blocking_wait_orphans();
    siginfo_t info{};
    EXPECT_EQ(::waitid(P_ALL, 0, &info, WEXITED | WNOHANG), -1);  // no child left at all
    EXPECT_EQ(errno, ECHILD);
  }
}

}  // namespace
