// A connection's cache of prepared statements, least recently used first out: a statement
// with arguments is prepared once per connection and later runs skip the server's parse.
//
// The key is the SQL alone (MySQL's parameters carry their types with each execution).
// Each entry keeps what running the statement again needs: its columns as last read, the
// row buffers bound to them and its parameters' buffers. An evicted statement goes to
// `to_close`, which the connection closes on the server (an asynchronous COM_STMT_CLOSE)
// before its next prepare; it stays alive until then, so a statement evicted by its own
// insertion (capacity 0) still runs. Owned by one ConnState and touched only by the task
// running its statement.
#pragma once

#include <mysql.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../detail/lru_cache.hpp"
#include "param_buffers.hpp"
#include "row_buffers.hpp"

namespace weft::mysql::detail {

/// A prepared statement and what its executions reuse.
struct Prepared {
  explicit Prepared(MYSQL_STMT* s) noexcept : stmt(s) {}
  MYSQL_STMT* stmt;
  /// The columns of its result as of the last execution that returned rows, and the buffers
  /// bound to them; made anew when the server's metadata changes (the table was altered).
  std::shared_ptr<const std::vector<Column>> columns;
  std::unique_ptr<RowBuffers> rows;
  /// Its parameters' buffers, refilled for each execution.
  ParamBuffers params;
};

class StatementCache {
 public:
  explicit StatementCache(std::size_t capacity) noexcept : lru_(capacity) {}
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  /// Frees every statement without telling the server (its session is gone by then).
  ~StatementCache() { drop_all(); }

  /// The statement prepared for `sql`, marked most recently used; nullptr if none.
  Prepared* find(const std::string& sql) {
    std::unique_ptr<Prepared>* p = lru_.find(sql);
    return p ? p->get() : nullptr;
  }

  /// Keeps `p` for `sql` (which must not be cached); evicts the least recently used beyond
  /// the capacity to to_close(). With capacity 0, `p` goes to to_close() at once. `p` as kept.
  Prepared* insert(const std::string& sql, std::unique_ptr<Prepared> p) {
    Prepared* kept = p.get();
    lru_.insert(sql, std::move(p));
    return kept;
  }

  /// Drops the statement of `sql`, if any, to to_close().
  void invalidate(const std::string& sql) { lru_.invalidate(sql); }

  /// Statements evicted and not yet closed on the server.
  std::vector<std::unique_ptr<Prepared>>& to_close() noexcept { return lru_.evicted(); }

  /// Frees every statement, kept or evicted, without I/O: for a connection whose
  /// mysql_close() already ran (it detaches its statements, so closing them only frees
  /// memory).
  void drop_all() noexcept {
    lru_.for_each([](std::unique_ptr<Prepared>& p) { mysql_stmt_close(p->stmt); });
    for (auto& p : lru_.evicted()) mysql_stmt_close(p->stmt);
    lru_.clear();
  }

  /// Sets the capacity of a cache that holds nothing yet.
  void set_capacity(std::size_t capacity) noexcept { lru_.set_capacity(capacity); }

  std::size_t size() const noexcept { return lru_.size(); }
  std::size_t capacity() const noexcept { return lru_.capacity(); }

 private:
  weft::detail::LruCache<std::unique_ptr<Prepared>> lru_;
};

}  // namespace weft::mysql::detail
