// COPY FROM STDIN and COPY TO STDOUT (copy.hpp), on the exchange steps of exchange.hpp.
//
// ## libpq's COPY states
// While a COPY runs, libpq is in COPY_IN or COPY_OUT state: PQisBusy is false and
// PQgetResult returns a PGRES_COPY_IN/OUT result again and again without leaving the state,
// so neither finish() nor abandon() (which read results until there are none) may run
// until the COPY has ended: COPY_IN ends with PQputCopyEnd, COPY_OUT when PQgetCopyData
// returns -1 (the server's CopyDone or error). drain_copy() takes the connection from any
// of these states to idle; finish() runs once libpq is busy again.
//
// ## Reading COPY data
// As for results (exchange.cpp's opening comment), reads are edge-triggered: when
// PQgetCopyData(async) has no whole message, a sequence number is taken, PQconsumeInput
// reads, and only if that still gives no message and nothing is pending is the edge after
// the sequence number awaited.
//
// ## The read sequence number of a COPY
// The one taken before the COPY command was sent is kept and passed to finish(): an edge
// after it has certainly come (the server answered the command), so finish() does not wait
// for an edge that its data may have brought long before.
#include "weft/io/pg/copy.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "conn_state.hpp"
#include "exchange.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/cancel.hpp"
#include "weft/runtime/join_handle.hpp"

