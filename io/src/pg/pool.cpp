// pg::Pool's hooks on weft::Pool<Connection> (see pool.hpp for what each decides).
#include "weft/io/pg/pool.hpp"

#include <libpq-fe.h>

#include <utility>

#include "weft/io/detail/client_pool_options.hpp"

namespace weft::pg {
namespace {

PoolHooks<Connection> hooks(std::string conninfo, const PoolOptions& o) {
  PoolHooks<Connection> h;
  h.create = [conninfo = std::move(conninfo), timeout = o.connect_timeout,
              connect_options = o.connect]() -> Task<Connection> {
    if (timeout == Duration::max()) co_return co_await connect(conninfo, connect_options);
    co_return co_await connect(
        conninfo, std::chrono::duration_cast<std::chrono::milliseconds>(timeout), connect_options);
  };
  h.check = [](Connection& c) -> Task<bool> { co_return c.is_alive(); };
  // What a borrower may leave behind: an open transaction, and channels it listens on
  // (asyncpg's reset runs UNLISTEN * too), with notifications queued for them.
  h.reset = [](Connection& c) -> Task<void> {
    if (c.transaction_status() != TransactionStatus::kIdle) co_await c.execute("ROLLBACK");
    if (c.listening()) {
      co_await c.unlisten_all();
      while (PGnotify* n = PQnotifies(c.native())) PQfreemem(n);
    }
  };
  h.recycle = [](Connection& c) -> Recycle {
    switch (c.transaction_status()) {
      case TransactionStatus::kIdle:
        return c.listening() ? Recycle::Reset : Recycle::Keep;
      case TransactionStatus::kInTransaction:
      case TransactionStatus::kFailed:
        return Recycle::Reset;
      default:
        return Recycle::Discard;  // closed, lost, or a query still running
    }
  };
  return h;
}

}  // namespace

Pool::Pool(std::string conninfo, PoolOptions options)
    : pool_(hooks(std::move(conninfo), options), weft::detail::client_pool_options(options)) {}

Task<std::uint64_t> Pool::execute_on(Pool* self, std::string sql, Params p) {
  Lease conn = co_await self->acquire();
  if (p.size() == 0) co_return co_await conn->execute(sql);  // as Connection::execute: simple
  Result r = co_await conn->query(std::move(sql), std::move(p));
  co_return r.affected_rows();
}

Task<Result> Pool::fetch_on(Pool* self, std::string sql, Params p) {
  Lease conn = co_await self->acquire();
  co_return co_await conn->query(std::move(sql), std::move(p));
}

}  // namespace weft::pg
