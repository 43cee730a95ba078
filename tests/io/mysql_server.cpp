// The throwaway MariaDB server of a test binary (see mysql_server.hpp); what it shares with
// other servers' (the template's lock, the system user, the process) is ThrowawayServer's.
#include "mysql_server.hpp"

#include <mysql.h>
#include <signal.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "throwaway_server.hpp"
#include "tls_test_certs.hpp"

namespace fs = std::filesystem;

namespace weft_test::mysql {
namespace {

// Bumped whenever the template's contents change (the set-up SQL, the install options, the
// options in kFileOptions), so a cached template of an older layout is never used.
constexpr const char* kTemplateLayout = "1";
constexpr const char* kMariadbd = "/usr/sbin/mariadbd";
constexpr const char* kInstallDb = "/usr/bin/mariadb-install-db";

// The server is stopped with SIGTERM, mariadbd's normal shutdown (it ends the sessions, then
// exits), and gets SIGKILL if the test process dies first: the data is thrown away, so nothing
// is lost by skipping mariadbd's shutdown. mariadbd's log opens with dozens of routine notes,
// and the reason it stopped is at the end: a failure shows the last 40 lines.
constexpr ServerKind kKind = {.name = "mysql",
                              .system_user = "weft-mysql",
                              .refuses_root = "mariadbd",
                              .log_file = "error.log",
                              .stop_signal = SIGTERM,
                              .parent_death_signal = SIGKILL,
                              .log_lines = 40};

// Options that decide the shape of files in the data directory. mariadb-install-db and every
// start get the same ones: a redo log of another size than the template's would be resized
// (rewritten) at each start. A small log keeps the template, and so each copy, small.
const std::vector<std::string> kFileOptions = {"--innodb-log-file-size=8M"};

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("mysql test server: " + what);
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

class MariaDb final : public ThrowawayServer {
 public:
  MariaDb() : ThrowawayServer(kKind) {}

  const ServerInfo& info() const { return info_; }

  void use_tls() { tls_ = true; }

 private:
  void start_up() override {
    check_binaries();
    const fs::path tmpl = template_datadir();
    make_server_dir();
    info_.socket_path = (dir() / "mysql.sock").string();
    if (info_.socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
      fail("the socket path " + info_.socket_path + " is too long for a Unix socket (set TMPDIR " +
           "to a shorter directory)");
    }
    fs::copy(tmpl, dir() / "data", fs::copy_options::recursive);
    if (tls_) write_certificates();
    chown_tree(dir());
    info_.port = launch_on_free_port();
  }

  /// The cached template data directory for this version and user, made by
  /// mariadb-install-db if missing. root@localhost keeps unix_socket authentication (OS root
  /// only, --auth-root-socket-user=root so that no second account is named after whoever ran
  /// the install); nothing here logs in as root.
  fs::path template_datadir() const {
    const auto install = [&](const fs::path& work, const fs::path& data) {
      std::ofstream(work / "setup.sql") << setup_sql();
      chown_tree(work);
      // --tmpdir for the reason command() gives.
      std::vector<std::string> argv = {kInstallDb,
                                       "--no-defaults",
                                       "--datadir=" + data.string(),
                                       "--tmpdir=" + work.string(),
                                       "--auth-root-socket-user=root",
                                       "--skip-test-db",
                                       "--skip-name-resolve",
                                       "--extra-file=" + (work / "setup.sql").string()};
      argv.insert(argv.end(), kFileOptions.begin(), kFileOptions.end());
      run_to_end(argv, work / "install.log");
    };
    return cached_template(mariadb_version(), kTemplateLayout, ServerInfo{}.database, install);
  }

  /// mariadbd on `port`. --no-defaults must come first (mariadbd reads it only there) and
  /// keeps /etc/mysql out; the character set it would have set is given back here. The
  /// temporary files go to the server's own directory: mariadbd would take $TMPDIR, which the
  /// server's user need not be able to write (InnoDB then refuses to start).
  /// The binary log is off and InnoDB writes its log at commit without syncing it (a killed
  /// server keeps every commit, a crashed machine need not). Native AIO is off: with many
  /// servers at once (ctest -j) it can run into the kernel's limits (fs.aio-max-nr, io_uring's
  /// locked memory), and a test server gains nothing from it.
  std::vector<std::string> command(int port) const override {
    std::vector<std::string> argv = {kMariadbd,
                                     "--no-defaults",
                                     "--datadir=" + (dir() / "data").string(),
                                     "--socket=" + info_.socket_path,
                                     "--port=" + std::to_string(port),
                                     "--bind-address=127.0.0.1",
                                     "--pid-file=" + (dir() / "mariadbd.pid").string(),
                                     "--log-error=" + log().string(),
                                     "--tmpdir=" + dir().string(),
                                     "--skip-log-bin",
                                     "--skip-name-resolve",
                                     "--max-connections=300",
                                     "--character-set-server=utf8mb4",
                                     "--innodb-flush-log-at-trx-commit=2",
                                     "--innodb-buffer-pool-size=32M",
                                     "--innodb-use-native-aio=0"};
    argv.insert(argv.end(), kFileOptions.begin(), kFileOptions.end());
    if (switches_user()) argv.push_back(std::string("--user=") + kKind.system_user);
    if (tls_) {
      argv.push_back("--ssl-ca=" + info_.ca_file);
      argv.push_back("--ssl-cert=" + (dir() / "server.crt").string());
      argv.push_back("--ssl-key=" + (dir() / "server.key").string());
    }
    return argv;
  }

  /// The CA, the server's certificate (localhost only) and a client's, into the directory.
  void write_certificates() {
    weft_test::TestCa ca("weft-mysql test CA");
    const weft_test::CertAndKey server = ca.issue("localhost", "DNS:localhost");
    const weft_test::CertAndKey client =
        ca.issue("weft-client", "DNS:weft-client", -1, 30, "clientAuth");
    const auto write = [&](const char* name, const std::string& pem) {
      std::ofstream(dir() / name) << pem;
      return (dir() / name).string();
    };
    info_.ca_file = write("ca.crt", ca.cert_pem());
    write("server.crt", server.cert_pem);
    write("server.key", server.key_pem);
    info_.client_cert_file = write("client.crt", client.cert_pem);
    info_.client_key_file = write("client.key", client.key_pem);
  }

  // True once the server lets "weft" in over the Unix socket (so the template's accounts are
  // there too).
  bool accepts_connections(int /*port*/, std::string& error) const override {
    return connect_unix(info_, 0, 2, error) != nullptr;
  }

  ServerInfo info_;
  bool tls_ = false;
};

MariaDb& mariadb() {
  static MariaDb m;
  return m;
}

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ServerEnvironment(mariadb()));

}  // namespace

const ServerInfo& server() {
  mariadb().check_running();
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

void use_tls() {
  mariadb().use_tls();
}

void restart_server() {
  mariadb().restart();
}

void start_server() {
  mariadb().start();
}

void stop_server() noexcept {
  mariadb().stop();
}

}  // namespace weft_test::mysql
