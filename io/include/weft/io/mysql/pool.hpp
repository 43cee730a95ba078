// mysql::Pool: a pool of connections to one server (aiomysql's create_pool), on the generic
// weft::Pool<Connection> (sync/pool.hpp), which does the waiting, sizing and ageing.
//
//   mysql::Pool pool(options, {.max_size = 16, .acquire_timeout = 5s});
//   {
//     auto conn = co_await pool.acquire();   // a Lease: conn->fetch(...)
//     co_await conn->execute("UPDATE ...", id);
//   }                                         // back to the pool
//   auto n = co_await pool.fetchval<std::int64_t>("SELECT COUNT(*) FROM t");  // one-off
//   co_await pool.close(weft::now() + 10s);
//
// What the pool does with a connection, without a round trip where it can:
// - when a lease ends, the server's last status decides: outside a transaction it goes
//   straight back; a transaction left open is rolled back first, in a task of the pool's; a
//   closed or lost connection, or one still running a statement, is destroyed and its slot
//   freed;
// - before an idle connection is lent, a check looks at its socket without waiting: a
//   session the server ended (a KILL, a restart, wait_timeout) has sent its goodbye or
//   closed, and the connection is replaced by a new one;
// - connections older than max_lifetime or idle longer than max_idle_time are closed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "weft/io/mysql/connection.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"
#include "weft/sync/pool.hpp"

namespace weft::mysql {

/// How a mysql::Pool is sized and its connections made and aged.
struct PoolOptions {
  /// Names the pool in its error messages.
  std::string name = "weft::mysql::Pool";
  /// Connections kept open (made in the background), and at most max_size in all.
  std::size_t min_size = 0;
  std::size_t max_size = 10;
  /// How long acquire() may wait in all before it throws weft::PoolTimeout.
  Duration acquire_timeout = Duration::max();
  /// A connection older than this is closed when it comes back or is found idle.
  Duration max_lifetime = Duration::max();
  /// A connection idle this long is closed, down to min_size.
  Duration max_idle_time = std::chrono::minutes(5);
  /// The bound of each connect; Duration::max() for none.
  Duration connect_timeout = std::chrono::seconds(60);
};

/// A pool of connections made with `connect` options. Every member may be called from any
/// worker. Not copyable or movable. Destroying it closes it without waiting (leases out
/// stay valid).
class Pool {
 public:
  /// A connection lent by the pool: `lease->fetch(...)`, `*lease`. Returned when it ends;
  /// `lease.discard()` closes the connection instead.
  using Lease = weft::Pool<Connection>::Lease;

  /// A pool connecting as `connect` says, shaped by `options`. Throws std::invalid_argument
  /// for options weft::Pool refuses (max_size 0, min_size above max_size ...). Connects
  /// lazily, and up to min_size in the background.
  explicit Pool(ConnectOptions connect, PoolOptions options = {});

  /// Lends a connection: an idle one (found alive), else a new one while there are fewer
  /// than max_size, else the next returned, in FIFO order. Throws weft::PoolTimeout after
  /// acquire_timeout, weft::PoolClosed, mysql::ConnectionError from connecting, or
  /// CancelledError (a cancellation point).
  Task<Lease> acquire() { return pool_.acquire(); }
  /// acquire() bounded by `timeout` instead.
  template <class Rep, class Period>
  Task<Lease> acquire(std::chrono::duration<Rep, Period> timeout) {
    return pool_.acquire(timeout);
  }

  /// Runs one statement on a connection of the pool (acquired and returned around it), as
  /// the Connection methods of the same names do.
  template <class... A>
  Task<std::uint64_t> execute(std::string_view sql, const A&... args) {
    return execute_on(this, std::string(sql), Params(args...), sizeof...(A) > 0);
  }
  template <class... A>
  Task<Result> fetch(std::string_view sql, const A&... args) {
    return fetch_on(this, std::string(sql), Params(args...), sizeof...(A) > 0);
  }
  template <class T, class... A>
  Task<T> fetchval(std::string_view sql, const A&... args) {
    return fetchval_on<T>(this, std::string(sql), Params(args...), sizeof...(A) > 0);
  }

  /// Closes the pool: acquire() throws PoolClosed from now on; idle connections are closed;
  /// then waits until the leased ones came back (and were closed) or until `deadline`. The
  /// number still out then. A cancellation point.
  Task<std::size_t> close(TimePoint deadline = TimePoint::max()) { return pool_.close(deadline); }

  /// Connections open or being opened; idle; lent out. Any thread.
  std::size_t size() const noexcept { return pool_.size(); }
  std::size_t idle() const noexcept { return pool_.idle(); }
  std::size_t in_use() const noexcept { return pool_.in_use(); }

 private:
  static Task<std::uint64_t> execute_on(Pool* self, std::string sql, Params p, bool prepare);
  static Task<Result> fetch_on(Pool* self, std::string sql, Params p, bool prepare);
  template <class T>
  static Task<T> fetchval_on(Pool* self, std::string sql, Params p, bool prepare) {
    Result r = co_await fetch_on(self, std::move(sql), std::move(p), prepare);
    if (r.empty()) {
      if constexpr (detail::IsOptional<T>::value) {
        co_return std::nullopt;
      } else {
        throw TypeError(
            "weft::mysql::Pool::fetchval: the query returned no row (read a std::optional to "
            "allow none)");
      }
    }
    co_return r[0].template get<T>(0);
  }

  weft::Pool<Connection> pool_;
};

}  // namespace weft::mysql
