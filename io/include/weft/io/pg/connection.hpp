// pg::Connection: one PostgreSQL session on libpq's non-blocking API, driven by the worker's
// reactor (asyncpg's Connection).
//
//   pg::Connection conn = co_await pg::connect("host=db user=app dbname=app", 5s);
//   co_await conn.execute("INSERT INTO t (id, name) VALUES ($1, $2)", 1, "one");
//   for (pg::Row row : co_await conn.fetch("SELECT id, name FROM t WHERE id > $1", 0))
//     use(row.get<std::int64_t>("id"), row.get<std::string>(1));
//   std::optional<pg::Row> r = co_await conn.fetchrow("SELECT ...");
//   auto n = co_await conn.fetchval<std::int64_t>("SELECT count(*) FROM t");
//
// No libpq call that can block runs on a worker: the connection's socket is non-blocking,
// libpq only ever reads or writes what the socket takes, and the task waits for readiness
// on the reactor in between. What libpq would do that blocks is done elsewhere: host names
// are resolved by weft::net::resolve before libpq sees them (passed as hostaddr), and the
// cancel request (a connection of its own) is sent from the blocking pool.
//
// Parameters are `$1`, `$2`, ... bound from C++ values and sent in binary format with their
// type (types.hpp); results come back in binary format and are decoded when read. A query
// run by fetch, fetchrow, fetchval, query, or execute with parameters is one statement (the
// extended protocol), prepared on its first run and kept in the connection's statement cache
// (ConnectOptions); execute() without parameters may hold several statements separated by
// semicolons (the simple protocol, never prepared, as asyncpg does).
//
// Cancellation: a task cancelled, or timed out, while a query runs sends PostgreSQL's cancel
// request, reads what the server sends until the query has ended, and then raises the
// CancelledError (a timeout scope turns it into TimeoutError); the connection is usable
// afterwards. If the server does not answer within a bound, the connection is closed.
//
// One query at a time: a Connection is used by one task at once (a second concurrent query
// raises UsageError); a pg::Pool shares connections between tasks. A Connection may move
// between workers between queries. It must not be moved or destroyed while a query runs.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/io/pg/errors.hpp"
#include "weft/io/pg/notify.hpp"
#include "weft/io/pg/result.hpp"
#include "weft/io/pg/types.hpp"
#include "weft/runtime/async_generator.hpp"
#include "weft/runtime/task.hpp"

struct pg_conn;  // libpq's PGconn

