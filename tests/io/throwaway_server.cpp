// A database server process started for a test binary (see throwaway_server.hpp).
#include "throwaway_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <exception>
#include <fstream>
#include <future>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace fs = std::filesystem;

namespace weft_test {
namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The last `count` lines of `p`.
std::string tail(const fs::path& p, std::size_t count) {
  std::ifstream in(p);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > count) lines.pop_front();
  }
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

/// Removes the half-made templates of processes that died while making one: called with the
/// template's lock held, so no live process is making one.
void remove_unfinished(const std::string& key) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    if (e.path().filename().string().rfind(key + ".tmp", 0) != 0) continue;
    std::error_code ignored;
    fs::remove_all(e.path(), ignored);
  }
}

}  // namespace

std::string errno_text(const std::string& what) {
  return what + ": " + std::error_code(errno, std::generic_category()).message();
}

void ThrowawayServer::start() {
  try {
    as_ = user_to_run_as();
    sweep_orphans();
    start_up();
  } catch (const std::exception& e) {
    stop();
    start_error_ = e.what();
    throw;
  }
}

void ThrowawayServer::stop() noexcept {
  shut_down();
  end_keeper();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
}

void ThrowawayServer::restart() {
  if (pid_ <= 0) fail("restart: the server is not running");
  shut_down();
  end_keeper();
  // The thread owns the promise: set_value may still touch it after get() returned here.
  std::promise<bool> started;
  std::future<bool> ok = started.get_future();
  keeper_ = std::thread([this, started = std::move(started)]() mutable {
    bool launched = false;
    try {
      launched = launch();
    } catch (...) {
      started.set_exception(std::current_exception());
      return;
    }
    started.set_value(launched);
    std::unique_lock lock(keeper_mutex_);
    keeper_cv_.wait(lock, [this] { return keeper_done_; });
  });
  if (!ok.get()) fail("the server did not start again:\n" + log_excerpt());
}

void ThrowawayServer::check_running() const {
  if (running()) return;
  fail("not running" + (start_error_.empty() ? std::string() : ": " + start_error_));
}

void ThrowawayServer::fail(const std::string& what) const {
  throw std::runtime_error(std::string(kind_.name) + " test server: " + what);
}

/// Made under an exclusive lock and renamed into place once complete, so concurrent test
/// processes wait for one of them to make it and never see half a template.
fs::path ThrowawayServer::cached_template(
    const std::string& version, const std::string& layout, const fs::path& marker,
    const std::function<void(const fs::path& work, const fs::path& data)>& make) const {
  const std::string key = "weft-" + std::string(kind_.name) + "-template-v" + layout + "-" +
                          version + "-uid" + std::to_string(as_.uid);
  const fs::path dir = fs::temp_directory_path() / key;
  const fs::path lock_path = fs::temp_directory_path() / (key + ".lock");
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) fail(errno_text("open " + lock_path.string()));
  while (::flock(lock, LOCK_EX) != 0) {
    if (errno != EINTR) fail(errno_text("flock " + lock_path.string()));
  }
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock};
  // The directory appears only by the rename below, once the template is complete.
  if (fs::exists(dir / marker)) return dir;

  remove_unfinished(key);
  const fs::path work = make_temp_dir(key + ".tmp");
  const fs::path data = work / "data";
  std::error_code ec;
  try {
    make(work, data);
  } catch (...) {
    fs::remove_all(work, ec);
    throw;
  }
  fs::remove_all(dir, ec);
  fs::rename(data, dir);
  fs::remove_all(work, ec);
  return dir;
}

const fs::path& ThrowawayServer::make_server_dir() {
  dir_ = make_temp_dir("weft-" + std::string(kind_.name) + "-");
  std::ofstream(dir_ / "owner.pid") << ::getpid() << "\n";
  return dir_;
}

fs::path ThrowawayServer::log() const {
  return dir_ / kind_.log_file;
}

void ThrowawayServer::chown_tree(const fs::path& root) const {
  if (!as_.switch_user) return;
  if (::lchown(root.c_str(), as_.uid, as_.gid) != 0) fail(errno_text("chown " + root.string()));
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (::lchown(e.path().c_str(), as_.uid, as_.gid) != 0) {
      fail(errno_text("chown " + e.path().string()));
    }
  }
}

void ThrowawayServer::run_to_end(const std::vector<std::string>& argv, const fs::path& log) const {
  const pid_t pid = spawn(argv, log);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail(errno_text("waitpid"));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fail(argv[0] + " failed (status " + std::to_string(status) + "):\n" + read_file(log));
  }
}

