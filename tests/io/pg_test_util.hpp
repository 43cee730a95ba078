// Helpers the weft::pg test binaries share (each with its own server: pg_server.hpp).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <utility>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"

namespace weft_test::pg {

/// Runs `body` (a callable taking weft::pg::Connection& and returning a Task<void>) with a
/// fresh connection to the test server, on a runtime of its own.
template <class F>
auto with_conn(F body) {
  return weft::run([](F body) -> weft::Task<void> {
    weft::pg::Connection c = co_await weft::pg::connect(server().conninfo());
    co_await body(c);
  }(std::move(body)));
}

/// Returns once backend `pid` runs a query, as `observer` sees in pg_stat_activity; fails
/// the test after 2,000 looks 5 ms apart.
inline weft::Task<void> until_running(weft::pg::Connection& observer, int pid) {
  for (int i = 0; i < 2000; ++i) {
    if (co_await observer.fetchval<bool>("SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
                                         "WHERE pid = $1 AND state = 'active')",
                                         pid)) {
      co_return;
    }
    co_await weft::sleep(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "backend " << pid << " never ran the query";
}

}  // namespace weft_test::pg
