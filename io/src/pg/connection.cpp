// pg::Connection's queries, on the exchange steps of exchange.hpp, and the prepared
// statement cache.
#include <libpq-fe.h>

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conn_state.hpp"
#include "exchange.hpp"
#include "weft/io/pg/connection.hpp"

namespace weft::pg {

using detail::ConnState;
using detail::QueryScope;

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
  // error and end of stream of a backend that was terminated. libpq finds the end of stream
  // only on a read that returns nothing, after the read that took the FATAL report: so read
  // while there is input (bounded, should the server be sending all along).
  for (int reads = 0; ok && reads < 16 && input_pending(*s_); ++reads) {
    ok = PQconsumeInput(s_->conn) && PQstatus(s_->conn) == CONNECTION_OK;
  }
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
  // libpq's arrays of the parameters: on the frame for the usual few, else on the heap.
  constexpr std::size_t kInline = 16;
  std::array<const char*, kInline> values_inline;
  std::array<int, kInline> lengths_inline, formats_inline;
  std::vector<const char*> values_heap;
  std::vector<int> lengths_heap, formats_heap;
  const char** values = values_inline.data();
  int* lengths = lengths_inline.data();
  int* formats = formats_inline.data();
  if (n > kInline) {
    values_heap.resize(n);
    lengths_heap.resize(n);
    formats_heap.resize(n);
    values = values_heap.data();
    lengths = lengths_heap.data();
    formats = formats_heap.data();
  }
  for (std::size_t i = 0; i < n; ++i) {
    values[i] = params.nulls()[i] ? nullptr : params.values()[i].data();
    lengths[i] = static_cast<int>(params.values()[i].size());
    formats[i] = 1;  // binary
  }
  if (!s->statements.caches(sql)) {
    const std::uint32_t read_seq = s->reg.ready_seq(Interest::kRead);
    if (!PQsendQueryParams(s->conn, sql.c_str(), static_cast<int>(n), params.types().data(), values,
                           lengths, formats, /*resultFormat=*/1)) {
      send_failed(*s, sql);
    }
    co_return co_await finish(*s, sql, read_seq);
  }

  if (!s->statements.to_close().empty()) co_await detail::close_evicted(*s);
  detail::StatementCache::key_into(s->statement_key, sql, params.types());
  const std::string& key = s->statement_key;
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
    if (!PQsendQueryPrepared(s->conn, name->c_str(), static_cast<int>(n), values, lengths, formats,
                             /*resultFormat=*/1)) {
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
    if (retry && !s->statements.to_close().empty()) co_await detail::close_evicted(*s);
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