namespace weft::pg {

namespace detail {
struct ConnState;   // io/src/pg/conn_state.hpp
struct CopyAccess;  // copy.hpp
}  // namespace detail

/// The state of the session's transaction, as libpq tracks it from the server's reports.
enum class TransactionStatus {
  kIdle,           ///< not in a transaction
  kActive,         ///< a command is in progress
  kInTransaction,  ///< in a transaction block, idle
  kFailed,         ///< in a failed transaction block: only ROLLBACK is accepted
  kUnknown,        ///< the connection is closed or broken
};

/// A notice or warning the server sent (RAISE NOTICE, a dropped table that did not exist).
struct Notice {
  std::string severity;  ///< "NOTICE", "WARNING", "INFO", "LOG", "DEBUG"
  std::string sqlstate;  ///< "00000" for a plain notice, "01000" for a warning ...
  std::string message;
  std::string detail;
  std::string hint;
};

/// How connect() sets up a connection.
struct ConnectOptions {
  /// Called with each notice the server sends, on the worker running the query that
  /// received it (or connect(), for those of the session's startup), before the query's
  /// result returns; it must not block, and an exception it throws is dropped. Empty:
  /// notices are dropped.
  std::function<void(const Notice&)> on_notice{};
  /// Prepared statements kept per connection (least recently used out; 0: none, every query
  /// is parsed and planned anew). Queries with parameters are prepared on first use.
  std::size_t statement_cache_size = 100;
};

class Transaction;  // transaction.hpp
class Batch;        // pipeline.hpp

/// The isolation level of a transaction (BEGIN ISOLATION LEVEL ...).
enum class IsolationLevel {
  kDefault,  ///< the session's default_transaction_isolation (read committed unless set)
  kReadCommitted,
  kRepeatableRead,
  kSerializable,
};

/// How Connection::transaction begins its transaction. Only the outermost transaction takes
/// options; a nested one is a savepoint of it.
struct TransactionOptions {
  IsolationLevel isolation = IsolationLevel::kDefault;
  bool read_only = false;
  /// With serializable and read_only: wait for a snapshot that cannot fail to serialize.
  bool deferrable = false;
};

/// A connection to a PostgreSQL server. Move-only; the destructor closes it.
class Connection {
 public:
  /// A closed connection (what connect() returns is open).
  Connection() noexcept;
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  /// Runs `sql` with `args` bound to $1, $2 ...; the number of rows it affected. Without
  /// args, `sql` may hold several statements (the count is the last one's). Throws pg::Error
  /// (with the SQLSTATE) if the server refuses it, pg::ConnectionLost if the connection
  /// drops, UsageError on a closed or busy connection; a cancellation point (see the
  /// opening comment).
  template <class... A>
  Task<std::uint64_t> execute(std::string_view sql, const A&... args) {
    if constexpr (sizeof...(A) == 0) {
      return execute_simple(std::string(sql));
    } else {
      return execute_params(this, std::string(sql), Params(args...));
    }
  }
  /// Runs a query; its rows. Throws as execute() does.
  template <class... A>
  Task<Result> fetch(std::string_view sql, const A&... args) {
    return query(std::string(sql), Params(args...));
  }
  /// Runs a query; its first row, or nullopt if it returned none.
  template <class... A>
  Task<std::optional<Row>> fetchrow(std::string_view sql, const A&... args) {
    return fetchrow_params(this, std::string(sql), Params(args...));
  }
  /// Runs a query; the first column of its first row as T (nullopt for no row when T is
  /// an optional). Throws pg::TypeError if there is no row and T is not an optional, or as
  /// Row::get does.
  template <class T, class... A>
  Task<T> fetchval(std::string_view sql, const A&... args) {
    return fetchval_params<T>(this, std::string(sql), Params(args...));
  }

  /// Runs `co_await body(tx)` in a transaction (asyncpg's `async with conn.transaction()`)
  /// and returns what it returns: committed if the body returns, rolled back if it throws or
  /// is cancelled (the exception, CancelledError or TimeoutError then goes on to the caller).
  /// Called inside another transaction, it is a savepoint of it: rolled back to on failure
  /// without ending the outer one. `body` takes a pg::Transaction& and returns a Task; it is
  /// kept alive until the transaction ends. Throws pg::Error if the commit fails (a
  /// serialization failure, a deferred constraint) or if the body caught an error that had
  /// aborted the transaction (SQLSTATE 25P02; rolled back), UsageError for options on a
  /// nested transaction. Defined in transaction.hpp.
  template <class F>
  Task<typename std::invoke_result_t<F&, Transaction&>::value_type> transaction(
      F body, TransactionOptions options = {});

  /// Runs one statement with encoded parameters; its result. The building block of the
  /// methods above. Throws as execute() does.
  Task<Result> query(std::string sql, Params params);

