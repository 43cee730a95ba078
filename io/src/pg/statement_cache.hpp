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
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/lru_cache.hpp"
#include "weft/io/pg/types.hpp"

namespace weft::pg::detail {

class StatementCache {
 public:
  explicit StatementCache(std::size_t capacity) noexcept : lru_(capacity) {}

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
    const std::string* name = lru_.find(key);
    if (!name) return std::nullopt;
    return *name;
  }

  /// A fresh statement name.
  std::string next_name() { return "weft_s" + std::to_string(++counter_); }

  /// Records that `name` is prepared under `key`; evicts the least recently used beyond the
  /// capacity (to to_close).
  void insert(const std::string& key, std::string name) { lru_.insert(key, std::move(name)); }

  /// Drops the statement under `key` (to to_close), if any.
  void invalidate(const std::string& key) { lru_.invalidate(key); }

  /// Forgets every statement without closing them (the server forgot them: a new session).
  void clear() noexcept { lru_.clear(); }

  /// Whether a query of this SQL is cached at all: not when the cache is off, nor for long
  /// SQL (generated queries, bulk statements), which would crowd out the reused ones.
  bool caches(std::string_view sql) const noexcept {
    return lru_.capacity() > 0 && sql.size() <= kMaxSqlSize;
  }

  std::size_t size() const noexcept { return lru_.size(); }
  /// Names evicted or invalidated and still prepared on the server.
  std::vector<std::string>& to_close() noexcept { return lru_.evicted(); }

 private:
  static constexpr std::size_t kMaxSqlSize = 16 * 1024;

  std::uint64_t counter_ = 0;
  weft::detail::LruCache<std::string> lru_;
};

}  // namespace weft::pg::detail
