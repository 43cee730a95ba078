// The throwaway PostgreSQL cluster of a test binary (see pg_server.hpp); what it shares with
// other servers' (the template's lock, the system user, the process) is ThrowawayServer's.
#include "pg_server.hpp"

#include <libpq-fe.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "throwaway_server.hpp"
#include "tls_test_certs.hpp"

namespace fs = std::filesystem;

namespace weft_test::pg {
namespace {

// Bumped whenever the template's contents change (pg_hba.conf, initdb options), so a cached
// template of an older layout is never used.
constexpr const char* kTemplateLayout = "2";

// The server is stopped with SIGINT, PostgreSQL's fast shutdown (it ends the sessions, then
// exits), and gets SIGQUIT, its immediate shutdown, if the test process dies first.
constexpr ServerKind kKind = {.name = "pg",
                              .system_user = "weft-pg",
                              .refuses_root = "PostgreSQL",
                              .log_file = "server.log",
                              .stop_signal = SIGINT,
                              .parent_death_signal = SIGQUIT};

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("pg test server: " + what);
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

class Cluster final : public ThrowawayServer {
 public:
  Cluster() : ThrowawayServer(kKind) {}

  void use_tls() { tls_ = true; }

  const ServerInfo& info() const { return info_; }

 private:
  void start_up() override {
    bin_ = find_bin_dir();
    const fs::path tmpl = template_cluster();
    const fs::path data = make_server_dir() / "data";
    fs::copy(tmpl, data, fs::copy_options::recursive);
    fs::permissions(data, fs::perms::owner_all);
    if (tls_) write_certificates();
    chown_tree(dir());
    info_.socket_dir = dir().string();
    info_.port = launch_on_free_port();
    run_sql("CREATE ROLE weft_scram LOGIN PASSWORD 'scram-secret'");
  }

  /// The cached template cluster for this version and user, made by initdb if missing.
  fs::path template_cluster() const {
    const std::string version = "pg" + bin_.parent_path().filename().string();
    const auto initdb = [&](const fs::path& work, const fs::path& data) {
      chown_tree(work);
      run_to_end({(bin_ / "initdb").string(), "-D", data.string(), "-U", "weft", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync", "--wal-segsize=1"},
                 work / "initdb.log");
      std::ofstream hba(data / "pg_hba.conf", std::ios::trunc);
      hba << "local all all trust\n"
             "host all weft_scram 127.0.0.1/32 scram-sha-256\n"
             "host all all 127.0.0.1/32 trust\n";
    };
    return cached_template(version, kTemplateLayout, "PG_VERSION", initdb);
  }

  std::vector<std::string> command(int port) const override {
    std::vector<std::string> argv = {(bin_ / "postgres").string(),
                                     "-D",
                                     (dir() / "data").string(),
                                     "-c",
                                     "listen_addresses=127.0.0.1",
                                     "-c",
                                     "port=" + std::to_string(port),
                                     "-c",
                                     "unix_socket_directories=" + dir().string(),
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
           {std::string("ssl=on"), "ssl_cert_file=" + (dir() / "server.crt").string(),
            "ssl_key_file=" + (dir() / "server.key").string()}) {
        argv.push_back("-c");
        argv.push_back(s);
      }
    }
    return argv;
  }

  bool accepts_connections(int port, std::string& /*error*/) const override {
    ServerInfo at = info_;
    at.port = port;
    return PQping((at.conninfo() + " connect_timeout=2").c_str()) == PQPING_OK;
  }

  /// A CA and the server's certificate for 127.0.0.1 and localhost, into the directory.
  void write_certificates() {
    weft_test::TestCa ca("weft-pg test CA");
    const weft_test::CertAndKey server = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
    std::ofstream(dir() / "ca.crt") << ca.cert_pem();
    std::ofstream(dir() / "server.crt") << server.cert_pem;
    {
      std::ofstream key(dir() / "server.key");
      key << server.key_pem;
    }
    // PostgreSQL refuses a key file that others may read.
    fs::permissions(dir() / "server.key", fs::perms::owner_read | fs::perms::owner_write);
    info_.ca_file = (dir() / "ca.crt").string();
  }

  ServerInfo info_;
  fs::path bin_;
  bool tls_ = false;
};

Cluster& cluster() {
  static Cluster c;
  return c;
}

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ServerEnvironment(cluster()));

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
  cluster().check_running();
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
  cluster().start();
}

void stop_server() noexcept {
  cluster().stop();
}

}  // namespace weft_test::pg