namespace weft::pg {

using detail::ConnState;
using detail::ResultPtr;

namespace {

using namespace std::chrono_literals;

// How long an aborted or cancelled COPY may take to end before the connection is given up
// (closed), as exchange.cpp's bound for a cancelled query.
constexpr auto kDrainBound = 10s;
// The first and longest interval between cancel requests while a cancelled COPY's end is
// awaited (the server drops a request that comes before the backend runs the command).
constexpr std::chrono::milliseconds kFirstResend = 50ms;
constexpr std::chrono::milliseconds kLastResend = 1s;

/// Sends the cancel request from the blocking pool (PQcancel blocks).
Task<void> send_cancel(ConnState& s) {
  PGcancel* cancel = s.cancel;
  co_await to_thread([cancel] {
    char err[256];
    return PQcancel(cancel, err, sizeof err);
  });
}

/// Waits for input: an edge after `seq`, or, with `cancel`, at most `resend`. False if
/// that time ran out (`resend` is then doubled, up to kLastResend).
Task<bool> wait_input(ConnState& s, std::uint32_t seq, bool cancel,
                      std::chrono::milliseconds& resend) {
  if (!cancel) {
    co_await s.reg.wait(Interest::kRead, seq);
    co_return true;
  }
  bool came = true;
  try {
    co_await wait_for(s.reg.wait(Interest::kRead, seq), resend);
  } catch (const TimeoutError&) {
    resend = std::min(resend * 2, kLastResend);
    came = false;
  }
  co_return came;
}

/// Takes the connection from any COPY state (or a busy one) to idle, dropping every result
/// and all COPY data; a COPY FROM STDIN is failed with `reason`. With `cancel`, the cancel
/// request is sent first and again while the server goes on. Throws if the connection fails.
Task<void> drain_copy(ConnState& s, bool cancel, std::string reason) {
  bool consumed = false;
  if (!co_await detail::flush(s, consumed)) throw std::runtime_error("flush failed");
  std::chrono::milliseconds resend = kFirstResend;
  if (cancel) co_await send_cancel(s);
  bool just_read = false;
  std::uint32_t seq = 0;
  for (;;) {
    if (!PQisBusy(s.conn)) {
      ResultPtr r(PQgetResult(s.conn));
      if (!r) break;
      const ExecStatusType st = PQresultStatus(r.get());
      if (st == PGRES_COPY_IN) {
        if (PQputCopyEnd(s.conn, reason.c_str()) < 0) throw std::runtime_error("copy end failed");
        if (!co_await detail::flush(s, consumed)) throw std::runtime_error("flush failed");
        continue;
      }
      if (st != PGRES_COPY_OUT) continue;
      char* data = nullptr;
      int n = 0;
      while ((n = PQgetCopyData(s.conn, &data, 1)) > 0) {
        PQfreemem(data);
        just_read = false;
      }
      if (n == -2) throw std::runtime_error("copy data failed");
      if (n == -1) continue;  // busy now, until the command's result
    }
    // Nothing more to take from libpq's buffer: read, and wait if nothing came.
    if (!just_read) {
      seq = s.reg.ready_seq(Interest::kRead);
      if (!PQconsumeInput(s.conn)) throw std::runtime_error("read failed");
      just_read = true;
      continue;
    }
    just_read = false;
    if (detail::input_pending(s)) continue;
    // No answer yet: the request may have come before the backend ran the command.
    if (!co_await wait_input(s, seq, cancel, resend)) co_await send_cancel(s);
  }
  if (PQstatus(s.conn) != CONNECTION_OK) throw std::runtime_error("connection failed");
}

/// drain_copy, bounded and shielded from cancellation; closes the connection (as lost) if
/// it fails. Never throws. Run as a task of its own (as exchange.cpp's abandon is, and for
/// the same reason: a timeout scope's record of the cancelled task).
Task<void> abandon_copy(ConnState& s, bool cancel, std::string reason) {
  bool ok = false;
  try {
    co_await wait_for(drain_copy(s, cancel, std::move(reason)), kDrainBound);
    ok = true;
  } catch (...) {
    // closed below: its state is unknown
  }
  if (!ok) {
    s.close();
    s.lost = true;
  }
}

/// Closes the connection as lost with the server's report if one is in libpq's buffer (a
/// terminated backend's FATAL), else libpq's message; throws ConnectionLost.
[[noreturn]] void copy_lost(ConnState& s, const std::string& sql) {
  ResultPtr error;
  while (PQstatus(s.conn) != CONNECTION_OK || !PQisBusy(s.conn)) {
    ResultPtr r(PQgetResult(s.conn));
    if (!r) break;
    const ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) break;  // a live COPY: no report
    if (!error && PQresultErrorField(r.get(), PG_DIAG_SQLSTATE)) error = std::move(r);
  }
  detail::lost(s, sql, error.get());
}

/// Sends `sql` and waits until libpq is in the COPY state `want` (the server's answer to
/// the command). Throws pg::Error for the server's refusal, UsageError for a statement that
/// is not a COPY in that direction (its results read first), ConnectionLost, or, once the
/// command has been cancelled and drained, CancelledError. `seq`: taken before the send.
Task<void> start_copy(ConnState& s, const std::string& sql, std::uint32_t seq, ExecStatusType want,
                      const char* what) {
  std::exception_ptr cancelled;
  std::optional<Error> refused;
  bool failed = false, started = false, other_copy = false;
  try {
    bool consumed = false;
    if (!co_await detail::flush(s, consumed)) {
      failed = true;
    } else if (!co_await detail::until_ready(s, consumed ? std::nullopt : std::optional(seq))) {
      failed = true;
    }
    // Results before the COPY's (a string of several statements), until the COPY starts or
    // the statements end.
    while (!failed) {
      ResultPtr r(PQgetResult(s.conn));
      if (!r) break;
      const ExecStatusType st = PQresultStatus(r.get());
      if (st == want) {
        started = true;
        break;
      }
      if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
        other_copy = true;
        break;
      }
      if (!refused &&
          (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE)) {
        refused.emplace(detail::fields_of(r.get(), sql));
      }
      if (!co_await detail::until_ready(s, std::nullopt)) failed = true;
    }
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  }
  if (cancelled || other_copy) {
    co_await shield(spawn(abandon_copy(s, true, "canceled by the client"), "weft::pg cancel"));
    if (cancelled) std::rethrow_exception(cancelled);
  }
  if (failed) copy_lost(s, sql);
  if (started) co_return;
  if (!s.conn) detail::lost(s, sql, nullptr);  // abandon_copy gave up on it
  if (PQstatus(s.conn) != CONNECTION_OK) detail::lost(s, sql, nullptr);
  if (refused) throw *refused;
  throw UsageError(std::string("weft::pg::Connection::") + what + ": the statement is not a COPY " +
                   (want == PGRES_COPY_IN ? "FROM STDIN" : "TO STDOUT") + ": " + sql);
}

}  // namespace

