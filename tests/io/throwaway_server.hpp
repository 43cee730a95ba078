// A database server process started for a test binary: what the throwaway PostgreSQL cluster
// (pg_server.cpp) and the throwaway MariaDB server (mysql_server.cpp) have in common. A
// subclass says how to make the server's data and command line and how to tell that it
// accepts connections; ThrowawayServer does the rest, the same way for every kind of server:
//
// - Everything on disk lies in the temporary directory and is named after the kind (its
//   ServerKind::name, "pg" say): the server's own directory "weft-pg-XXXXXX", deleted by
//   stop(), and the cached template "weft-pg-template-v<layout>-<version>-uid<uid>", made once
//   per machine under a file lock and copied by each server (far quicker than making it anew).
//   The server's directory holds owner.pid, so the next start() of that kind deletes the
//   directories of test processes that died without their clean-up.
// - Database servers refuse to run as root, so when the tests run as root (CI) the server and
//   the program that makes the template run as the kind's system user, made with useradd if
//   it is missing.
// - The server listens on a free TCP port of 127.0.0.1; should another process take the port
//   before the server binds it, start() tries another, three times in all.
// - The server gets the kind's parent-death signal when the thread that started it ends, so a
//   killed test leaves no server behind. PR_SET_PDEATHSIG follows the thread, not the process,
//   and restart() is called from short-lived threads (the blocking pool's): so the restarted
//   server is started by a keeper thread that lives until the next restart or stop().
// - Shutting down is the kind's stop signal (which ends the sessions, then exits), then SIGKILL
//   if the server has not exited within 20 s.
//
// start() and stop() run on one thread (GoogleTest's main thread, or the program's); restart()
// runs while the tests run, from one test at a time. None of them may overlap another.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weft_test {

/// What sets one kind of server apart for ThrowawayServer. Plain constants, so that a kind is
/// a constexpr at namespace scope, ready before any static initializer asks for its server.
struct ServerKind {
  /// Errors read "<name> test server: ...", and the directories are named "weft-<name>-...".
  const char* name;
  /// The system user the server runs as when the tests run as root.
  const char* system_user;
  /// The program that refuses to run as root, for the message when that user cannot be made.
  const char* refuses_root;
  /// The file in the server's directory that gets the server's stdout and stderr.
  const char* log_file;
  /// The signal that makes the server end the sessions, then exit.
  int stop_signal;
  /// The signal the server (and the template's maker) gets if the thread that started it ends.
  int parent_death_signal;
  /// How many of the log's last lines a failure to start shows; 0 for the whole log.
  std::size_t log_lines = 0;
};

/// `what` and the message of the current errno: "open /tmp/x: Permission denied".
std::string errno_text(const std::string& what);

/// A server process of one kind, with a directory of its own, for one test binary process.
class ThrowawayServer {
 public:
  ThrowawayServer(const ThrowawayServer&) = delete;
  ThrowawayServer& operator=(const ThrowawayServer&) = delete;

  /// Starts the server (the kind's start_up()). If it cannot, stops what it started, deletes
  /// the directory and throws std::runtime_error saying why; check_running() repeats the why.
  void start();
  /// Shuts the server down, ends the keeper thread and deletes the directory. Does nothing
  /// where there is nothing to stop.
  void stop() noexcept;
  /// Shuts the server down and starts it again on the same port, directory and data; blocks
  /// until it accepts connections. Call it from a plain thread (to_thread), not a worker.
  /// Throws std::runtime_error with the server's log if it does not come back.
  void restart();

  /// Whether the server process is running.
  bool running() const { return pid_ > 0; }
  /// Throws std::runtime_error ("<name> test server: not running", and why start() failed)
  /// unless the server is running.
  void check_running() const;

 protected:
  explicit ThrowawayServer(const ServerKind& kind) : kind_(kind) {}
  ~ThrowawayServer() = default;

  /// The kind's part of start(), once the system user exists and the directories of dead
  /// processes are gone: the template (cached_template()), the server's directory
  /// (make_server_dir()) filled from it, then launch_on_free_port().
  virtual void start_up() = 0;
  /// The command line of the server, listening on 127.0.0.1:`port`.
  virtual std::vector<std::string> command(int port) const = 0;
  /// Whether the server on `port` accepts connections yet; if not, why in `error` (which may
  /// be left empty), for the message when it never does.
  virtual bool accepts_connections(int port, std::string& error) const = 0;

  /// Throws std::runtime_error("<name> test server: <what>").
  [[noreturn]] void fail(const std::string& what) const;

  /// The cached template for this `version` of the server, this harness's `layout` (bumped
  /// whenever the template's contents change) and the server's user. If there is none with
  /// `marker` in it, `make(work, data)` makes it: it gets an empty directory `work` of the
  /// server's user's, makes the template at `data` (inside `work`) and throws if it cannot.
  std::filesystem::path cached_template(
      const std::string& version, const std::string& layout, const std::filesystem::path& marker,
      const std::function<void(const std::filesystem::path& work,
                               const std::filesystem::path& data)>& make) const;
  /// Makes the server's directory, with owner.pid in it, and returns it.
  const std::filesystem::path& make_server_dir();
  /// The server's directory, once made.
  const std::filesystem::path& dir() const { return dir_; }
  /// The server's log, in its directory.
  std::filesystem::path log() const;
  /// Whether the server runs as the system user, not as the user of the tests.
  bool switches_user() const { return as_.switch_user; }
  /// Gives `root` and everything below it to the server's user, if it is not ours.
  void chown_tree(const std::filesystem::path& root) const;
  /// Runs `argv` as the server's user and waits; fails with the log if it does not succeed.
  void run_to_end(const std::vector<std::string>& argv, const std::filesystem::path& log) const;
  /// Starts the server on a free port (see the opening comment); returns the port once the
  /// server accepts connections. Fails with the log if it does not start.
  int launch_on_free_port();

 private:
  /// The uid and gid the server runs as: ours, or the system user's when we are root.
  struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;
    bool switch_user = false;
  };

  RunAs user_to_run_as() const;
  void sweep_orphans() const;
  std::filesystem::path make_temp_dir(const std::string& prefix) const;
  pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& log) const;
  int free_port() const;
  bool launch();
  bool wait_ready();
  void shut_down() noexcept;
  void end_keeper() noexcept;
  std::string log_excerpt() const;

  const ServerKind kind_;
  RunAs as_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string start_error_;  // why start() failed, for check_running()
  // The thread that started the server last restarted, and how it is told to end.
  std::thread keeper_;
  std::mutex keeper_mutex_;
  std::condition_variable keeper_cv_;
  bool keeper_done_ = false;
};

/// A GoogleTest environment that starts `server` before the first test and stops it (and
/// deletes its directory) after the last, whether tests failed or not. If the server does not
/// start, SetUp fails with the reason.
class ServerEnvironment : public ::testing::Environment {
 public:
  explicit ServerEnvironment(ThrowawayServer& server) : server_(server) {}
  void SetUp() override;
  void TearDown() override;

 private:
  ThrowawayServer& server_;
};

}  // namespace weft_test
