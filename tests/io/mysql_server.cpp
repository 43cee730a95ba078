// The throwaway MariaDB server of a test binary (see mysql_server.hpp).
#include "mysql_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <mysql.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace weft_test::mysql {
namespace {

// Bumped whenever the template's contents change (the set-up SQL, the install options, the
// options in kFileOptions), so a cached template of an older layout is never used.
constexpr const char* kTemplateLayout = "1";
constexpr const char* kSystemUser = "weft-mysql";
constexpr const char* kMariadbd = "/usr/sbin/mariadbd";
constexpr const char* kInstallDb = "/usr/bin/mariadb-install-db";

// Options that decide the shape of files in the data directory. mariadb-install-db and every
// start get the same ones: a redo log of another size than the template's would be resized
// (rewritten) at each start. A small log keeps the template, and so each copy, small.
const std::vector<std::string> kFileOptions = {"--innodb-log-file-size=8M"};

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("mysql test server: " + what);
}

std::string errno_text(const std::string& what) {
  return what + ": " + std::error_code(errno, std::generic_category()).message();
}

void check_binaries() {
  for (const char* bin : {kMariadbd, kInstallDb}) {
    if (::access(bin, X_OK) != 0) {
      fail(std::string("no ") + bin + " (install mariadb-server, see tools/setup)");
    }
  }
}

/// The server's version as `mariadbd --version` prints it ("10.11.19-MariaDB-0+deb12u1"):
/// the key of the cached template, so a new package never starts on an old template.
std::string mariadb_version() {
  const std::string cmd = std::string(kMariadbd) + " --version 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) fail(errno_text("popen " + cmd));
  char line[512] = {};
  const bool read = std::fgets(line, sizeof line, p) != nullptr;
  ::pclose(p);
  std::istringstream words(read ? line : "");
  std::string word;
  while (words >> word) {
    if (word == "Ver" && words >> word) return word;
  }
  fail(cmd + " printed no version: " + line);
}

/// The uid and gid the server runs as: ours, or the system user's when we are root.
struct RunAs {
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  bool switch_user = false;
};

RunAs run_as() {
  RunAs r;
  if (::geteuid() != 0) return r;
  passwd* pw = ::getpwnam(kSystemUser);
  if (!pw) {
    const std::string cmd =
        std::string("useradd --system --no-create-home --shell /usr/sbin/nologin ") + kSystemUser +
        " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0 && !::getpwnam(kSystemUser)) {
      fail(std::string("running as root, and the user ") + kSystemUser +
           " (mariadbd refuses root) could not be made with useradd");
    }
    pw = ::getpwnam(kSystemUser);
    if (!pw) fail(std::string("user ") + kSystemUser + " not found after useradd");
  }
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  r.switch_user = true;
  return r;
}

/// Starts `argv` as the server's user with stdout and stderr to `log`; its pid. The child
/// gets SIGKILL if this process dies first: the data is thrown away, so nothing is lost by
/// skipping mariadbd's shutdown, and a killed test leaves no server behind.
pid_t spawn(const RunAs& as, const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail(errno_text("open " + log.string()));
  if (as.switch_user && ::fchown(fd, as.uid, as.gid) != 0)
    fail(errno_text("chown " + log.string()));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) fail(errno_text("fork"));
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (as.switch_user) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0) {
        ::_exit(126);
      }
    }
    // The test's working directory may be closed to the server's user, and
    // mariadb-install-db (a shell script) runs its commands from it.
    if (::chdir("/") != 0) ::_exit(126);
    // After setuid, which clears the parent-death signal.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
  return pid;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The last `count` lines of `p`: mariadbd's log opens with dozens of routine notes, and the
/// reason it stopped is at the end.
std::string tail(const fs::path& p, std::size_t count = 40) {
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

/// Runs `argv` as the server's user and waits; fails with the log if it does not succeed.
void run_to_end(const RunAs& as, const std::vector<std::string>& argv, const fs::path& log) {
  const pid_t pid = spawn(as, argv, log);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail(errno_text("waitpid"));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fail(argv[0] + " failed (status " + std::to_string(status) + "):\n" + read_file(log));
  }
}

