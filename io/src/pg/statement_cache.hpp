// A connection's cache of prepared statements, least recently used first out (asyncpg's
// statement cache): a query with parameters is prepared once per connection, under a name
// of its own, and later runs skip the server's parse and plan.
//
// The key is the SQL and the parameters' type oids (a statement is prepared for its
// parameter types). An evicted statement's name goes to `to_close`, which the connection
// deallocates on the server before its next query; a statement that failed as no longer
// valid (the table it reads changed its columns, or DEALLOCATE ALL ran) is dropped the same
// way. Owned by one ConnState and touched only by the task running its query.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "weft/io/pg/types.hpp"

namespace weft::pg::detail {

class StatementCache {
 public:
  explicit StatementCache(std::size_t capacity) noexcept : capacity_(capacity) {}

  /// The key of `sql` prepared for `types`.
  static std::string key(std::string_view sql, const std::vector<Oid>& types) {
    std::string k;
    key_into(k, sql, types);
    return k;
  }
  /// key(), written into `k` (a buffer kept between queries: no allocation once it is big
  /// enough).
  static void key_into(std::string& k, std::string_view sql, const std::vector<Oid>& types) {
    k.assign(sql);
    k.push_back('\0');
    for (Oid t : types) k.append(reinterpret_cast<const char*>(&t), sizeof t);
  }

  /// The name of the statement prepared under `key`, marked most recently used; nullopt if
  /// there is none.
  std::optional<std::string> find(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }

  /// A fresh statement name.
  std::string next_name() { return "weft_s" + std::to_string(++counter_); }

  /// Records that `name` is prepared under `key`; evicts the least recently used beyond the
  /// capacity (to to_close).
  void insert(const std::string& key, std::string name) {
    lru_.emplace_front(key, std::move(name));
    map_[key] = lru_.begin();
    while (lru_.size() > capacity_) {
      to_close_.push_back(std::move(lru_.back().second));
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }

  /// Drops the statement under `key` (to to_close), if any.
  void invalidate(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return;
    to_close_.push_back(std::move(it->second->second));
    lru_.erase(it->second);
    map_.erase(it);
  }

  /// Forgets every statement without closing them (the server forgot them: a new session).
  void clear() noexcept {
    lru_.clear();
    map_.clear();
    to_close_.clear();
  }

  /// Whether a query of this SQL is cached at all: not when the cache is off, nor for long
  /// SQL (generated queries, bulk statements), which would crowd out the reused ones.
  bool caches(std::string_view sql) const noexcept {
    return capacity_ > 0 && sql.size() <= kMaxSqlSize;
  }

  std::size_t size() const noexcept { return lru_.size(); }
  /// Names evicted or invalidated and still prepared on the server.
  std::vector<std::string>& to_close() noexcept { return to_close_; }

 private:
  static constexpr std::size_t kMaxSqlSize = 16 * 1024;

  std::size_t capacity_;
  std::uint64_t counter_ = 0;
  /// Most recently used first: (key, name).
  std::list<std::pair<std::string, std::string>> lru_;
  std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> map_;
  std::vector<std::string> to_close_;
};

}  // namespace weft::pg::detail
