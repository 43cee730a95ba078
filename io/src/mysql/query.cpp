// Statements: text queries (mysql_real_query, rows read one by one with mysql_use_result)
// and prepared statements (the binary protocol: prepare once, bind, execute, fetch row by
// row), each library call through detail::complete.
//
// Rows are read one at a time, never buffered whole by the library, so a result's size is
// checked as it arrives (ConnectOptions::max_result_bytes) and each value is copied once,
// into the Result's own buffer.
#include <mysql.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

#include "conn_state.hpp"
#include "weft/io/mysql/connection.hpp"

namespace weft::mysql {
namespace detail {
namespace {

/// Client error numbers (errmsg.h) and server ones that mean the session is gone.
bool is_loss(unsigned code) {
  switch (code) {
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2055:  // CR_SERVER_LOST_EXTENDED
    case 1927:  // ER_CONNECTION_KILLED
    case 1053:  // ER_SERVER_SHUTDOWN
      return true;
    default:
      return false;
  }
}

ErrorFields fields(unsigned code, const char* sqlstate, const char* message,
                   const std::string& sql) {
  ErrorFields f;
  f.code = code;
  f.sqlstate = sqlstate ? sqlstate : "";
  f.message = message ? message : "";
  f.query = sql;
  return f;
}

/// Throws what a failed call reported: ConnectionLost (closing the connection) if the
/// session is gone (or the library closed its socket), else Error.
[[noreturn]] void raise(ConnState& s, ErrorFields f) {
  if (f.code == 1213) {  // ER_LOCK_DEADLOCK: the whole transaction was rolled back
    s.status_stale = true;
    s.transaction_aborted = true;
  }
  if (is_loss(f.code) || mysql_get_socket(s.m) < 0) {
    s.lost = true;
    s.lost_error = f;
    s.close();
    throw ConnectionLost(std::move(f));
  }
  throw Error(std::move(f));
}

[[noreturn]] void fail(ConnState& s, const std::string& sql) {
  raise(s, fields(mysql_errno(s.m), mysql_sqlstate(s.m), mysql_error(s.m), sql));
}

[[noreturn]] void fail(ConnState& s, MYSQL_STMT* stmt, const std::string& sql) {
  raise(s, fields(mysql_stmt_errno(stmt), mysql_stmt_sqlstate(stmt), mysql_stmt_error(stmt), sql));
}

/// A result past max_result_bytes: the rest of it cannot be skipped without reading it, so
/// the connection is closed.
[[noreturn]] void too_large(ConnState& s, const std::string& sql) {
  const std::string message = "the result exceeds ConnectOptions::max_result_bytes (" +
                              std::to_string(s.max_result_bytes) +
                              " bytes); the connection is closed";
  ErrorFields f = fields(2020, "HY000", message.c_str(), sql);
  s.lost = true;
  s.lost_error = f;
  s.close();
  throw Error(std::move(f));
}

/// The state of a statement about to run: throws if the connection cannot take one, else
/// marks it busy.
ConnState& begin(ConnState* p) {
  if (!p || !p->m) {
    if (p && p->lost) throw ConnectionLost(p->lost_error);
    throw UsageError("weft::mysql: the connection is closed");
  }
  if (p->busy.exchange(true, std::memory_order_acquire)) {
    throw UsageError(
        "weft::mysql: a statement is already running on this connection (one at a time; a "
        "pool shares connections between tasks)");
  }
  return *p;
}
ConnState& begin(std::unique_ptr<ConnState>& p) {
  return begin(p.get());
}

/// Clears the busy flag when the statement's frame ends, however it ends.
class Busy {
 public:
  explicit Busy(ConnState& s) noexcept : s_(&s) {}
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;
  ~Busy() { s_->busy.store(false, std::memory_order_release); }