int ThrowawayServer::launch_on_free_port() {
  for (int attempt = 0;; ++attempt) {
    port_ = free_port();
    if (launch()) return port_;
    // Another process may have taken the port between free_port and the bind: try another.
    if (attempt == 2) fail("the server did not start:\n" + log_excerpt());
  }
}

ThrowawayServer::RunAs ThrowawayServer::user_to_run_as() const {
  RunAs r{.uid = ::getuid(), .gid = ::getgid()};
  if (::geteuid() != 0) return r;
  passwd* pw = ::getpwnam(kind_.system_user);
  if (!pw) {
    const std::string cmd =
        std::string("useradd --system --no-create-home --shell /usr/sbin/nologin ") +
        kind_.system_user + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0 && !::getpwnam(kind_.system_user)) {
      fail(std::string("running as root, and the user ") + kind_.system_user + " (" +
           kind_.refuses_root + " refuses root) could not be made with useradd");
    }
    pw = ::getpwnam(kind_.system_user);
    if (!pw) fail(std::string("user ") + kind_.system_user + " not found after useradd");
  }
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  r.switch_user = true;
  return r;
}

/// Removes the server directories of test processes that died without their clean-up (a
/// crash: their server got the parent-death signal), as named by each one's owner.pid.
void ThrowawayServer::sweep_orphans() const {
  const std::string prefix = "weft-" + std::string(kind_.name) + "-";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || name.rfind(prefix + "template", 0) == 0) continue;
    std::ifstream in(e.path() / "owner.pid");
    pid_t owner = 0;
    if (!(in >> owner) || owner <= 0) continue;
    if (::kill(owner, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    fs::remove_all(e.path(), ignored);
  }
}

fs::path ThrowawayServer::make_temp_dir(const std::string& prefix) const {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) fail(errno_text("mkdtemp " + tmpl));
  return tmpl;
}

/// Starts `argv` as the server's user with stdout and stderr to `log`; its pid. The child gets
/// the kind's parent-death signal if the calling thread ends first.
pid_t ThrowawayServer::spawn(const std::vector<std::string>& argv, const fs::path& log) const {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail(errno_text("open " + log.string()));
  if (as_.switch_user && ::fchown(fd, as_.uid, as_.gid) != 0) {
    fail(errno_text("chown " + log.string()));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) fail(errno_text("fork"));
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (as_.switch_user) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(as_.gid) != 0 || ::setuid(as_.uid) != 0) {
        ::_exit(126);
      }
    }
    // The test's working directory may be closed to the server's user, and a program may run
    // its commands from it (mariadb-install-db, a shell script, does).
    if (::chdir("/") != 0) ::_exit(126);
    // After setuid, which clears the parent-death signal.
    ::prctl(PR_SET_PDEATHSIG, kind_.parent_death_signal);
    if (::getppid() != parent) ::_exit(125);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
  return pid;
}

int ThrowawayServer::free_port() const {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(errno_text("socket"));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(s);
    fail(errno_text("bind 127.0.0.1:0"));
  }
  ::close(s);
  return ntohs(a.sin_port);
}

/// Starts the server on port_; true once it accepts connections, false if it exited (the port
/// taken, say).
bool ThrowawayServer::launch() {
  pid_ = spawn(command(port_), log());
  return wait_ready();
}

/// True once the server accepts connections, false if it exited (a port taken, say). Fails
/// with the log if it does neither within 60 s.
bool ThrowawayServer::wait_ready() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string error;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (accepts_connections(port_, error)) return true;
    if (std::chrono::steady_clock::now() > deadline) {
      shut_down();
      fail("the server did not accept connections within 60 s" +
           (error.empty() ? std::string() : " (last attempt: " + error + ")") + ":\n" +
           log_excerpt());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// The kind's stop signal (the server ends the sessions, then exits), SIGKILL if it takes too
/// long.
void ThrowawayServer::shut_down() noexcept {
  if (pid_ <= 0) return;
  ::kill(pid_, kind_.stop_signal);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

void ThrowawayServer::end_keeper() noexcept {
  if (!keeper_.joinable()) return;
  {
    std::lock_guard lock(keeper_mutex_);
    keeper_done_ = true;
  }
  keeper_cv_.notify_all();
  keeper_.join();
  keeper_done_ = false;
}

/// What of the log a failure to start shows.
std::string ThrowawayServer::log_excerpt() const {
  return kind_.log_lines == 0 ? read_file(log()) : tail(log(), kind_.log_lines);
}

void ServerEnvironment::SetUp() {
  try {
    server_.start();
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
}

void ServerEnvironment::TearDown() {
  server_.stop();
}

}  // namespace weft_test
