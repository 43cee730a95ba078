// KILL QUERY for a cancelled statement (conn_state.hpp's stop_statement), sent on a
// connection of its own, as the server takes it.
#include <string>

#include "conn_state.hpp"
#include "weft/io/mysql/connection.hpp"

namespace weft::mysql::detail {

Task<void> kill_query(ConnState& s) {
  // Made with the session's own options, bounded: a server that does not answer lets the
  // cancelled statement run out kCancelBound, after which its connection is closed anyway.
  const std::string sql = "KILL QUERY " + std::to_string(mysql_thread_id(s.m));
  ConnectOptions o = s.options;
  o.statement_cache_size = 0;
  try {
    Connection side = co_await connect(std::move(o), std::chrono::seconds(5));
    co_await side.execute(sql);
  } catch (const std::exception&) {
    // dropped: see the declaration
  }
}

}  // namespace weft::mysql::detail
