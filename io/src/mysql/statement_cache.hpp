// A connection's cache of prepared statements, least recently used first out: a statement
// with arguments is prepared once per connection and later runs skip the server's parse.
//
// The key is the SQL alone (MySQL's parameters carry their types with each execution). An
// evicted statement goes to `to_close`, which the connection closes on the server (an
// asynchronous COM_STMT_CLOSE) before its next prepare. Owned by one ConnState and touched
// only by the task running its statement.
#pragma once

#include <mysql.h>

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace weft::mysql::detail {

class StatementCache {
 public:
  explicit StatementCache(std::size_t capacity) noexcept : capacity_(capacity) {}
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  /// Frees every statement without telling the server (its session is gone by then).
  ~StatementCache() { drop_all(); }

  /// The statement prepared for `sql`, marked most recently used; nullptr if none.
  MYSQL_STMT* find(const std::string& sql) {
    auto it = map_.find(sql);
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }

  /// Keeps `stmt` for `sql` (which must not be cached); evicts the least recently used
  /// beyond the capacity to to_close(). With capacity 0, `stmt` goes to to_close() at once.
  void insert(const std::string& sql, MYSQL_STMT* stmt) {
    lru_.emplace_front(sql, stmt);
    map_[sql] = lru_.begin();
    while (lru_.size() > capacity_) {
      to_close_.push_back(lru_.back().second);
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }

  /// Drops the statement of `sql`, if any, to to_close().
  void invalidate(const std::string& sql) {
    auto it = map_.find(sql);
    if (it == map_.end()) return;
    to_close_.push_back(it->second->second);
    lru_.erase(it->second);
    map_.erase(it);
  }

  /// Statements evicted and not yet closed on the server.
  std::vector<MYSQL_STMT*>& to_close() noexcept { return to_close_; }

  /// Frees every statement, kept or evicted, without I/O: for a connection whose
  /// mysql_close() already ran (it detaches its statements, so closing them only frees
  /// memory).
  void drop_all() noexcept {
    for (auto& e : lru_) mysql_stmt_close(e.second);
    for (MYSQL_STMT* st : to_close_) mysql_stmt_close(st);
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
  std::list<std::pair<std::string, MYSQL_STMT*>> lru_;
  std::unordered_map<std::string, std::list<std::pair<std::string, MYSQL_STMT*>>::iterator> map_;
  std::vector<MYSQL_STMT*> to_close_;
};

}  // namespace weft::mysql::detail
