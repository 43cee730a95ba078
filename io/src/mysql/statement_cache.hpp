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
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

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
  explicit StatementCache(std::size_t capacity) noexcept : capacity_(capacity) {}
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  /// Frees every statement without telling the server (its session is gone by then).
  ~StatementCache() { drop_all(); }

  /// The statement prepared for `sql`, marked most recently used; nullptr if none.
  Prepared* find(const std::string& sql) {
    auto it = map_.find(sql);
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second.get();
  }

  /// Keeps `p` for `sql` (which must not be cached); evicts the least recently used beyond
  /// the capacity to to_close(). With capacity 0, `p` goes to to_close() at once. `p` as kept.
  Prepared* insert(const std::string& sql, std::unique_ptr<Prepared> p) {
    Prepared* kept = p.get();
    lru_.emplace_front(sql, std::move(p));
    map_[sql] = lru_.begin();
    while (lru_.size() > capacity_) {
      to_close_.push_back(std::move(lru_.back().second));
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
    return kept;
  }

  /// Drops the statement of `sql`, if any, to to_close().
  void invalidate(const std::string& sql) {
    auto it = map_.find(sql);
    if (it == map_.end()) return;
    to_close_.push_back(std::move(it->second->second));
    lru_.erase(it->second);
    map_.erase(it);
  }

  /// Statements evicted and not yet closed on the server.
  std::vector<std::unique_ptr<Prepared>>& to_close() noexcept { return to_close_; }

  /// Frees every statement, kept or evicted, without I/O: for a connection whose
  /// mysql_close() already ran (it detaches its statements, so closing them only frees
  /// memory).
  void drop_all() noexcept {
    for (auto& e : lru_) mysql_stmt_close(e.second->stmt);
    for (auto& p : to_close_) mysql_stmt_close(p->stmt);
    lru_.clear();
    map_.clear();
    to_close_.clear();
  }

  /// Sets the capacity of a cache that holds nothing yet.
  void set_capacity(std::size_t capacity) noexcept { capacity_ = capacity; }

  std::size_t size() const noexcept { return lru_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::size_t capacity_;
  using Entry = std::pair<std::string, std::unique_ptr<Prepared>>;
  std::list<Entry> lru_;
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
  std::vector<std::unique_ptr<Prepared>> to_close_;
};

}  // namespace weft::mysql::detail
