// mysql::Connection: one MySQL or MariaDB session on MariaDB Connector/C's non-blocking API,
// driven by the worker's reactor (aiomysql's Connection).
//
//   mysql::ConnectOptions o{.host = "db", .user = "app", .password = pw, .database = "app"};
//   mysql::Connection conn = co_await mysql::connect(o, 5s);
//   co_await conn.execute("INSERT INTO t (id, name) VALUES (?, ?)", 1, "one");
//   for (mysql::Row row : co_await conn.fetch("SELECT id, name FROM t WHERE id > ?", 0))
//     use(row.get<std::int64_t>("id"), row.get<std::string>(1));
//   auto n = co_await conn.fetchval<std::int64_t>("SELECT COUNT(*) FROM t");
//
// No client call that can block runs on a worker: every library call that may read or
// write is made through its `_start`/`_cont` pair, which returns when the socket would
// block; the task then waits for readiness on the reactor. Host names are resolved by
// weft::net::resolve before the library sees them.
//
// A statement with arguments is a prepared statement (binary protocol), prepared on its
// first run and kept in the connection's statement cache (ConnectOptions); one without
// arguments is sent as text (one round trip, nothing prepared), one statement at a time.
//
// Cancellation: a task cancelled, or timed out, while a statement runs stops it with KILL
// QUERY (sent on a connection of its own, made with the same options), reads what is left of
// its result and raises the CancelledError or TimeoutError; the connection stays usable. If
// the statement cannot be stopped within 10 s, the connection is closed instead.
//
// TLS: ConnectOptions::tls (TlsMode); by default a TCP connection is encrypted when the
// server offers it, as the mysql client's PREFERRED, and uses_tls() says whether it is.
//
// One statement at a time: a Connection is used by one task at once (a second concurrent
// call raises UsageError). A Connection may move between workers, also in the middle of a
// statement. It must not be moved or destroyed while a statement runs.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "weft/io/mysql/errors.hpp"
#include "weft/io/mysql/result.hpp"
#include "weft/io/mysql/types.hpp"
#include "weft/runtime/async_generator.hpp"
#include "weft/runtime/task.hpp"

