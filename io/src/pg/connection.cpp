// pg::Connection's queries: send with libpq's non-blocking calls, flush and read with
// reactor waits, cancel and drain when the task is cancelled.
//
// ## Reading (edge-triggered readiness, runtime/io.hpp)
// The read sequence number is taken before the query is sent, so the response's arrival is
// an edge after it and the first wait needs no PQconsumeInput that would find nothing. After
// that, each PQconsumeInput comes after a fresh sequence number. libpq reads at most its
// buffer's free space per PQconsumeInput, so data may remain in the kernel (or, with TLS, in
// OpenSSL's record buffer) whose edge was counted before the sequence number: before
// waiting, a zero-timeout poll (and SSL_pending) checks for it, or the wait would hang.
//
// ## Cancellation
// A CancelledError from a wait is caught; then, shielded from further cancellation and
// bounded by kCancelBound, the rest of the query is flushed, the cancel request is sent from
// the blocking pool (PQcancel opens a connection of its own and blocks; again after a while
// if the query still runs, since the server drops a request that arrives before it has read
// the query), and every result is read and dropped until the connection is idle again; then
// the CancelledError is rethrown.
// If that fails or takes too long, the connection is closed.
#include <libpq-fe.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conn_state.hpp"
#include "weft/io/pg/connection.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/cancel.hpp"
#include "weft/runtime/join_handle.hpp"