 private:
  ConnState* s_;
};

Column column_of(const MYSQL_FIELD& f) {
  Column c;
  c.name.assign(f.name, f.name_length);
  c.table.assign(f.table, f.table_length);
  c.type = f.type;
  c.flags = f.flags;
  c.charset = f.charsetnr;
  c.decimals = f.decimals;
  return c;
}

std::size_t result_limit(const ConnState& s) {
  return std::min<std::size_t>(s.max_result_bytes, std::numeric_limits<std::uint32_t>::max());
}

/// Appends one value of `n` bytes to `d`; false if the result would pass `limit`.
bool append(ResultData& d, const char* p, std::size_t n, std::size_t limit) {
  if (n > limit - std::min(limit, d.bytes.size())) return false;
  Cell c;
  c.offset = static_cast<std::uint32_t>(d.bytes.size());
  c.length = static_cast<std::uint32_t>(n);
  d.bytes.append(p, n);
  d.cells.push_back(c);
  return true;
}

void append_null(ResultData& d) {
  Cell c;
  c.null = true;
  d.cells.push_back(c);
}

/// Appends the row mysql_stmt_fetch just filled in `b` to `d`; false past `limit`.
bool append_row(MYSQL_STMT* stmt, RowBuffers& b, ResultData& d, std::size_t limit) {
  for (std::size_t i = 0; i < b.binds.size(); ++i) {
    if (b.nulls[i]) {
      append_null(d);
      continue;
    }
    switch (b.slots[i]) {
      case Slot::kNumber:
        if (!append(d, reinterpret_cast<const char*>(&b.numbers[i]), 8, limit)) return false;
        break;
      case Slot::kTemporal: {
        const MYSQL_TIME& t = b.times[i];
        DateTime v;
        v.year = static_cast<int>(t.year);
        v.month = t.month;
        v.day = t.day;
        v.hour = t.hour;
        v.minute = t.minute;
        v.second = t.second;
        v.microsecond = static_cast<unsigned>(t.second_part);
        if (!append(d, reinterpret_cast<const char*>(&v), sizeof v, limit)) return false;
        break;
      }
      case Slot::kTime: {
        const MYSQL_TIME& t = b.times[i];
        std::int64_t us =
            ((static_cast<std::int64_t>(t.day) * 24 + t.hour) * 60 + t.minute) * 60 + t.second;
        us = us * 1'000'000 + static_cast<std::int64_t>(t.second_part);
        if (t.neg) us = -us;
        if (!append(d, reinterpret_cast<const char*>(&us), sizeof us, limit)) return false;
        break;
      }
      case Slot::kBytes: {
        const unsigned long n = b.lengths[i];
        if (n <= kInline) {
          if (!append(d, b.inline_bytes.data() + i * kInline, n, limit)) return false;
          break;
        }
        // Longer than the row buffer: reserve its place, then fetch it there.
        if (n > limit - std::min(limit, d.bytes.size())) return false;
        const std::size_t at = d.bytes.size();
        d.bytes.resize(at + n);
        MYSQL_BIND whole{};
        unsigned long got = 0;
        whole.buffer_type = MYSQL_TYPE_BLOB;
        whole.buffer = d.bytes.data() + at;
        whole.buffer_length = n;
        whole.length = &got;
        if (mysql_stmt_fetch_column(stmt, &whole, static_cast<unsigned>(i), 0) != 0) {
          throw std::runtime_error("weft::mysql: mysql_stmt_fetch_column failed: " +
                                   std::string(mysql_stmt_error(stmt)));
        }
        Cell c;
        c.offset = static_cast<std::uint32_t>(at);
        c.length = static_cast<std::uint32_t>(n);
        d.cells.push_back(c);
        break;
      }
    }
  }
  ++d.rows;
  return true;
}

/// Frees a statement that did not reach the cache. Without I/O: one whose prepare failed
/// was never made on the server, and one of a closed connection is detached from it.
struct StmtDeleter {
  void operator()(MYSQL_STMT* st) const noexcept { mysql_stmt_close(st); }
};
using StmtPtr = std::unique_ptr<MYSQL_STMT, StmtDeleter>;

[[noreturn]] void placeholder_mismatch(unsigned expected, std::size_t given,
                                       const std::string& sql) {
  throw UsageError("weft::mysql: the statement has " + std::to_string(expected) +
                   " placeholders and " + std::to_string(given) +
                   " arguments were given\n  query: " + sql);
}

// What a cancelled statement still sends, read and dropped (conn_state.hpp's
// kill_and_finish), so the connection is usable afterwards. Each call in them runs with
// `rest` nullptr: if the bound runs out there, the connection is abandoned.

/// For a call after which nothing of the statement is left to read.
Task<void> nothing_left() {
  co_return;
}

/// The rows left of the text result being read (s.open_result), if `more` (a row was
/// returned: others may follow); then frees it.
Task<void> drain_rows(ConnState& s, bool more) {
  MYSQL_RES* res = s.open_result;
  while (more && s.m) {
    MYSQL_ROW row = nullptr;
    const int st = s.call([&] { return mysql_fetch_row_start(&row, res); });
    if (st != 0) {
      co_await complete(
          s, st, [&](int ev) { return mysql_fetch_row_cont(&row, res, ev); }, nullptr);
    }
    more = row != nullptr;
  }
  if (s.m && s.open_result) {
    s.open_result = nullptr;
    mysql_free_result(res);  // every row read: no I/O
  }
}

/// The result of a text query whose mysql_real_query succeeded (`err` 0), if it has one.
Task<void> drain_query(ConnState& s, int err) {
  if (err != 0 || mysql_field_count(s.m) == 0) co_return;
  s.open_result = mysql_use_result(s.m);
  if (s.open_result) co_await drain_rows(s, true);
}

/// True if `p`'s kept columns and buffers fit the metadata of its last execution: the same
/// number of columns, each of the same type and signedness (what the buffers depend on).
bool same_columns(const Prepared& p) {
  const MYSQL_STMT* stmt = p.stmt;
  if (!p.columns || !p.rows || p.columns->size() != stmt->field_count || !stmt->fields) {
    return false;
  }
  for (unsigned i = 0; i < stmt->field_count; ++i) {
    const Column& c = (*p.columns)[i];
    const MYSQL_FIELD& f = stmt->fields[i];
    if (c.type != f.type || ((c.flags ^ f.flags) & UNSIGNED_FLAG) != 0) return false;
  }
  return true;
}

/// Makes `p`'s columns and row buffers fit its last execution's metadata (read anew the first
/// time and when the server sent other metadata: the table changed) and binds the buffers
/// unless they are bound. False if the library refused (its error is the statement's).
bool bind_rows(Prepared& p) {
  MYSQL_STMT* stmt = p.stmt;
  if (!same_columns(p)) {
    p.rows.reset();
    p.columns.reset();
    MYSQL_RES* meta = mysql_stmt_result_metadata(stmt);
    if (!meta) return false;
    auto cols = std::make_shared<std::vector<Column>>();
    const MYSQL_FIELD* f = mysql_fetch_fields(meta);
    const unsigned n = mysql_num_fields(meta);
    cols->reserve(n);
    for (unsigned i = 0; i < n; ++i) cols->push_back(column_of(f[i]));
    mysql_free_result(meta);
    p.columns = std::move(cols);
    p.rows = std::make_unique<RowBuffers>(*p.columns);
  }
  return stmt->bind_result_done || mysql_stmt_bind_result(stmt, p.rows->binds.data()) == 0;
}

/// The rows left of a prepared statement's result, if `more` (it executed, or a row was
/// fetched): fetched into its own buffers and dropped.
Task<void> drain_statement(ConnState& s, Prepared& p, bool more) {
  MYSQL_STMT* stmt = p.stmt;
  if (!more || mysql_stmt_field_count(stmt) == 0) co_return;
  if (!bind_rows(p)) throw std::runtime_error(mysql_stmt_error(stmt));
  while (s.m) {
    int r = 0;
    const int st = s.call([&] { return mysql_stmt_fetch_start(&r, stmt); });
    if (st != 0) {
      co_await complete(
          s, st, [&](int ev) { return mysql_stmt_fetch_cont(&r, stmt, ev); }, nullptr);
    }
    if (r == 1 || r == MYSQL_NO_DATA) break;
  }
}

/// Closes the statements the cache evicted, on the server (COM_STMT_CLOSE has no reply).
Task<void> close_evicted(ConnState& s) {
  std::vector<std::unique_ptr<Prepared>>& list = s.statements.to_close();
  while (!list.empty()) {
    // Off the list first: the close frees it, also when an abandoned close is run to its end.
    MYSQL_STMT* stmt = list.back()->stmt;
    list.pop_back();
    my_bool r = 0;
    const int st = s.call([&] { return mysql_stmt_close_start(&r, stmt); });
    if (st != 0) {
      co_await complete(
          s, st, [&](int ev) { return mysql_stmt_close_cont(&r, stmt, ev); },
          [] { return nothing_left(); });
    }
    if (r != 0) fail(s, std::string());
  }
}

/// Sends `sql` as a text query. Its rows, if it has any, are then read row by row from the
/// result returned (kept in s.open_result, d.columns set); nullptr for a statement without
/// rows (d then holds its affected rows, insert id and warnings).
Task<MYSQL_RES*> start_text(ConnState& s, const std::string& sql, ResultData& d) {
  MYSQL* m = s.m;
  int err = 0;
  const int st = s.call([&] { return mysql_real_query_start(&err, m, sql.data(), sql.size()); });
  if (st != 0) {
    co_await complete(
        s, st, [&](int ev) { return mysql_real_query_cont(&err, m, ev); },
        [&] { return drain_query(s, err); });
  }
  if (err != 0) fail(s, sql);
  MYSQL_RES* res = mysql_use_result(m);
  if (!res) {
    if (mysql_field_count(m) != 0) fail(s, sql);
    d.affected_rows = mysql_affected_rows(m);
    d.insert_id = mysql_insert_id(m);
    d.warnings = mysql_warning_count(m);
    s.status_stale = false;
    co_return nullptr;
  }
  s.open_result = res;
  const unsigned n = mysql_num_fields(res);
  const MYSQL_FIELD* f = mysql_fetch_fields(res);
  auto cols = std::make_shared<std::vector<Column>>();
  cols->reserve(n);
  for (unsigned i = 0; i < n; ++i) cols->push_back(column_of(f[i]));
  d.columns = std::move(cols);
  co_return res;
}

/// Where a read of rows stops: at the end of the result, or once `rows` rows or `bytes`
/// bytes are in the ResultData (a stream's chunk; the row that crosses `bytes` is kept);
/// `limit` bounds the ResultData's bytes, past which the result is too large (an error
/// that closes the connection).
struct ReadBounds {
  std::size_t rows;
  std::size_t bytes;
  std::size_t limit;
};

/// Reads rows of the text result `res` into `d` (see ReadBounds); true once the result
/// ended (its error, if one ended it, raised; the result freed).
Task<bool> read_text_rows(ConnState& s, MYSQL_RES* res, const std::string& sql, ResultData& d,
                          ReadBounds bounds) {
  MYSQL* m = s.m;
  const unsigned n = mysql_num_fields(res);
  while (d.rows < bounds.rows && d.bytes.size() < bounds.bytes) {
    MYSQL_ROW row = nullptr;
    const int st = s.call([&] { return mysql_fetch_row_start(&row, res); });
    if (st != 0) {
      co_await complete(
          s, st, [&](int ev) { return mysql_fetch_row_cont(&row, res, ev); },
          [&] { return drain_rows(s, row != nullptr); });
    } else if (row && !weft::detail::budget_spend()) {
      co_await yield_point(s, [&] { return drain_rows(s, true); });
    }
    if (!row) {
      // Every row read (or an error ended them): freeing reads nothing more.
      const unsigned code = mysql_errno(m);
      ErrorFields error;
      if (code != 0) error = fields(code, mysql_sqlstate(m), mysql_error(m), sql);
      s.open_result = nullptr;
      mysql_free_result(res);
      if (code != 0) raise(s, std::move(error));
      d.warnings = mysql_warning_count(m);
      s.status_stale = false;
      co_return true;
    }
    const unsigned long* len = mysql_fetch_lengths(res);
    for (unsigned i = 0; i < n; ++i) {
      if (!row[i]) {
        append_null(d);
      } else if (!append(d, row[i], len[i], bounds.limit)) {
        too_large(s, sql);
      }
    }
    ++d.rows;
  }
  co_return false;
}

/// Prepares `sql` (or takes it from the cache) and executes it with `params`. Its rows, if it
/// has any, are then fetched into its bound buffers (d.columns set); for a statement without
/// rows, d holds its affected rows, insert id and warnings.
Task<Prepared*> start_prepared(ConnState& s, const std::string& sql, const Params& params,
                               ResultData& d) {
  MYSQL* m = s.m;
  Prepared* ps = nullptr;
  MYSQL_STMT* stmt = nullptr;
  int st = 0;
  int r = 0;
  for (int attempt = 0;; ++attempt) {
    ps = s.statements.find(sql);
    if (!ps) {
      co_await close_evicted(s);
      StmtPtr fresh(mysql_stmt_init(m));
      if (!fresh) throw std::bad_alloc();
      int pr = 0;
      MYSQL_STMT* p = fresh.get();
      st = s.call([&] { return mysql_stmt_prepare_start(&pr, p, sql.data(), sql.size()); });
      if (st != 0) {
        co_await complete(
            s, st, [&](int ev) { return mysql_stmt_prepare_cont(&pr, p, ev); },
            [] { return nothing_left(); });
      }
      if (pr != 0) fail(s, p, sql);
      ps = s.statements.insert(sql, std::make_unique<Prepared>(fresh.get()));
      (void)fresh.release();
    }
    stmt = ps->stmt;
    const unsigned expected = mysql_stmt_param_count(stmt);
    if (expected != params.size()) placeholder_mismatch(expected, params.size(), sql);
    ps->params.fill(params);
    if (expected != 0 && mysql_stmt_bind_param(stmt, ps->params.binds.data()) != 0) {
      fail(s, stmt, sql);
    }
    // Unbound while it executes, and bound again after (bind_rows: a copy of the array).
    stmt->bind_result_done = 0;
    r = 0;
    st = s.call([&] { return mysql_stmt_execute_start(&r, stmt); });
    if (st != 0) {
      co_await complete(
          s, st, [&](int ev) { return mysql_stmt_execute_cont(&r, stmt, ev); },
          [&] { return drain_statement(s, *ps, r == 0); });
    }
    if (r == 0) break;
    // The server re-prepared the statement (its table changed) and its result has another
    // number of columns: the library refuses it (CR_NEW_STMT_METADATA) and the statement is
    // unusable. It is dropped and the statement prepared and run again, once.
    if (mysql_stmt_errno(stmt) == 2057 && attempt == 0) {
      s.statements.invalidate(sql);
      continue;
    }
    fail(s, stmt, sql);
  }
  d.binary = true;
  if (mysql_stmt_field_count(stmt) == 0) {
    d.affected_rows = mysql_stmt_affected_rows(stmt);
    d.insert_id = mysql_stmt_insert_id(stmt);
    d.warnings = mysql_warning_count(m);
    s.status_stale = false;
    co_return ps;
  }
  if (!bind_rows(*ps)) fail(s, stmt, sql);
  d.columns = ps->columns;
  co_return ps;
}

/// Fetches rows of the executed statement `ps` into `d` (see ReadBounds); true once the
/// result ended (its error, if one ended it, raised).
Task<bool> read_stmt_rows(ConnState& s, Prepared& ps, const std::string& sql, ResultData& d,
                          ReadBounds bounds) {
  MYSQL_STMT* stmt = ps.stmt;
  RowBuffers& rb = *ps.rows;
  while (d.rows < bounds.rows && d.bytes.size() < bounds.bytes) {
    int r = 0;
    const int st = s.call([&] { return mysql_stmt_fetch_start(&r, stmt); });
    if (st != 0) {
      co_await complete(
          s, st, [&](int ev) { return mysql_stmt_fetch_cont(&r, stmt, ev); },
          [&] { return drain_statement(s, ps, r != 1 && r != MYSQL_NO_DATA); });
    } else if (r != 1 && r != MYSQL_NO_DATA && !weft::detail::budget_spend()) {
      co_await yield_point(s, [&] { return drain_statement(s, ps, true); });
    }
    if (r == MYSQL_NO_DATA) {
      d.warnings = mysql_warning_count(s.m);
      s.status_stale = false;
      co_return true;
    }
    if (r == 1) fail(s, stmt, sql);
    // 0, or MYSQL_DATA_TRUNCATED for a value longer than its row buffer (fetched whole).
    if (!append_row(stmt, rb, d, bounds.limit)) too_large(s, sql);
  }
  co_return false;
}

/// A stream's hold on its connection: one whose generator is destroyed before the result's
/// end is closed (reading the rest could take as long as the statement; connection.hpp).
class StreamGuard {
 public:
  explicit StreamGuard(ConnState& s) noexcept : s_(&s) {}
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;
  ~StreamGuard() {
    if (done || !s_->m) return;  // (done is false only while rows are left to read)
    s_->abandon(0, no_call);
    s_->lost_error.message =
        "the connection was closed when a stream of its rows was dropped before its end";
  }
  bool done = true;