void chown_tree(const fs::path& root, const RunAs& as) {
  if (!as.switch_user) return;
  if (::lchown(root.c_str(), as.uid, as.gid) != 0) fail(errno_text("chown " + root.string()));
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (::lchown(e.path().c_str(), as.uid, as.gid) != 0) {
      fail(errno_text("chown " + e.path().string()));
    }
  }
}

fs::path make_temp_dir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) fail(errno_text("mkdtemp " + tmpl));
  return tmpl;
}

/// The SQL mariadb-install-db runs after the system tables, making what every test expects.
/// Bootstrap mode starts with the grant tables off, and CREATE USER and GRANT refuse to run
/// until FLUSH PRIVILEGES loads them. 'weft'@'%' is the account of TCP connections and
/// 'weft'@'localhost' that of the Unix socket; each is granted on its own, so neither depends
/// on how the server ranks the two for a given client. The proxy grant install-db gives
/// root@<this host> is dropped: under --skip-name-resolve the server warns about it at every
/// start.
std::string setup_sql() {
  const ServerInfo d;
  std::string sql = "FLUSH PRIVILEGES;\n";
  sql += "CREATE DATABASE `" + d.database + "` CHARACTER SET utf8mb4;\n";
  for (const char* host : {"%", "localhost"}) {
    const std::string account = "'" + d.user + "'@'" + host + "'";
    sql += "CREATE USER " + account + " IDENTIFIED BY '" + d.password + "';\n";
    sql += "GRANT ALL PRIVILEGES ON *.* TO " + account + " WITH GRANT OPTION;\n";
  }
  sql += "DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1');\n";
  return sql;
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

/// The cached template data directory for this version and user, made by
/// mariadb-install-db if missing. Made under an exclusive lock and renamed into place once
/// complete, so concurrent test processes wait for one install and never see half a template.
/// root@localhost keeps unix_socket authentication (OS root only, --auth-root-socket-user=root
/// so that no second account is named after whoever ran the install); nothing here logs in
/// as root.
fs::path template_datadir(const RunAs& as) {
  const std::string key = "weft-mysql-template-v" + std::string(kTemplateLayout) + "-" +
                          mariadb_version() + "-uid" + std::to_string(as.uid);
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
  // The directory appears only by the rename below, once the install is complete.
  if (fs::exists(dir / ServerInfo{}.database)) return dir;

  remove_unfinished(key);
  const fs::path work = make_temp_dir(key + ".tmp");
  const fs::path data = work / "data";
  std::ofstream(work / "setup.sql") << setup_sql();
  chown_tree(work, as);
  // --tmpdir for the reason launch() gives.
  std::vector<std::string> argv = {kInstallDb,
                                   "--no-defaults",
                                   "--datadir=" + data.string(),
                                   "--tmpdir=" + work.string(),
                                   "--auth-root-socket-user=root",
                                   "--skip-test-db",
                                   "--skip-name-resolve",
                                   "--extra-file=" + (work / "setup.sql").string()};
  argv.insert(argv.end(), kFileOptions.begin(), kFileOptions.end());
  std::error_code ec;
  try {
    run_to_end(as, argv, work / "install.log");
  } catch (...) {
    fs::remove_all(work, ec);
    throw;
  }
  fs::remove_all(dir, ec);
  fs::rename(data, dir);
  fs::remove_all(work, ec);
  return dir;
}

int free_port() {
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

/// Removes the server directories of test processes that died without their clean-up (a
/// crash: their server got the parent-death signal), as named by each one's owner.pid.
void sweep_orphans() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("weft-mysql-", 0) != 0 || name.rfind("weft-mysql-template", 0) == 0) continue;
    std::ifstream in(e.path() / "owner.pid");
    pid_t owner = 0;
    if (!(in >> owner) || owner <= 0) continue;
    if (::kill(owner, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    fs::remove_all(e.path(), ignored);
  }
}

/// Initialises Connector/C once, leaving SIGPIPE as it was. The library's initialisation
/// ignores SIGPIPE for the whole process; the tests must see a client of the runtime that
/// writes to a closed socket without MSG_NOSIGNAL die as it would in a program, and
/// Connector/C sends with MSG_NOSIGNAL itself, so it needs the setting no more than weft does.
void init_client_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction before = {};
    ::sigaction(SIGPIPE, nullptr, &before);
    if (mysql_library_init(0, nullptr, nullptr) != 0) fail("mysql_library_init failed");
    ::sigaction(SIGPIPE, &before, nullptr);
  });
}