std::string quote_identifier(std::string_view name) {
  if (name.empty()) throw std::invalid_argument("weft::pg::quote_identifier: an empty name");
  std::string out = "\"";
  for (char c : name) {
    if (c == '\0') {
      throw std::invalid_argument("weft::pg::quote_identifier: a NUL in the name \"" +
                                  std::string(name.data()) + "...\"");
    }
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

namespace detail {

std::string copy_records_sql(std::string_view schema, std::string_view table,
                             const std::vector<std::string>& columns) {
  std::string sql = "COPY ";
  if (!schema.empty()) sql += quote_identifier(schema) + ".";
  sql += quote_identifier(table);
  if (!columns.empty()) {
    sql += " (";
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (i) sql += ", ";
      sql += quote_identifier(columns[i]);
    }
    sql += ")";
  }
  sql += " FROM STDIN (FORMAT binary)";
  return sql;
}

void copy_value_too_long(std::size_t size) {
  throw std::length_error("weft::pg: a COPY value of " + std::to_string(size) +
                          " bytes (at most 2^31-1)");
}

void copy_null_error(int col, const char* cpp_type) {
  throw TypeError("weft::pg: column " + std::to_string(col) + " of the COPY is NULL, which " +
                  "cannot be read as " + cpp_type + " (read a std::optional<" + cpp_type + ">)");
}

void copy_type_error(int col, int len, const char* cpp_type) {
  throw TypeError("weft::pg: column " + std::to_string(col) + " of the COPY holds a value of " +
                  std::to_string(len) + " bytes, which cannot be read as " + cpp_type);
}

void copy_field_count_error(int got, int want) {
  throw TypeError("weft::pg: the COPY's rows have " + std::to_string(got) + " columns, read as " +
                  std::to_string(want));
}

void copy_format_error(const char* what) {
  throw Error(client_error(std::string("malformed binary COPY data: ") + what, ""));
}

std::size_t copy_row_end(const std::string& buf, std::size_t pos, int want) {
  const auto n = static_cast<std::int16_t>(get_be(buf.data() + pos, 2));
  if (n != want) copy_field_count_error(n, want);
  std::size_t q = pos + 2;
  for (int i = 0; i < n; ++i) {
    if (buf.size() - q < 4) return 0;
    const auto len = static_cast<std::int32_t>(get_be(buf.data() + q, 4));
    q += 4;
    if (len > 0) {
      if (buf.size() - q < static_cast<std::size_t>(len)) return 0;
      q += static_cast<std::size_t>(len);
    }
  }
  return q;
}

CopyIn::CopyIn(Connection& c, std::string sql, const char* what)
    : s_(CopyAccess::state(c)),
      scope_(std::make_unique<QueryScope>(s_, what)),
      sql_(std::move(sql)) {
  buf_.reserve(kCopyBatch + kCopyBatch / 4);
}

CopyIn::~CopyIn() = default;

Task<void> CopyIn::start() {
  seq_ = s_->reg.ready_seq(Interest::kRead);
  if (!PQsendQuery(s_->conn, sql_.c_str())) send_failed(*s_, sql_);
  co_await start_copy(*s_, sql_, seq_, PGRES_COPY_IN, "copy_in");
}

Task<void> CopyIn::put(const char* data, std::size_t size) {
  while (size > 0) {
    // libpq takes at most an int at once.
    const int n = static_cast<int>(std::min<std::size_t>(size, 1 << 30));
    const int r = PQputCopyData(s_->conn, data, n);
    if (r < 0) {
      if (PQstatus(s_->conn) != CONNECTION_OK) copy_lost(*s_, sql_);
      throw Error(client_error(trimmed(PQerrorMessage(s_->conn)), sql_));
    }
    bool consumed = false;
    // Whether r is 1 (queued) or 0 (libpq's buffer full): send it all before going on, so
    // that encoding waits for the socket and memory stays at one batch.
    if (!co_await flush(*s_, consumed)) copy_lost(*s_, sql_);
    if (r == 0) continue;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  // The server sends nothing during a COPY FROM STDIN but notices and, when it failed or
  // ends, its error: reading what came finds a connection that dropped (a terminated
  // backend) now rather than after the source's last record.
  if (input_pending(*s_) && !PQconsumeInput(s_->conn)) copy_lost(*s_, sql_);
}

Task<void> CopyIn::send() {
  if (buf_.empty()) co_return;
  co_await put(buf_.data(), buf_.size());
  buf_.clear();
}

Task<void> CopyIn::send(std::string_view data) {
  co_await send();
  co_await put(data.data(), data.size());
}

Task<std::uint64_t> CopyIn::end() {
  if (PQputCopyEnd(s_->conn, nullptr) < 0) copy_lost(*s_, sql_);
  Result r = co_await finish(*s_, sql_, seq_);
  co_return r.affected_rows();
}

Task<void> CopyIn::abort(std::exception_ptr why) {
  bool lost_already = !s_->conn;
  try {
    std::rethrow_exception(why);
  } catch (const ConnectionLost&) {
    lost_already = true;
  } catch (...) {
  }
  if (lost_already) std::rethrow_exception(why);
  std::string reason = "canceled by the client";
  try {
    std::rethrow_exception(why);
  } catch (const CancelledError&) {
  } catch (const std::exception& e) {
    reason = std::string("the client's record source failed: ") + e.what();
  } catch (...) {
    reason = "the client's record source failed";
  }
  // CopyFail ends the COPY: the server rolls it back and answers with an error, which the
  // drain drops. Shielded: a second cancellation must not leave the connection mid-COPY.
  co_await shield(spawn(abandon_copy(*s_, false, std::move(reason)), "weft::pg copy abort"));
  std::rethrow_exception(why);
}

namespace {

/// Closes the connection if the COPY TO STDOUT is left in the middle (the generator
/// destroyed, or an error that left libpq mid-COPY).
struct CloseUnlessDone {
  ConnState* s;
  bool done = false;
  ~CloseUnlessDone() {
    if (!done) s->close();
  }
};

}  // namespace

AsyncGenerator<std::string> copy_out_chunks(ConnState* s, std::string sql, const bool* stop) {
  QueryScope scope(s, "copy_out");
  const std::uint32_t seq = s->reg.ready_seq(Interest::kRead);
  if (!PQsendQuery(s->conn, sql.c_str())) send_failed(*s, sql);
  co_await start_copy(*s, sql, seq, PGRES_COPY_OUT, "copy_out");
  CloseUnlessDone guard{s};
  std::string chunk;
  std::exception_ptr cancelled;
  bool just_read = false, eof = false;
  std::uint32_t read_seq = 0;
  for (;;) {
    char* data = nullptr;
    const int n = PQgetCopyData(s->conn, &data, 1);
    if (n > 0) {
      chunk.append(data, static_cast<std::size_t>(n));
      PQfreemem(data);
      just_read = false;
      if (chunk.size() >= kCopyBatch) {
        co_yield std::move(chunk);
        chunk.clear();
        if (stop && *stop) break;
      }
      continue;
    }
    if (n == -1) break;  // the end, or the server's error: busy until the result
    if (n == -2) {
      if (PQstatus(s->conn) != CONNECTION_OK) copy_lost(*s, sql);
      throw Error(client_error(trimmed(PQerrorMessage(s->conn)), sql));  // the guard closes
    }
    // No whole message in libpq's buffer: hand on what there is, then read.
    if (!chunk.empty()) {
      co_yield std::move(chunk);
      chunk.clear();
      if (stop && *stop) break;
      continue;
    }
    if (eof) copy_lost(*s, sql);
    if (!just_read) {
      read_seq = s->reg.ready_seq(Interest::kRead);
      // A failure (the server closed the connection) leaves what was read before it, a
      // terminated backend's report among it, to be taken out first.
      if (!PQconsumeInput(s->conn)) eof = true;
      just_read = true;
      continue;
    }
    just_read = false;
    if (input_pending(*s)) continue;
    try {
      co_await s->reg.wait(Interest::kRead, read_seq);
    } catch (const CancelledError&) {
      cancelled = std::current_exception();
    }
    if (cancelled) {
      co_await shield(spawn(abandon_copy(*s, true, "canceled by the client"), "weft::pg cancel"));
      guard.done = true;  // idle, or closed by abandon_copy
      std::rethrow_exception(cancelled);
    }
  }
  if (stop && *stop) {
    co_await shield(spawn(abandon_copy(*s, true, "canceled by the client"), "weft::pg cancel"));
    guard.done = true;  // idle, or closed by abandon_copy
    co_return;
  }
  guard.done = true;  // busy: finish() ends it, cancelled or not
  co_await finish(*s, sql, seq);
  if (!chunk.empty()) co_yield std::move(chunk);
}

}  // namespace detail

AsyncGenerator<std::string> Connection::copy_out(std::string_view sql) {
  return detail::copy_out_chunks(s_.get(), std::string(sql), nullptr);
}

}  // namespace weft::pg
