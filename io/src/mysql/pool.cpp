// mysql::Pool's hooks on weft::Pool<Connection> (see pool.hpp for what each decides).
#include "weft/io/mysql/pool.hpp"

#include <utility>

#include "weft/io/detail/client_pool_options.hpp"

namespace weft::mysql {
namespace {

PoolHooks<Connection> hooks(ConnectOptions connect_options, const PoolOptions& o) {
  PoolHooks<Connection> h;
  h.create = [connect_options = std::move(connect_options),
              timeout = o.connect_timeout]() -> Task<Connection> {
    if (timeout == Duration::max()) co_return co_await connect(connect_options);
    co_return co_await connect(connect_options,
                               std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  };
  h.check = [](Connection& c) -> Task<bool> { co_return c.is_alive(); };
  h.reset = [](Connection& c) -> Task<void> {
    if (c.in_transaction()) co_await c.execute("ROLLBACK");
  };
  h.recycle = [](Connection& c) -> Recycle {
    if (!c.is_open()) return Recycle::Discard;
    return c.in_transaction() ? Recycle::Reset : Recycle::Keep;
  };
  return h;
}

}  // namespace

Pool::Pool(ConnectOptions connect, PoolOptions options)
    : pool_(hooks(std::move(connect), options), weft::detail::client_pool_options(options)) {}

Task<std::uint64_t> Pool::execute_on(Pool* self, std::string sql, Params p, bool prepare) {
  Result r = co_await fetch_on(self, std::move(sql), std::move(p), prepare);
  co_return r.affected_rows();
}

Task<Result> Pool::fetch_on(Pool* self, std::string sql, Params p, bool prepare) {
  Lease conn = co_await self->acquire();
  co_return co_await conn->run(std::move(sql), std::move(p), prepare);
}

}  // namespace weft::mysql
