// A throwaway MariaDB server for the MySQL client's tests, one per test binary process.
//
// mysql_server.cpp registers a GoogleTest environment that starts the server before the first
// test and stops it (and deletes its directory) after the last, whether tests failed or not.
// ctest runs every test in a process of its own, so the server is made often:
// mariadb-install-db runs once per machine into a cached template data directory (under a
// lock, keyed by the MariaDB version and this harness's layout), and each process copies the
// template, which is far quicker than installing.
//
// The server: mariadbd started directly with --no-defaults (no /etc/mysql configuration),
// listening on a free TCP port of 127.0.0.1 and on a Unix socket in its own directory, the
// binary log off and InnoDB told not to flush at commit. The template already holds the
// database "weft" (utf8mb4) and the user "weft" with password "weft-secret" and all
// privileges, WITH GRANT OPTION, at '%' (TCP) and 'localhost' (the Unix socket): the harness
// never logs in as root, so it works alike whether the tests run as root or not. mariadbd
// refuses to run as root, so when the tests run as root (CI) the server belongs to the system
// user "weft-mysql", made with useradd if it is missing. The binaries are Debian's:
// /usr/sbin/mariadbd and /usr/bin/mariadb-install-db (package mariadb-server).
//
// Connector/C ignores SIGPIPE for the whole process when it is first initialised; the harness
// initialises it before anything else does and puts SIGPIPE back as it was, so a client that
// writes to a closed socket without MSG_NOSIGNAL dies in the tests as it would in a program.
//
// TLS is off unless the test binary asks for it with use_tls() before its first test (a
// namespace-scope initializer does): then the server gets a certificate for the DNS name
// localhost only (not 127.0.0.1, so that a client checking the host name can be seen to),
// signed by a CA made at start (ServerInfo::ca_file), with a client certificate that CA
// signed too, and takes TLS and plain connections alike, checking a client's certificate
// against that CA.
//
// A program that is not a test binary (mysql_run_with_server) starts and stops the server
// itself with start_server() and stop_server().
#pragma once

#include <string>

namespace weft_test::mysql {

/// Where the running test server is, and whom it lets in.
struct ServerInfo {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string socket_path;  ///< the server's Unix socket
  std::string user = "weft";
  std::string password = "weft-secret";
  std::string database = "weft";
  /// With use_tls(): the CA's certificate (PEM) that signed the server's, and a client
  /// certificate and key it signed (CN weft-client); else empty.
  std::string ca_file;
  std::string client_cert_file;
  std::string client_key_file;
};

/// The server of this test binary. Fails the calling test (and aborts it) if the
/// environment could not start it; the message says why.
const ServerInfo& server();

/// Runs `sql` (one statement or several separated by ';') on the server with a blocking
/// MariaDB Connector/C connection of its own, over the Unix socket as "weft", in database
/// "weft" (set-up, checks from outside the runtime). Result rows are discarded. Throws
/// std::runtime_error with the client library's message. Any thread.
void run_sql(const std::string& sql);

/// Makes the server take TLS (see the opening comment). Call before the first test.
void use_tls();

/// Restarts the server: SIGTERM (mariadbd's normal shutdown: the sessions are ended, each
/// client sees its connection lost), then the server starts again on the same port,
/// directory and data. Blocks until it accepts connections again; call it from a plain thread
/// (to_thread), not a worker. Throws std::runtime_error with the tail of the server's log if it
/// does not come back.
void restart_server();

/// Starts the server outside GoogleTest (a program that is not a test binary). Throws
/// std::runtime_error saying why it could not.
void start_server();
/// Stops the server start_server() started and deletes its directory.
void stop_server() noexcept;

}  // namespace weft_test::mysql