using Connection = std::unique_ptr<MYSQL, decltype(&mysql_close)>;

/// A blocking Connector/C connection to the server's Unix socket as "weft", in database
/// "weft"; null with the client library's message in `error` if it could not connect.
Connection connect_unix(const ServerInfo& info, unsigned long flags, unsigned connect_timeout_s,
                        std::string& error) {
  init_client_library();
  Connection c(mysql_init(nullptr), &mysql_close);
  if (!c) {
    error = "mysql_init: out of memory";
    return c;
  }
  mysql_options(c.get(), MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout_s);
  if (!mysql_real_connect(c.get(), "localhost", info.user.c_str(), info.password.c_str(),
                          info.database.c_str(), 0, info.socket_path.c_str(), flags)) {
    error = mysql_error(c.get());
    c.reset();
  }
  return c;
}

class MariaDb {
 public:
  void start() {
    check_binaries();
    as_ = run_as();
    sweep_orphans();
    const fs::path tmpl = template_datadir(as_);
    dir_ = make_temp_dir("weft-mysql-");
    std::ofstream(dir_ / "owner.pid") << ::getpid() << "\n";
    info_.socket_path = (dir_ / "mysql.sock").string();
    if (info_.socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
      fail("the socket path " + info_.socket_path + " is too long for a Unix socket (set TMPDIR " +
           "to a shorter directory)");
    }
    fs::copy(tmpl, dir_ / "data", fs::copy_options::recursive);
    chown_tree(dir_, as_);
    log_ = dir_ / "error.log";
    for (int attempt = 0;; ++attempt) {
      info_.port = free_port();
      if (launch()) break;
      // Another process may have taken the port between free_port and the bind: try another.
      if (attempt == 2) fail("the server did not start:\n" + tail(log_));
    }
  }

  /// SIGTERM, then the same server again on the same port. The server gets SIGKILL when the
  /// thread that started it ends (PR_SET_PDEATHSIG follows the thread, not the process), and
  /// restart() is called from short-lived threads (the blocking pool's): so the new server is
  /// started by a keeper thread that lives until the next restart or stop().
  void restart() {
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
    if (!ok.get()) fail("the server did not start again:\n" + tail(log_));
  }

