// A batch of queries in one round trip, on libpq's pipeline mode (asyncpg's executemany,
// psycopg's pipeline):
//
//   pg::Batch b;
//   b.add("INSERT INTO t (id, name) VALUES ($1, $2)", 1, "one");
//   b.add("UPDATE counters SET n = n + 1 WHERE name = $1", "t");
//   b.add("SELECT count(*) FROM t");
//   std::vector<pg::Result> rs = co_await conn.run_batch(b);  // rs[2][0].get<std::int64_t>(0)
//
//   std::vector<std::tuple<int, std::string>> rows = ...;
//   co_await conn.execute_many("INSERT INTO t (id, name) VALUES ($1, $2)", rows);
//
// Every query of the batch is sent without waiting for the one before, followed by one
// synchronization point; the results come back in order. Sending and reading interleave: a
// batch of any size (the tests run 100,000 queries) streams through the socket, with what
// the server has answered read while the rest is still being sent, so neither side waits for
// the other with full buffers.
//
// Errors: the batch is one unit. The first query the server refuses raises pg::BatchError (a
// pg::Error: its SQLSTATE, message and query, and the query's index in the batch); the
// server skips every later query of the batch (they are not run). Outside a transaction
// block the batch runs as one implicit transaction, so the queries before the failed one are
// rolled back too: a batch is all or nothing. Inside a transaction block (BEGIN, or
// Connection::transaction) the error leaves that transaction failed, as a single failing
// query does. Commands that cannot run in a transaction block (VACUUM, CREATE DATABASE) fail
// in a batch of more than one query. A batch that holds its own BEGIN and COMMIT is run by
// the server as written.
//
// Statements: a query is prepared once per connection, as Connection::query does (the
// statement cache of ConnectOptions); a batch of one statement run N times is one Parse and
// N Bind/Execute messages. With the cache off, every query is sent unnamed (parsed and
// planned per query).
//
// Cancellation: a task cancelled (or timed out) during a batch stops sending the rest, sends
// PostgreSQL's cancel request, reads and drops the results up to the synchronization point
// and leaves pipeline mode: the connection is usable afterwards, and the queries the batch
// ran were rolled back unless it ran in a transaction block (which is then failed). If the
// server does not answer within a bound, the connection is closed. The CancelledError (or a
// timeout scope's TimeoutError) reaches the caller either way. A dropped connection raises
// pg::ConnectionLost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/io/pg/connection.hpp"
#include "weft/io/pg/errors.hpp"
#include "weft/io/pg/types.hpp"

namespace weft::pg {

namespace detail {
class BatchRun;  // io/src/pg/pipeline.cpp
}  // namespace detail

/// The queries of one Connection::run_batch, each a statement with its parameters encoded
/// (types.hpp) into storage shared by the whole batch. Not thread-safe; reusable (clear()).
class Batch {
 public:
  /// Appends `sql` with `args` bound to $1, $2 ... (any type of types.hpp); returns *this.
  /// One statement per query (the extended protocol: no semicolon-separated lists). Throws
  /// std::invalid_argument for a COPY (its data cannot come between a batch's queries; one
  /// hidden behind a comment fails the batch when it runs), std::length_error for more than
  /// 65535 parameters; the batch is then unchanged.
  template <class... A>
  Batch& add(std::string_view sql, const A&... args) {
    const Mark m = begin_query(sql);
    try {
      (put(args), ...);
      end_query(m);
    } catch (...) {
      rollback(m);
      throw;
    }
    return *this;
  }
  /// Appends `sql` with parameters built at run time. Throws as add() does.
  Batch& add_params(std::string_view sql, const Params& params);

  /// The number of queries.
  std::size_t size() const noexcept { return queries_.size(); }
  bool empty() const noexcept { return queries_.empty(); }
  /// The SQL of query `i`; throws std::out_of_range.
  const std::string& sql(std::size_t i) const;
  /// Removes every query.
  void clear() noexcept;
  /// Reserves room for `n` queries.
  void reserve(std::size_t n) { queries_.reserve(n); }

 private:
  friend class detail::BatchRun;
  struct Query {
    std::uint32_t sql;      // index into sqls_
    std::uint32_t nparams;  // its parameters: [first, first + nparams) of types_ ...
    std::size_t first;
  };
  /// The sizes before a query is added, to take it back out.
  struct Mark {
    std::size_t sqls, params, data;
  };
  static constexpr std::size_t kNull = ~std::size_t{0};

  Mark begin_query(std::string_view sql);
  void end_query(const Mark& m);
  void rollback(const Mark& m) noexcept;
  void put_null(Oid type) {
    types_.push_back(type);
    offsets_.push_back(kNull);
    lengths_.push_back(0);
  }
  /// Appends one parameter, encoded as Params::add encodes it.
  template <class A>
  void put(const A& v) {
    const std::size_t at = data_.size();
    const detail::EncodedParam e = detail::encode_param(v, data_);
    types_.push_back(e.type);
    offsets_.push_back(e.null ? kNull : at);
    lengths_.push_back(static_cast<int>(data_.size() - at));
  }

  /// The distinct SQL texts, consecutive repeats stored once (execute_many's one statement).
  std::vector<std::string> sqls_;
  std::vector<Query> queries_;
  /// Every query's parameters in order: type, where its value starts in data_ (kNull for
  /// NULL) and its length.
  std::vector<Oid> types_;
  std::vector<std::size_t> offsets_;
  std::vector<int> lengths_;
  std::string data_;
};

/// A query of a batch that the server refused; the later queries of the batch were not run
/// (see the opening comment). what() is "weft::pg: batch query I of N failed: MESSAGE
/// (SQLSTATE ...)" with the detail, hint and query.
class BatchError : public Error {
 public:
  BatchError(ErrorFields f, std::size_t index, std::size_t size);
  /// The failed query's index in the batch (0-based).
  std::size_t index() const noexcept { return index_; }
  /// The number of queries in the batch; those after index() were skipped by the server.
  std::size_t batch_size() const noexcept { return size_; }

 private:
  std::size_t index_;
  std::size_t size_;
};

namespace detail {
/// Runs `batch` (owned for the task's life) on `c`; the sum of its results' affected rows.
Task<std::uint64_t> execute_batch(Connection& c, Batch batch);
}  // namespace detail

template <class Rows>
Task<std::uint64_t> Connection::execute_many(std::string_view sql, const Rows& rows) {
  Batch b;
  if constexpr (requires { rows.size(); }) b.reserve(rows.size());
  for (const auto& row : rows) {
    std::apply([&](const auto&... args) { b.add(sql, args...); }, row);
  }
  return detail::execute_batch(*this, std::move(b));
}

}  // namespace weft::pg