namespace weft::mysql {

namespace detail {
struct ConnState;  // io/src/mysql/conn_state.hpp
}  // namespace detail

/// Whether connect() encrypts the connection with TLS, and what it checks of the server
/// (the mysql client's --ssl-mode).
enum class TlsMode {
  /// Never.
  kDisable,
  /// Over TCP when the server offers it, without checking its certificate; plain text when
  /// it does not, and over a Unix socket.
  kPrefer,
  /// Always, without checking the server's certificate: connect() fails (ConnectionError) if
  /// the server does not offer TLS. That is found once the login is done, as the client
  /// library checks it: such a server sees the login exchange (a hash of the password, never
  /// the password) in plain text; kVerifyFull refuses before it.
  kRequire,
  /// As kRequire, and the handshake fails unless the server's certificate chain leads to a
  /// certificate authority of tls_ca_file. Its host name is not checked.
  kVerifyCa,
  /// As kVerifyCa, and the certificate must name the host connected to (`host` as given:
  /// a DNS name of its subjectAltName or CN, or an IP address of its subjectAltName),
  /// checked before the login is sent.
  kVerifyFull,
};

/// Where and how connect() connects.
struct ConnectOptions {
  /// A host name or numeric address, for TCP; ignored when unix_socket is set.
  std::string host = "127.0.0.1";
  std::uint16_t port = 3306;
  /// The path of the server's Unix socket; empty: TCP.
  std::string unix_socket{};
  std::string user{};
  std::string password{};
  /// The default database of the session; empty: none.
  std::string database{};
  /// The session's character set (SET NAMES).
  std::string charset = "utf8mb4";
  /// Prepared statements kept per connection (least recently used out; 0: none, each
  /// statement with arguments is prepared and closed again).
  std::size_t statement_cache_size = 100;
  /// The largest result a query may return, in bytes of its values: a larger one raises
  /// mysql::Error (client error 2020, CR_NET_PACKET_TOO_LARGE) and closes the connection,
  /// rather than holding everything in memory.
  std::size_t max_result_bytes = std::size_t{1} << 30;
  /// TLS to the server (see TlsMode). Over TCP only unless kRequire or stricter.
  TlsMode tls = TlsMode::kPrefer;
  /// PEM file of the certificate authorities kVerifyCa and kVerifyFull trust; empty: the
  /// system's (OpenSSL's default paths).
  std::string tls_ca_file{};
  /// A client certificate and its private key (PEM files), for an account that requires one
  /// (REQUIRE X509); empty: none. Sent only over TLS.
  std::string tls_cert_file{};
  std::string tls_key_file{};
};

class Transaction;  // transaction.hpp

/// The isolation level of a transaction (SET TRANSACTION ISOLATION LEVEL ...).
enum class IsolationLevel {
  kDefault,  ///< the session's (REPEATABLE READ unless set)
  kReadUncommitted,
  kReadCommitted,
  kRepeatableRead,
  kSerializable,
};

/// How Connection::transaction begins its transaction. Only the outermost transaction takes
/// options; a nested one is a savepoint of it.
struct TransactionOptions {
  IsolationLevel isolation = IsolationLevel::kDefault;
  bool read_only = false;
};

/// A connection to a MySQL or MariaDB server. Move-only; the destructor closes it.
class Connection {
 public:
  /// A closed connection (what connect() returns is open).
  Connection() noexcept;
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  /// Runs `sql` with `args` bound to its `?` placeholders; the number of rows it affected.
  /// Throws mysql::Error if the server refuses it, ConnectionLost if the connection drops,
  /// UsageError on a closed or busy connection; a cancellation point (see the opening
  /// comment).
  template <class... A>
  Task<std::uint64_t> execute(std::string_view sql, const A&... args) {
    return execute_result(this, std::string(sql), Params(args...), sizeof...(A) > 0);
  }
  /// Runs a query; its rows (with the affected rows and insert id). Throws as execute().
  template <class... A>
  Task<Result> fetch(std::string_view sql, const A&... args) {
    if constexpr (sizeof...(A) == 0) {
      return query(std::string(sql));
    } else {
      return prepared(std::string(sql), Params(args...));
    }
  }
  /// Runs a query; its first row, or nullopt if it returned none.
  template <class... A>
  Task<std::optional<Row>> fetchrow(std::string_view sql, const A&... args) {
    return fetchrow_result(this, std::string(sql), Params(args...), sizeof...(A) > 0);
  }
  /// Runs a query; the first column of its first row as T (nullopt for no row when T is an
  /// optional). Throws mysql::TypeError if there is no row and T is not an optional, or as
  /// Row::get does.
  template <class T, class... A>
  Task<T> fetchval(std::string_view sql, const A&... args) {
    return fetchval_result<T>(this, std::string(sql), Params(args...), sizeof...(A) > 0);
  }

  /// Runs `co_await body(tx)` in a transaction (aiomysql's `async with conn.begin()`) and
  /// returns what it returns: committed if the body returns, rolled back if it throws or is
  /// cancelled (the exception, CancelledError or TimeoutError then goes on to the caller;
  /// a cancelled statement has closed the connection, and the server rolls back with the
  /// session). Called inside another transaction, it is a savepoint of it: rolled back to
  /// on failure without ending the outer one. `body` takes a mysql::Transaction& and returns
  /// a Task; it is kept alive until the transaction ends. Throws mysql::Error if the commit
  /// fails, or if the server ended the transaction itself before the commit (a deadlock,
  /// error 1213, that the body caught: what ran after it ran outside the transaction),
  /// UsageError for options on a nested transaction. Defined in transaction.hpp.
  template <class F>
  Task<typename std::invoke_result_t<F&, Transaction&>::value_type> transaction(
      F body, TransactionOptions options = {});
  /// True while the session is in a transaction, as the server's last status said.
  bool in_transaction() const noexcept;

  /// Runs a query and yields its rows as they arrive (aiomysql's SSCursor), for results too
  /// large to hold at once (max_result_bytes does not apply): they are read in chunks of up
  /// to kStreamChunkRows rows or about kStreamChunkBytes bytes, and a Row keeps its chunk
  /// alive. The statement is sent at the first next(); the connection is busy (UsageError
  /// for another statement) until the last row was read or the generator is destroyed.
  /// Destroying the generator before its end closes the connection: reading the rest of the
  /// result could take as long as the whole statement. next() throws as fetch() does; a
  /// cancellation point that, as for fetch(), stops the statement with KILL QUERY and leaves
  /// the connection usable. Must not be resumed after the Connection is destroyed (moving
  /// it is fine).
  template <class... A>
  AsyncGenerator<Row> stream(std::string_view sql, const A&... args) {
    return stream_rows(s_.get(), std::string(sql), Params(args...), sizeof...(A) > 0);
  }
  /// The most rows, and about the most bytes, stream() reads before it yields them.
  static constexpr std::size_t kStreamChunkRows = 256;
  static constexpr std::size_t kStreamChunkBytes = 64 * 1024;