 private:
  ConnState* s_;
};

}  // namespace
}  // namespace detail

Task<Result> Connection::query(std::string sql) {
  detail::ConnState& s = detail::begin(s_);
  detail::Busy busy(s);
  auto d = std::make_shared<detail::ResultData>();
  if (MYSQL_RES* res = co_await detail::start_text(s, sql, *d)) {
    const detail::ReadBounds all{SIZE_MAX, SIZE_MAX, detail::result_limit(s)};
    co_await detail::read_text_rows(s, res, sql, *d, all);
    d->affected_rows = d->rows;
  }
  co_return Result(std::move(d));
}

Task<Result> Connection::prepared(std::string sql, Params params) {
  detail::ConnState& s = detail::begin(s_);
  detail::Busy busy(s);
  auto d = std::make_shared<detail::ResultData>();
  detail::Prepared* ps = co_await detail::start_prepared(s, sql, params, *d);
  if (d->columns) {
    const detail::ReadBounds all{SIZE_MAX, SIZE_MAX, detail::result_limit(s)};
    co_await detail::read_stmt_rows(s, *ps, sql, *d, all);
    d->affected_rows = d->rows;
  }
  co_return Result(std::move(d));
}

AsyncGenerator<Row> Connection::stream_rows(detail::ConnState* sp, std::string sql, Params params,
                                            bool prepare) {
  detail::ConnState& s = detail::begin(sp);
  detail::Busy busy(s);
  detail::StreamGuard guard(s);
  auto first = std::make_shared<detail::ResultData>();
  MYSQL_RES* res = nullptr;
  detail::Prepared* ps = nullptr;
  if (prepare) {
    ps = co_await detail::start_prepared(s, sql, params, *first);
  } else {
    res = co_await detail::start_text(s, sql, *first);
  }
  if (!first->columns) co_return;  // no rows: a statement that returns none
  const std::shared_ptr<const std::vector<Column>> columns = first->columns;
  std::shared_ptr<detail::ResultData> d = std::move(first);
  for (;;) {
    const detail::ReadBounds chunk{kStreamChunkRows, kStreamChunkBytes,
                                   std::numeric_limits<std::uint32_t>::max()};
    bool ended = false;
    if (prepare) {
      ended = co_await detail::read_stmt_rows(s, *ps, sql, *d, chunk);
    } else {
      ended = co_await detail::read_text_rows(s, res, sql, *d, chunk);
    }
    const Result rows(std::move(d));
    // Rows are left unread only while it yields a chunk before the last (an exception from
    // the reads above leaves the connection as the statement methods do).
    guard.done = ended;
    for (std::size_t i = 0; i < rows.size(); ++i) co_yield rows[i];
    guard.done = true;
    if (ended) co_return;
    d = std::make_shared<detail::ResultData>();
    d->columns = columns;
    d->binary = prepare;
  }
}

Task<std::uint64_t> Connection::execute_result(Connection* self, std::string sql, Params p,
                                               bool prepare) {
  const Result r = co_await self->run(std::move(sql), std::move(p), prepare);
  co_return r.affected_rows();
}

Task<std::optional<Row>> Connection::fetchrow_result(Connection* self, std::string sql, Params p,
                                                     bool prepare) {
  const Result r = co_await self->run(std::move(sql), std::move(p), prepare);
  if (r.empty()) co_return std::nullopt;
  co_return r[0];
}

void Connection::no_row_error(const std::string& sql) {
  throw TypeError(
      "weft::mysql: fetchval of a query that returned no row (read a "
      "std::optional to allow none)\n  query: " +
      sql);
}

}  // namespace weft::mysql