  void stop() noexcept {
    shut_down();
    end_keeper();
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
      dir_.clear();
    }
  }

  const ServerInfo& info() const { return info_; }
  bool running() const { return pid_ > 0; }

 private:
  /// Starts mariadbd on info_.port; true once it accepts connections, false if it exited
  /// (the port taken, say). --no-defaults must come first (mariadbd reads it only there) and
  /// keeps /etc/mysql out; the character set it would have set is given back here. The
  /// temporary files go to the server's own directory: mariadbd would take $TMPDIR, which the
  /// server's user need not be able to write (InnoDB then refuses to start).
  /// The binary log is off and InnoDB writes its log at commit without syncing it (a killed
  /// server keeps every commit, a crashed machine need not). Native AIO is off: with many
  /// servers at once (ctest -j) it can run into the kernel's limits (fs.aio-max-nr, io_uring's
  /// locked memory), and a test server gains nothing from it.
  bool launch() {
    std::vector<std::string> argv = {kMariadbd,
                                     "--no-defaults",
                                     "--datadir=" + (dir_ / "data").string(),
                                     "--socket=" + info_.socket_path,
                                     "--port=" + std::to_string(info_.port),
                                     "--bind-address=127.0.0.1",
                                     "--pid-file=" + (dir_ / "mariadbd.pid").string(),
                                     "--log-error=" + log_.string(),
                                     "--tmpdir=" + dir_.string(),
                                     "--skip-log-bin",
                                     "--skip-name-resolve",
                                     "--max-connections=300",
                                     "--character-set-server=utf8mb4",
                                     "--innodb-flush-log-at-trx-commit=2",
                                     "--innodb-buffer-pool-size=32M",
                                     "--innodb-use-native-aio=0"};
    argv.insert(argv.end(), kFileOptions.begin(), kFileOptions.end());
    if (as_.switch_user) argv.push_back(std::string("--user=") + kSystemUser);
    pid_ = spawn(as_, argv, log_);
    return wait_ready();
  }

  void end_keeper() noexcept {
    if (!keeper_.joinable()) return;
    {
      std::lock_guard lock(keeper_mutex_);
      keeper_done_ = true;
    }
    keeper_cv_.notify_all();
    keeper_.join();
    keeper_done_ = false;
  }

  /// SIGTERM (mariadbd's normal shutdown: ends the sessions, then exits), SIGKILL if it takes
  /// too long.
  void shut_down() noexcept {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
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

  // True once the server lets "weft" in over the Unix socket (so the template's accounts are
  // there too), false if it exited (a port taken, say).
  bool wait_ready() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::string error;
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (connect_unix(info_, 0, 2, error)) return true;
      if (std::chrono::steady_clock::now() > deadline) {
        shut_down();
        fail("the server did not accept connections within 60 s (last attempt: " + error + "):\n" +
             tail(log_));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  ServerInfo info_;
  RunAs as_;
  fs::path dir_;
  fs::path log_;
  pid_t pid_ = -1;
  // The thread that started the server last restarted, and how it is told to end.
  std::thread keeper_;
  std::mutex keeper_mutex_;
  std::condition_variable keeper_cv_;
  bool keeper_done_ = false;
};

MariaDb& mariadb() {
  static MariaDb m;
  return m;
}

std::string& start_error() {
  static std::string e;
  return e;
}

class ServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      mariadb().start();
    } catch (const std::exception& e) {
      mariadb().stop();
      start_error() = e.what();
      FAIL() << e.what();
    }
  }
  void TearDown() override { mariadb().stop(); }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

}  // namespace

const ServerInfo& server() {
  if (!mariadb().running()) {
    throw std::runtime_error("mysql test server: not running" +
                             (start_error().empty() ? std::string() : ": " + start_error()));
  }
  return mariadb().info();
}

void run_sql(const std::string& sql) {
  // Checked first: with no socket path the client library would try the system's default
  // socket, and so another server.
  const ServerInfo& info = server();
  std::string error;
  const auto c = connect_unix(info, CLIENT_MULTI_STATEMENTS, 10, error);
  if (!c) fail("connect: " + error);
  if (mysql_real_query(c.get(), sql.data(), sql.size()) != 0) {
    fail(sql + ": " + mysql_error(c.get()));
  }
  // Each statement's result is read (a later one's error comes with its result) and dropped.
  for (;;) {
    if (MYSQL_RES* r = mysql_store_result(c.get())) mysql_free_result(r);
    if (mysql_errno(c.get()) != 0) fail(sql + ": " + mysql_error(c.get()));
    const int next = mysql_next_result(c.get());
    if (next < 0) return;
    if (next > 0) fail(sql + ": " + mysql_error(c.get()));
  }
}

void restart_server() {
  mariadb().restart();
}

void start_server() {
  try {
    mariadb().start();
  } catch (...) {
    mariadb().stop();
    throw;
  }
}

void stop_server() noexcept {
  mariadb().stop();
}

}  // namespace weft_test::mysql
