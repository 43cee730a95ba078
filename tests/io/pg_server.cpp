// The throwaway PostgreSQL cluster of a test binary (see pg_server.hpp).
#include "pg_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "tls_test_certs.hpp"

namespace fs = std::filesystem;

namespace weft_test::pg {
namespace {

// Bumped whenever the template's contents change (pg_hba.conf, initdb options), so a cached
// template of an older layout is never used.
constexpr const char* kTemplateLayout = "2";
constexpr const char* kSystemUser = "weft-pg";

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("pg test server: " + what);
}

std::string errno_text(const std::string& what) {
  return what + ": " + std::error_code(errno, std::generic_category()).message();
}

/// The directory of initdb and postgres.
fs::path find_bin_dir() {
  if (const char* env = std::getenv("WEFT_PG_BIN"); env && *env) {
    if (!fs::exists(fs::path(env) / "postgres")) {
      fail(std::string("WEFT_PG_BIN=") + env + " has no postgres binary");
    }
    return env;
  }
  std::optional<fs::path> best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = e.path().filename().string();
    const int v = std::atoi(name.c_str());
    if (v > best_version && fs::exists(e.path() / "bin" / "postgres") &&
        fs::exists(e.path() / "bin" / "initdb")) {
      best_version = v;
      best = e.path() / "bin";
    }
  }
  if (!best) {
    fail(
        "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (install postgresql, "
        "see tools/setup, or set WEFT_PG_BIN)");
  }
  return *best;
}

/// The uid and gid the cluster runs as: ours, or the system user's when we are root.
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
           " (PostgreSQL refuses root) could not be made with useradd");
    }
    pw = ::getpwnam(kSystemUser);
    if (!pw) fail(std::string("user ") + kSystemUser + " not found after useradd");
  }
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  r.switch_user = true;
  return r;
}

/// Starts `argv` as the cluster's user with stdout and stderr to `log`; its pid. The child
/// gets SIGQUIT (PostgreSQL's immediate shutdown) if this process dies first.
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
    // After setuid, which clears the parent-death signal.
    ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
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

/// Runs `argv` as the cluster's user and waits; fails with the log if it does not succeed.
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

/// The cached template cluster for this version and user, made by initdb if missing. Made
/// under an exclusive lock and renamed into place once complete, so concurrent test
/// processes wait for one initdb and never see half a template.
fs::path template_cluster(const fs::path& bin, const RunAs& as) {
  const std::string version = bin.parent_path().filename().string();
  const std::string key = "weft-pg-template-v" + std::string(kTemplateLayout) + "-pg" + version +
                          "-uid" + std::to_string(as.uid);
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
  if (fs::exists(dir / "PG_VERSION")) return dir;

  const fs::path work = make_temp_dir(key + ".tmp");
  const fs::path data = work / "data";
  chown_tree(work, as);
  run_to_end(as,
             {(bin / "initdb").string(), "-D", data.string(), "-U", "weft", "-A", "trust", "-E",
              "UTF8", "--locale=C", "--no-sync", "--wal-segsize=1"},
             work / "initdb.log");
  {
    std::ofstream hba(data / "pg_hba.conf", std::ios::trunc);
    hba << "local all all trust\n"
           "host all weft_scram 127.0.0.1/32 scram-sha-256\n"
           "host all all 127.0.0.1/32 trust\n";
  }
  std::error_code ec;
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

/// Removes the cluster directories of test processes that died without their clean-up (a
/// crash: their server got the parent-death signal), as named by each one's owner.pid.
void sweep_orphans() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("weft-pg-", 0) != 0 || name.rfind("weft-pg-template", 0) == 0) continue;
    std::ifstream in(e.path() / "owner.pid");
    pid_t owner = 0;
    if (!(in >> owner) || owner <= 0) continue;
    if (::kill(owner, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    fs::remove_all(e.path(), ignored);
  }
}

class Cluster {
 public:
  void start() {
    bin_ = find_bin_dir();
    as_ = run_as();
    sweep_orphans();
    const fs::path tmpl = template_cluster(bin_, as_);
    dir_ = make_temp_dir("weft-pg-");
    std::ofstream(dir_ / "owner.pid") << ::getpid() << "\n";
    const fs::path data = dir_ / "data";
    fs::copy(tmpl, data, fs::copy_options::recursive);
    fs::permissions(data, fs::perms::owner_all);
    if (tls_) write_certificates();
    chown_tree(dir_, as_);
    info_.socket_dir = dir_.string();
    log_ = dir_ / "server.log";
    for (int attempt = 0;; ++attempt) {
      info_.port = free_port();
      if (launch()) break;
      // Another process may have taken the port between free_port and the bind: try another.
      if (attempt == 2) fail("the server did not start:\n" + read_file(log_));
    }
    run_sql("CREATE ROLE weft_scram LOGIN PASSWORD 'scram-secret'");
  }

