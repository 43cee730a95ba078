// LruCache: values under string keys, the least recently used evicted once there are more
// than a capacity, into a list the owner drains. Both database clients keep a connection's
// prepared statements in one (pg/statement_cache.hpp, mysql/statement_cache.hpp) and close
// the evicted ones on the server before their next statement. Not thread-safe: owned by one
// connection and used by the task running its statement.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace weft::detail {

template <class V>
class LruCache {
 public:
  explicit LruCache(std::size_t capacity) noexcept : capacity_(capacity) {}
  LruCache(LruCache&&) = default;
  LruCache& operator=(LruCache&&) = default;

  /// The value under `key`, marked most recently used; nullptr if there is none.
  V* find(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return &it->second->second;
  }

  /// Keeps `v` under `key` (which must hold nothing); evicts the least recently used beyond
  /// the capacity to evicted(): with capacity 0, `v` itself.
  void insert(const std::string& key, V v) {
    lru_.emplace_front(key, std::move(v));
    map_[key] = lru_.begin();
    while (lru_.size() > capacity_) {
      evicted_.push_back(std::move(lru_.back().second));
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }

  /// Moves the value under `key`, if any, to evicted().
  void invalidate(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return;
    evicted_.push_back(std::move(it->second->second));
    lru_.erase(it->second);
    map_.erase(it);
  }

  /// Values evicted or invalidated that the owner has not taken yet.
  std::vector<V>& evicted() noexcept { return evicted_; }

  /// Calls `f(value)` for each value kept (not the evicted ones), most recently used first.
  template <class F>
  void for_each(F f) {
    for (auto& e : lru_) f(e.second);
  }

  /// Forgets every value, kept or evicted.
  void clear() noexcept {
    lru_.clear();
    map_.clear();
    evicted_.clear();
  }

  std::size_t size() const noexcept { return lru_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }
  /// Sets the capacity of a cache that holds nothing yet.
  void set_capacity(std::size_t capacity) noexcept { capacity_ = capacity; }

 private:
  std::size_t capacity_;
  /// Most recently used first: (key, value).
  std::list<std::pair<std::string, V>> lru_;
  std::unordered_map<std::string, typename std::list<std::pair<std::string, V>>::iterator> map_;
  std::vector<V> evicted_;
};

}  // namespace weft::detail