  // LISTEN/NOTIFY (notify.hpp, notify.cpp).
  /// LISTEN on `channel`: a case-sensitive name, sent quoted (any characters but NUL, at
  /// most 63 bytes). In effect at once, or from the commit of the transaction block it runs
  /// in. Throws std::invalid_argument for an empty name or one with a NUL,
  /// std::length_error for a longer one, else as execute() does.
  Task<void> listen(std::string channel);
  /// UNLISTEN `channel`; what was received before is still yielded. Throws as listen().
  Task<void> unlisten(std::string channel);
  /// UNLISTEN * (every channel). Throws as execute() does.
  Task<void> unlisten_all();
  /// Sends a notification on `channel` (pg_notify): delivered to the listeners, this
  /// session's too, at once, or at the commit of the transaction block it runs in. Throws
  /// as listen() does, and pg::Error (SQLSTATE 22023) for a payload of 8000 bytes or more.
  Task<void> notify(std::string channel, std::string payload);
  /// notify() with an empty payload.
  Task<void> notify(std::string channel);
  /// Every notification this connection receives, in order; never ends by itself (see
  /// notify.hpp: queries between two yields, cancellation). From next(): pg::ConnectionLost
  /// once the connection is lost, UsageError on a closed connection or while another query
  /// runs. Must not be resumed after the Connection is destroyed (moving it is fine).
  AsyncGenerator<Notification> notifications();
  /// True from a listen() until unlisten_all() (a pg::Pool then clears the connection with
  /// UNLISTEN * when it is returned, so the next borrower hears nothing it did not ask for).
  bool listening() const noexcept;
  // Pipeline mode: batches of queries in one round trip (pipeline.hpp, pipeline.cpp).
  /// Runs every query of `batch` in one round trip and returns their results in order (see
  /// pipeline.hpp). `batch` is read while the task runs: keep it alive until it ends. Throws
  /// pg::BatchError (a pg::Error) for the first query the server refused (the later ones are
  /// not run; outside a transaction block the earlier ones are rolled back), ConnectionLost,
  /// UsageError on a closed or busy connection; a cancellation point that leaves the
  /// connection usable. An empty batch returns at once.
  Task<std::vector<Result>> run_batch(const Batch& batch);
  /// Runs `sql` once per element of `rows`, a range of tuples of parameter values
  /// (std::tuple, std::pair, std::array), as one batch (asyncpg's executemany); the total
  /// number of rows affected. Throws as run_batch() does. Defined in pipeline.hpp.
  template <class Rows>
  Task<std::uint64_t> execute_many(std::string_view sql, const Rows& rows);

  // COPY FROM STDIN and COPY TO STDOUT (copy.hpp, copy.cpp).

  /// Copies `records` into `table` by a binary COPY (asyncpg's copy_records_to_table); the
  /// number of rows copied. `records` is an AsyncGenerator of tuple-like records or a range
  /// of them (read in place if an lvalue, which must outlive the Task; moved in if an
  /// rvalue); each record's elements are the columns' values, in `columns`' order (all the
  /// table's columns, in order, if none are named), std::optional or std::nullopt for NULL.
  /// `table`, `columns` and `schema` are quoted as identifiers. Throws pg::Error if the
  /// server refuses the data (SQLSTATE 22P03 or 08P01 for a value of the wrong width,
  /// 23505 for a duplicate key ...; nothing is inserted), what the record source throws (the COPY
  /// is aborted, nothing inserted), ConnectionLost, UsageError on a closed or busy connection. A
  /// cancellation point: a cancelled COPY inserts nothing and leaves the connection usable.
  template <class Records>
  Task<std::uint64_t> copy_records_to_table(std::string_view table, Records&& records);
  template <class Records>
  Task<std::uint64_t> copy_records_to_table(std::string_view table, Records&& records,
                                            const std::vector<std::string>& columns);
  template <class Records>
  Task<std::uint64_t> copy_records_to_table(std::string_view table, Records&& records,
                                            const std::vector<std::string>& columns,
                                            std::string_view schema);
  /// Runs `sql`, a COPY ... FROM STDIN of any format (text, csv, binary), sending `chunks`
  /// as its data: an AsyncGenerator of std::string or a range of string-like pieces (read
  /// in place if an lvalue); they need not end at row boundaries. The number of rows
  /// copied. Throws as copy_records_to_table does, and UsageError if `sql` is not a COPY
  /// FROM STDIN.
  template <class Chunks>
  Task<std::uint64_t> copy_in(std::string_view sql, Chunks&& chunks);
  /// Runs `sql`, a COPY ... TO STDOUT of any format, as a stream of its data: chunks of
  /// whole rows (as the server sends them: one row a message), each at most about
  /// kCopyBatch bytes (or one row); the COPY is sent at the first next(). next() throws
  /// pg::Error if the server fails the COPY, UsageError if `sql` is not a COPY TO STDOUT,
  /// ConnectionLost; a cancellation point (the connection stays usable). Destroying the
  /// generator before its end closes the connection (copy.hpp says why).
  AsyncGenerator<std::string> copy_out(std::string_view sql);
  /// The rows of `query` (a SELECT, TABLE t, VALUES ...) by a binary COPY TO STDOUT, each
  /// decoded as a std::tuple<T...> (copy.hpp: how values are decoded). Throws as copy_out
  /// does, and pg::TypeError for a row of another number of columns, a NULL into a type
  /// that is not a std::optional, or a value of a type that T cannot hold.
  template <class... T>
  AsyncGenerator<std::tuple<T...>> copy_records_out(std::string_view query);