namespace weft::pg {
namespace {

using detail::ConnState;
using namespace std::chrono_literals;

// How long a cancelled query may take to end after the cancel request before the connection
// is given up (closed): long enough for a loaded server, short enough that a lost server
// does not hold the cancelled task.
constexpr auto kCancelBound = 10s;
// The first and the longest interval between cancel requests for one query (see
// cancel_and_drain).
constexpr std::chrono::milliseconds kFirstResend = 50ms;
constexpr std::chrono::milliseconds kLastResend = 1s;

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string field(const PGresult* r, int code) {
  const char* f = PQresultErrorField(r, code);
  return f ? f : "";
}

std::string trimmed(std::string m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

/// The fields of an error the client found.
ErrorFields client_error(std::string message, std::string sql) {
  ErrorFields f;
  f.message = std::move(message);
  f.query = std::move(sql);
  return f;
}

ErrorFields fields_of(const PGresult* r, const std::string& sql) {
  ErrorFields f{.sqlstate = field(r, PG_DIAG_SQLSTATE),
                .message = field(r, PG_DIAG_MESSAGE_PRIMARY),
                .detail = field(r, PG_DIAG_MESSAGE_DETAIL),
                .hint = field(r, PG_DIAG_MESSAGE_HINT),
                .query = sql};
  if (f.message.empty()) f.message = trimmed(PQresultErrorMessage(r));
  return f;
}

/// Closes the connection as lost and throws ConnectionLost: with the server's report if one
/// came (a terminated backend says why), else libpq's message.
[[noreturn]] void lost(ConnState& s, const std::string& sql, const PGresult* report) {
  ErrorFields f;
  if (report) {
    f = fields_of(report, sql);
  } else {
    f.message = s.conn ? trimmed(PQerrorMessage(s.conn)) : "the connection is closed";
    f.query = sql;
  }
  s.close();
  s.lost = true;
  throw ConnectionLost(std::move(f));
}

/// Throws for a PQsend* that failed: ConnectionLost if the connection is broken.
[[noreturn]] void send_failed(ConnState& s, const std::string& sql) {
  if (PQstatus(s.conn) != CONNECTION_OK) lost(s, sql, nullptr);
  throw Error(client_error(trimmed(PQerrorMessage(s.conn)), sql));
}

/// True if a read would find data now (see the opening comment).
bool input_pending(ConnState& s) {
  if (PQsslInUse(s.conn)) {
    if (auto* ssl = static_cast<SSL*>(PQsslStruct(s.conn, "OpenSSL"));
        ssl && SSL_pending(ssl) > 0) {
      return true;
    }
  }
  pollfd p{PQsocket(s.conn), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

/// Sends what libpq has buffered. False if the connection failed. `consumed` is set if
/// input was read meanwhile (libpq asks for that while a flush waits).
Task<bool> flush(ConnState& s, bool& consumed) {
  for (;;) {
    const std::uint32_t seq = s.reg.ready_seq(Interest::kWrite);
    const int r = PQflush(s.conn);
    if (r == 0) co_return true;
    if (r < 0) co_return false;
    co_await s.reg.wait(Interest::kWrite, seq);
    // The server may be sending to us while we send to it: read, or both sides could fill
    // their buffers and wait for each other.
    if (!PQconsumeInput(s.conn)) co_return false;
    consumed = true;
  }
}

/// Reads until libpq holds a whole result (PQisBusy is false). False if the connection
/// failed. With `edge_since`, first waits for a read edge after it (see the opening comment).
Task<bool> until_ready(ConnState& s, std::optional<std::uint32_t> edge_since) {
  if (edge_since) co_await s.reg.wait(Interest::kRead, *edge_since);
  while (PQisBusy(s.conn)) {
    const std::uint32_t seq = s.reg.ready_seq(Interest::kRead);
    if (!PQconsumeInput(s.conn)) co_return false;
    if (!PQisBusy(s.conn)) break;
    if (input_pending(s)) continue;
    co_await s.reg.wait(Interest::kRead, seq);
  }
  co_return true;
}

/// Sends the cancel request from the blocking pool. If it fails, the query just runs to its
/// end (or the next request stops it).
Task<void> send_cancel(ConnState& s) {
  PGcancel* cancel = s.cancel;
  co_await to_thread([cancel] {
    char err[256];
    return PQcancel(cancel, err, sizeof err);
  });
}

/// After a cancellation: finish sending, cancel, drop every result (see the opening comment).
/// The server ignores a cancel request that comes while its backend still reads the query,
/// so while the query has not ended the request is sent again, less and less often.
Task<void> cancel_and_drain(ConnState& s) {
  bool consumed = false;
  if (!co_await flush(s, consumed)) throw std::runtime_error("flush failed");
  std::chrono::milliseconds resend_after = kFirstResend;
  for (;;) {
    if (!PQisBusy(s.conn)) {
      ResultPtr r(PQgetResult(s.conn));
      if (!r) break;
      continue;
    }
    co_await send_cancel(s);
    try {
      if (!co_await wait_for(until_ready(s, std::nullopt), resend_after)) {
        throw std::runtime_error("read failed");
      }
    } catch (const TimeoutError&) {
      resend_after = std::min(resend_after * 2, kLastResend);
    }
  }
  if (PQstatus(s.conn) != CONNECTION_OK) throw std::runtime_error("connection failed");
}

Task<void> abandon(ConnState& s) {
  bool ok = false;
  try {
    co_await wait_for(cancel_and_drain(s), kCancelBound);
    ok = true;
  } catch (...) {
    // closed below: its state is unknown
  }
  if (!ok) {
    s.close();
    s.lost = true;
  }
}

/// Runs the query libpq was just given (sent, or partly sent); its last result. Throws
/// pg::Error for the server's error, ConnectionLost, or the task's CancelledError once the
/// query has been cancelled and drained.
Task<Result> finish(ConnState& s, const std::string& sql, std::uint32_t read_seq) {
  std::exception_ptr cancelled;
  ResultPtr last, error;
  bool failed = false;
  try {
    bool consumed = false;
    if (!co_await flush(s, consumed)) {
      failed = true;
    } else if (!co_await until_ready(s, consumed ? std::nullopt : std::optional(read_seq))) {
      failed = true;
    }
    while (!failed) {
      ResultPtr r(PQgetResult(s.conn));
      if (!r) break;
      const ExecStatusType st = PQresultStatus(r.get());
      if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
        if (!error) error = std::move(r);
      } else {
        last = std::move(r);
      }
      if (!co_await until_ready(s, std::nullopt)) failed = true;
    }
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    // In a task of its own: the bound's timeout scope, if it fired here, would overwrite
    // this task's record of which scope cancelled it, and an enclosing wait_for would then
    // raise CancelledError instead of its TimeoutError.
    co_await shield(spawn(abandon(s), "weft::pg cancel"));
    std::rethrow_exception(cancelled);
  }
  if (failed) {
    // libpq reports what it had read before the failure (a terminated backend's FATAL).
    // PQgetResult would block on a connection still busy: only a broken or idle one.
    while (PQstatus(s.conn) != CONNECTION_OK || !PQisBusy(s.conn)) {
      ResultPtr r(PQgetResult(s.conn));
      if (!r) break;
      if (!error && PQresultErrorField(r.get(), PG_DIAG_SQLSTATE)) error = std::move(r);
    }
    lost(s, sql, error.get());
  }
  if (PQstatus(s.conn) != CONNECTION_OK) lost(s, sql, error.get());
  if (error) throw Error(fields_of(error.get(), sql));
  co_return Result(last.release());
}

/// Marks the connection busy for one query; throws if it is closed, lost or busy.
class QueryScope {
 public:
  QueryScope(ConnState* s, const char* what) {
    if (!s || (!s->conn && !s->lost)) {
      throw UsageError(std::string("weft::pg::Connection::") + what + ": the connection is closed");
    }
    if (s->lost) {
      throw ConnectionLost(client_error("the connection was lost before", ""));
    }
    // Acquire: the previous query's writes to the libpq state happen-before this one's.
    if (s->busy.exchange(true, std::memory_order_acquire)) {
      throw UsageError(std::string("weft::pg::Connection::") + what +
                       ": the connection is running another query (one at a time; a "
                       "pg::Pool shares connections between tasks)");
    }
    s_ = s;
  }
  QueryScope(const QueryScope&) = delete;
  QueryScope& operator=(const QueryScope&) = delete;
  // Release: pairs with the next query's acquire.
  ~QueryScope() { s_->busy.store(false, std::memory_order_release); }

 private:
  ConnState* s_ = nullptr;
};

}  // namespace

Connection::Connection() noexcept = default;
Connection::Connection(std::unique_ptr<detail::ConnState> s) noexcept : s_(std::move(s)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

void Connection::close() noexcept {
  if (s_) s_->close();
}

bool Connection::is_alive() noexcept {
  if (!is_open() || s_->busy.load(std::memory_order_acquire)) return false;
  bool ok = PQstatus(s_->conn) == CONNECTION_OK;
  // Whatever the server sent while the connection sat idle: notices, notifications, or the
  // error and end of stream of a backend that was terminated.
  if (ok && input_pending(*s_))
    ok = PQconsumeInput(s_->conn) && PQstatus(s_->conn) == CONNECTION_OK;
  if (!ok) {
    s_->close();
    s_->lost = true;
  }
  return ok;
}

bool Connection::is_open() const noexcept {
  return s_ && s_->conn;
}

pg_conn* Connection::native() const noexcept {
  return s_ ? s_->conn : nullptr;
}

int Connection::backend_pid() const noexcept {
  return is_open() ? PQbackendPID(s_->conn) : 0;
}

TransactionStatus Connection::transaction_status() const noexcept {
  if (!is_open()) return TransactionStatus::kUnknown;
  switch (PQtransactionStatus(s_->conn)) {
    case PQTRANS_IDLE:
      return TransactionStatus::kIdle;
    case PQTRANS_ACTIVE:
      return TransactionStatus::kActive;
    case PQTRANS_INTRANS:
      return TransactionStatus::kInTransaction;
    case PQTRANS_INERROR:
      return TransactionStatus::kFailed;
    default:
      return TransactionStatus::kUnknown;
  }
}

namespace {

/// Sends `sql` by the simple protocol and waits for its end; its last result.
Task<Result> run_simple(ConnState& s, const std::string& sql) {
  const std::uint32_t read_seq = s.reg.ready_seq(Interest::kRead);
  if (!PQsendQuery(s.conn, sql.c_str())) send_failed(s, sql);
  co_return co_await finish(s, sql, read_seq);
}

/// Deallocates the statements the cache let go. Only outside a transaction block: a
/// statement the session dropped already (DISCARD ALL) makes DEALLOCATE fail, which must not
/// abort the caller's transaction; inside one they wait for a later query.
Task<void> close_evicted(ConnState& s) {
  std::vector<std::string>& names = s.statements.to_close();
  if (names.empty() || PQtransactionStatus(s.conn) != PQTRANS_IDLE) co_return;
  std::string sql;
  for (const std::string& n : names) sql += "DEALLOCATE " + n + ";";
  names.clear();
  try {
    co_await run_simple(s, sql);
  } catch (const ConnectionLost&) {
    throw;
  } catch (const Error&) {
    // already gone: nothing to free
  }
}

/// True for the errors that say a cached statement is no longer valid on the server.
bool stale_statement(const Error& e) {
  return e.sqlstate() == "26000" ||  // invalid_sql_statement_name: DEALLOCATE ALL, DISCARD
         (e.sqlstate() == "0A000" && e.message().find("cached plan") != std::string::npos);
}

}  // namespace

Task<Result> Connection::query(std::string sql, Params params) {
  ConnState* s = s_.get();
  QueryScope scope(s, "query");
  const std::size_t n = params.size();
  std::vector<const char*> values(n);
  std::vector<int> lengths(n), formats(n, 1);
  for (std::size_t i = 0; i < n; ++i) {
    values[i] = params.nulls()[i] ? nullptr : params.values()[i].data();
    lengths[i] = static_cast<int>(params.values()[i].size());
  }
  if (!s->statements.caches(sql)) {
    const std::uint32_t read_seq = s->reg.ready_seq(Interest::kRead);
    if (!PQsendQueryParams(s->conn, sql.c_str(), static_cast<int>(n), params.types().data(),
                           values.data(), lengths.data(), formats.data(), /*resultFormat=*/1)) {
      send_failed(*s, sql);
    }
    co_return co_await finish(*s, sql, read_seq);
  }

  co_await close_evicted(*s);
  const std::string key = detail::StatementCache::key(sql, params.types());
  // A second attempt only after a stale statement outside a transaction block (re-prepared,
  // as asyncpg does); in a block, the error has aborted the transaction anyway.
  for (int attempt = 0;; ++attempt) {
    std::optional<std::string> name = s->statements.find(key);
    if (!name) {
      // A first run takes two round trips, Parse then Bind/Execute, as asyncpg's does. A
      // cancelled Parse may leave its statement on the server, under a name never reused.
      name = s->statements.next_name();
      const std::uint32_t read_seq = s->reg.ready_seq(Interest::kRead);
      if (!PQsendPrepare(s->conn, name->c_str(), sql.c_str(), static_cast<int>(n),
                         params.types().data())) {
        send_failed(*s, sql);
      }
      co_await finish(*s, sql, read_seq);
      s->statements.insert(key, *name);
    }
    const std::uint32_t read_seq = s->reg.ready_seq(Interest::kRead);
    if (!PQsendQueryPrepared(s->conn, name->c_str(), static_cast<int>(n), values.data(),
                             lengths.data(), formats.data(), /*resultFormat=*/1)) {
      send_failed(*s, sql);
    }
    bool retry = false;
    try {
      co_return co_await finish(*s, sql, read_seq);
    } catch (const Error& e) {
      if (!stale_statement(e)) throw;
      s->statements.invalidate(key);
      if (attempt > 0 || PQtransactionStatus(s->conn) != PQTRANS_IDLE) throw;
      retry = true;
    }
    if (retry) co_await close_evicted(*s);
  }
}

std::size_t Connection::cached_statements() const noexcept {
  return s_ ? s_->statements.size() : 0;
}

Task<std::uint64_t> Connection::execute_simple(std::string sql) {
  ConnState* s = s_.get();
  QueryScope scope(s, "execute");
  Result r = co_await run_simple(*s, sql);
  co_return r.affected_rows();
}

Task<std::uint64_t> Connection::execute_params(Connection* self, std::string sql, Params p) {
  Result r = co_await self->query(std::move(sql), std::move(p));
  co_return r.affected_rows();
}

Task<std::optional<Row>> Connection::fetchrow_params(Connection* self, std::string sql, Params p) {
  Result r = co_await self->query(std::move(sql), std::move(p));
  if (r.empty()) co_return std::nullopt;
  co_return r[0];
}

void Connection::no_row_error(const std::string& sql, const char* cpp_type) {
  throw TypeError(std::string("weft::pg::Connection::fetchval: the query returned no row, and ") +
                  cpp_type + " cannot hold none (read it as std::optional<" + cpp_type +
                  ">)\nQUERY: " + sql);
}

}  // namespace weft::pg
