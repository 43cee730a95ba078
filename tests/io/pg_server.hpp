// A throwaway PostgreSQL cluster for the weft::pg tests, one per test binary process.
//
// pg_server.cpp registers a GoogleTest environment that starts the server before the first
// test and stops it (and deletes its directory) after the last, whether tests failed or not.
// ctest runs every test in a process of its own, so the cluster is made often: initdb runs
// once per machine into a cached template directory (under a lock, keyed by the PostgreSQL
// version and this harness's layout), and each process copies the template, which is far
// quicker than initdb.
//
// The server: fsync off, listening on a free TCP port of 127.0.0.1 and on a Unix socket in
// its own directory; user "weft" (the superuser) with trust authentication, and user
// "weft_scram" with password "scram-secret" and scram-sha-256 over TCP, for the tests of
// authentication. PostgreSQL refuses to run as root, so when the tests run as root (CI) the
// cluster belongs to the system user "weft-pg", made with useradd if it is missing. The
// binaries come from $WEFT_PG_BIN, else the newest /usr/lib/postgresql/N/bin.
//
// TLS is off unless the test binary asks for it with use_tls() before its first test (a
// namespace-scope initializer does): then the server gets a certificate for 127.0.0.1 and
// localhost, signed by a CA made at start (ServerInfo::ca_file), and takes TLS and plain
// connections alike. A program that is not a test binary (pg_run_with_server) starts and
// stops the server itself with start_server() and stop_server().
#pragma once

#include <string>

namespace weft_test::pg {

/// Where the running test server is.
struct ServerInfo {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string socket_dir;  ///< the directory of the Unix socket
  std::string user = "weft";
  std::string dbname = "postgres";
  std::string scram_user = "weft_scram";
  std::string scram_password = "scram-secret";
  std::string ca_file;  ///< the PEM file of the CA of the server's certificate (TLS only)

  /// A libpq conninfo string for the superuser over TCP (trust authentication).
  std::string conninfo() const;
  /// The same over the Unix socket.
  std::string unix_conninfo() const;
  /// The password user over TCP; `password` replaces the right one.
  std::string scram_conninfo(const std::string& password) const;
};

/// The server of this test binary. Fails the calling test (and aborts it) if the
/// environment could not start it; the message says why.
const ServerInfo& server();

/// Runs `sql` on the server with a blocking libpq connection of its own (set-up, checks
/// from outside the runtime). Throws std::runtime_error with libpq's message.
void run_sql(const std::string& sql);

/// Makes the server of this process take TLS connections; call before it starts. Any thread.
void use_tls();

/// Restarts the server as `pg_ctl restart -m fast` does: the sessions are ended (each gets
/// FATAL 57P01), the server exits and starts again on the same port, directory and data.
/// Blocks until it accepts connections again; call it from a plain thread (to_thread), not a
/// worker. Throws std::runtime_error with the server's log if it does not come back.
void restart_server();

/// Starts the server outside GoogleTest (a program that is not a test binary). Throws
/// std::runtime_error saying why it could not.
void start_server();
/// Stops the server start_server() started and deletes its directory.
void stop_server() noexcept;

}  // namespace weft_test::pg