 private:
  friend struct detail::CopyAccess;

 public:
  /// Closes the connection (at once; the server is told with a Terminate message if the
  /// socket takes it). Idempotent. Must not be called while a query runs.
  void close() noexcept;
  /// True unless the connection is closed, lost, busy, or found dead now: reads whatever the
  /// server sent meanwhile, without waiting, so a connection the server closed (a terminated
  /// backend, a restart) is found out (and closed) without a round trip. Must not be called
  /// while a query runs.
  bool is_alive() noexcept;
  /// True from connect() until close() or the connection was lost.
  bool is_open() const noexcept;
  /// The transaction state (kUnknown when closed).
  TransactionStatus transaction_status() const noexcept;
  /// The number of prepared statements the connection keeps now.
  std::size_t cached_statements() const noexcept;
  /// The server process serving this connection (pg_backend_pid()), 0 when closed.
  int backend_pid() const noexcept;
  /// libpq's PGconn, for calls weft::pg does not wrap (nullptr when closed). Never make a
  /// blocking libpq call with it on a worker.
  pg_conn* native() const noexcept;

  // TLS to the server (tls.cpp). libpq negotiates it as its sslmode says (prefer by
  // default; require, verify-ca, verify-full with sslrootcert), during connect().
  /// True if the connection is encrypted with TLS (libpq's PQsslInUse); false when closed.
  bool uses_tls() const noexcept;

 private:
  friend Task<Connection> connect(std::string conninfo, ConnectOptions options);
  explicit Connection(std::unique_ptr<detail::ConnState> s) noexcept;

  Task<std::uint64_t> execute_simple(std::string sql);
  static Task<std::uint64_t> execute_params(Connection* self, std::string sql, Params p);
  static Task<std::optional<Row>> fetchrow_params(Connection* self, std::string sql, Params p);
  template <class T>
  static Task<T> fetchval_params(Connection* self, std::string sql, Params p);
  // The steps of transaction(), in transaction.cpp.
  Task<Transaction> begin_transaction(TransactionOptions options);
  Task<void> commit_transaction(const Transaction& tx);
  /// Never throws: a rollback that fails closes the connection (its state is unknown).
  Task<void> rollback_transaction(const Transaction& tx);
  [[noreturn]] static void no_row_error(const std::string& sql, const char* cpp_type);

  std::unique_ptr<detail::ConnState> s_;
};

/// Connects to the server that `conninfo` names (libpq's "key=value ..." or
/// "postgresql://..." forms), resolving host names on weft's resolver. Throws
/// pg::ConnectionError naming the host and port with libpq's reason (refused, password
/// authentication failed, no such database), std::invalid_argument for a malformed conninfo,
/// net::ResolveError for an unknown host. A cancellation point.
Task<Connection> connect(std::string conninfo, ConnectOptions options = {});
/// connect() giving up with weft::TimeoutError after `timeout`.
Task<Connection> connect(std::string conninfo, std::chrono::milliseconds timeout,
                         ConnectOptions options = {});

template <class T>
Task<T> Connection::fetchval_params(Connection* self, std::string sql, Params p) {
  Result r = co_await self->query(sql, std::move(p));
  if (r.empty()) {
    if constexpr (detail::IsOptional<T>::value) {
      co_return std::nullopt;
    } else {
      no_row_error(sql, Codec<T>::name);
    }
  }
  co_return r[0].template get<T>(0);
}

}  // namespace weft::pg

#include "weft/io/pg/copy.hpp"         // Connection's COPY methods
#include "weft/io/pg/pipeline.hpp"     // Connection::execute_many
#include "weft/io/pg/transaction.hpp"  // Connection::transaction
