// What pg::Pool and mysql::Pool hand to the generic weft::Pool from their PoolOptions, which
// have the same sizing and ageing fields (and each its own connect options).
#pragma once

#include "weft/runtime/time.hpp"
#include "weft/sync/pool_options.hpp"

namespace weft::detail {

/// The weft::PoolOptions of a database client's pool options `o`. A connection's health
/// check costs no round trip in either client, so it runs whenever an idle one is lent.
template <class ClientPoolOptions>
weft::PoolOptions client_pool_options(const ClientPoolOptions& o) {
  weft::PoolOptions p;
  p.name = o.name;
  p.min_size = o.min_size;
  p.max_size = o.max_size;
  p.acquire_timeout = o.acquire_timeout;
  p.max_lifetime = o.max_lifetime;
  p.max_idle_time = o.max_idle_time;
  p.check_after_idle = Duration::zero();
  return p;
}

}  // namespace weft::detail
