// One exchange with the server on libpq's non-blocking API: send, flush and read with
// reactor waits, cancel and drain when the task is cancelled. Every operation of a
// pg::Connection (queries, COPY, LISTEN, pipelines) is built on these steps.
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
#include "exchange.hpp"

#include <libpq-fe.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "weft/runtime/blocking.hpp"
#include "weft/runtime/cancel.hpp"
#include "weft/runtime/join_handle.hpp"

namespace weft::pg::detail {
namespace {

using namespace std::chrono_literals;

// How long a cancelled query may take to end after the cancel request before the connection
// is given up (closed): long enough for a loaded server, short enough that a lost server
// does not hold the cancelled task.
constexpr auto kCancelBound = 10s;
// The first and the longest interval between cancel requests for one query (see
// cancel_and_drain).
constexpr std::chrono::milliseconds kFirstResend = 50ms;
constexpr std::chrono::milliseconds kLastResend = 1s;

std::string field(const PGresult* r, int code) {
  const char* f = PQresultErrorField(r, code);
  return f ? f : "";
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

}  // namespace

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

/// Runs the query libpq was just given (sent, or partly sent); its last result. Throws
/// pg::Error for the server's error, ConnectionLost, or the task's CancelledError once the
/// query has been cancelled and drained.
Task<Result> finish(ConnState& s, const std::string& sql, std::uint32_t read_seq) {
  std::exception_ptr cancelled;
  ResultPtr last, error;
  bool failed = false;
  try {
    // The steps that usually have nothing to wait for (a query that fits the socket's
    // buffer, a response read whole) are tried here first: a coroutine each costs a frame.
    bool consumed = false;
    const int flushed = PQflush(s.conn);
    if (flushed < 0 || (flushed > 0 && !co_await flush(s, consumed))) {
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
      if (PQisBusy(s.conn) && !co_await until_ready(s, std::nullopt)) failed = true;
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

}  // namespace weft::pg::detail