  /// Runs one statement as text (no parameters, not prepared); its result.
  Task<Result> query(std::string sql);
  /// Runs one statement as a prepared statement with `params` (from the statement cache, or
  /// prepared now); its result.
  Task<Result> prepared(std::string sql, Params params);

  /// Closes the connection (at once; the server is told with COM_QUIT if the socket takes
  /// it). Idempotent. Must not be called while a statement runs.
  void close() noexcept;
  /// True from connect() until close() or the connection was lost.
  bool is_open() const noexcept;
  /// True unless the connection is closed, lost, busy, or found dead now: an idle session
  /// has nothing to say, so data or an end of stream waiting on its socket (the server's
  /// goodbye after a KILL, a restart, wait_timeout) means it is gone; it is closed then.
  /// No round trip. Must not be called while a statement runs.
  bool is_alive() noexcept;
  /// The server's id of this session (CONNECTION_ID(), what KILL takes); 0 when closed.
  std::uint64_t thread_id() const noexcept;
  /// The number of prepared statements the connection keeps now.
  std::size_t cached_statements() const noexcept;
  /// The server's version string ("10.11.6-MariaDB-0+deb12u1"); empty when closed.
  std::string server_version() const;
  /// True if the connection is encrypted with TLS; false when closed.
  bool uses_tls() const noexcept;
  /// The TLS cipher suite in use ("TLS_AES_256_GCM_SHA384"); empty without TLS.
  std::string tls_cipher() const;

 private:
  friend Task<Connection> connect(ConnectOptions options);
  explicit Connection(std::unique_ptr<detail::ConnState> s) noexcept;

  friend class Pool;
  /// prepared() if `prepare`, else query() (whose Task it returns: no frame of its own).
  Task<Result> run(std::string sql, Params p, bool prepare) {
    return prepare ? prepared(std::move(sql), std::move(p)) : query(std::move(sql));
  }
  static Task<std::uint64_t> execute_result(Connection* self, std::string sql, Params p,
                                            bool prepare);
  static Task<std::optional<Row>> fetchrow_result(Connection* self, std::string sql, Params p,
                                                  bool prepare);
  template <class T>
  static Task<T> fetchval_result(Connection* self, std::string sql, Params p, bool prepare);
  [[noreturn]] static void no_row_error(const std::string& sql);
  static AsyncGenerator<Row> stream_rows(detail::ConnState* s, std::string sql, Params params,
                                         bool prepare);
  // The steps of transaction(), in transaction.cpp.
  Task<Transaction> begin_transaction(TransactionOptions options);
  Task<void> commit_transaction(const Transaction& tx);
  /// Never throws: a rollback that fails closes the connection (its state is unknown).
  Task<void> rollback_transaction(const Transaction& tx);

  std::unique_ptr<detail::ConnState> s_;
};

/// Connects as `options` say, resolving a host name on weft's resolver. Throws
/// mysql::ConnectionError naming the target with the library's reason (refused, access
/// denied, unknown database), net::ResolveError for an unknown host. A cancellation point.
Task<Connection> connect(ConnectOptions options);
/// connect() giving up with weft::TimeoutError after `timeout`.
Task<Connection> connect(ConnectOptions options, std::chrono::milliseconds timeout);

template <class T>
Task<T> Connection::fetchval_result(Connection* self, std::string sql, Params p, bool prepare) {
  const Result r = co_await self->run(sql, std::move(p), prepare);
  if (r.empty()) {
    if constexpr (detail::IsOptional<T>::value) {
      co_return std::nullopt;
    } else {
      no_row_error(sql);
    }
  }
  co_return r[0].template get<T>(0);
}

}  // namespace weft::mysql

#include "weft/io/mysql/transaction.hpp"  // Connection::transaction