  /// Fast shutdown, then the same server again on the same port. The server gets SIGQUIT when the
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
    if (!ok.get()) fail("the server did not start again:\n" + read_file(log_));
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

  void use_tls() { tls_ = true; }

  const ServerInfo& info() const { return info_; }
  bool running() const { return pid_ > 0; }

 private:
  /// Starts postgres on info_.port; true once it accepts connections, false if it exited
  /// (the port taken, say).
  bool launch() {
    std::vector<std::string> argv = {(bin_ / "postgres").string(),
                                     "-D",
                                     (dir_ / "data").string(),
                                     "-c",
                                     "listen_addresses=127.0.0.1",
                                     "-c",
                                     "port=" + std::to_string(info_.port),
                                     "-c",
                                     "unix_socket_directories=" + dir_.string(),
                                     "-c",
                                     "fsync=off",
                                     "-c",
                                     "synchronous_commit=off",
                                     "-c",
                                     "full_page_writes=off",
                                     "-c",
                                     "shared_buffers=16MB",
                                     "-c",
                                     "max_connections=60"};
    if (tls_) {
      for (const std::string& s :
           {std::string("ssl=on"), "ssl_cert_file=" + (dir_ / "server.crt").string(),
            "ssl_key_file=" + (dir_ / "server.key").string()}) {
        argv.push_back("-c");
        argv.push_back(s);
      }
    }
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

  /// Fast shutdown (SIGINT: ends the sessions, then exits), SIGKILL if it takes too long.
  void shut_down() noexcept {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
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

  /// A CA and the server's certificate for 127.0.0.1 and localhost, into the directory.
  void write_certificates() {
    weft_test::TestCa ca("weft-pg test CA");
    const weft_test::CertAndKey server = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
    std::ofstream(dir_ / "ca.crt") << ca.cert_pem();
    std::ofstream(dir_ / "server.crt") << server.cert_pem;
    {
      std::ofstream key(dir_ / "server.key");
      key << server.key_pem;
    }
    // PostgreSQL refuses a key file that others may read.
    fs::permissions(dir_ / "server.key", fs::perms::owner_read | fs::perms::owner_write);
    info_.ca_file = (dir_ / "ca.crt").string();
  }

  // True once the server accepts connections, false if it exited (a port taken, say).
  bool wait_ready() {
    const std::string ping = info_.conninfo() + " connect_timeout=2";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (PQping(ping.c_str()) == PQPING_OK) return true;
      if (std::chrono::steady_clock::now() > deadline) {
        shut_down();
        fail("the server did not accept connections within 60 s:\n" + read_file(log_));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  ServerInfo info_;
  fs::path bin_;
  RunAs as_;
  fs::path dir_;
  fs::path log_;
  pid_t pid_ = -1;
  bool tls_ = false;
  // The thread that started the server last restarted, and how it is told to end.
  std::thread keeper_;
  std::mutex keeper_mutex_;
  std::condition_variable keeper_cv_;
  bool keeper_done_ = false;
};

Cluster& cluster() {
  static Cluster c;
  return c;
}

std::string& start_error() {
  static std::string e;
  return e;
}

class ServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      cluster().start();
    } catch (const std::exception& e) {
      cluster().stop();
      start_error() = e.what();
      FAIL() << e.what();
    }
  }
  void TearDown() override { cluster().stop(); }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

}  // namespace

std::string ServerInfo::conninfo() const {
  return "host=" + host + " port=" + std::to_string(port) + " user=" + user + " dbname=" + dbname;
}

std::string ServerInfo::unix_conninfo() const {
  return "host=" + socket_dir + " port=" + std::to_string(port) + " user=" + user +
         " dbname=" + dbname;
}

std::string ServerInfo::scram_conninfo(const std::string& password) const {
  return "host=" + host + " port=" + std::to_string(port) + " user=" + scram_user +
         " dbname=" + dbname + " password=" + password;
}

const ServerInfo& server() {
  if (!cluster().running()) {
    throw std::runtime_error("pg test server: not running" +
                             (start_error().empty() ? std::string() : ": " + start_error()));
  }
  return cluster().info();
}

void run_sql(const std::string& sql) {
  PGconn* c = PQconnectdb(cluster().info().conninfo().c_str());
  struct Finish {
    PGconn* c;
    ~Finish() { PQfinish(c); }
  } finish{c};
  if (PQstatus(c) != CONNECTION_OK) fail(std::string("connect: ") + PQerrorMessage(c));
  PGresult* r = PQexec(c, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  const std::string err = PQresultErrorMessage(r);
  PQclear(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(sql + ": " + err);
}

void use_tls() {
  cluster().use_tls();
}

void restart_server() {
  cluster().restart();
}

void start_server() {
  try {
    cluster().start();
  } catch (...) {
    cluster().stop();
    throw;
  }
}

void stop_server() noexcept {
  cluster().stop();
}

}  // namespace weft_test::pg
