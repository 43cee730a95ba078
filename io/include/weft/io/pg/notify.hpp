// LISTEN/NOTIFY: a connection that LISTENs on a channel receives the notifications other
// sessions send to it (NOTIFY, pg_notify), as an async generator (asyncpg's add_listener).
//
//   co_await conn.listen("jobs");
//   auto notes = conn.notifications();
//   while (std::optional<pg::Notification> n = co_await notes.next()) {
//     co_await conn.execute("UPDATE jobs SET done = true WHERE id = $1::int8", n->payload);
//   }
//
// ## Where notifications wait
// The server sends a notification to a listening session when that session is idle (not in
// a transaction block), or just before the end of the query it runs. libpq keeps every
// notification it reads, whether during a query or while notifications() waits, in its own
// queue on the connection, in the order they came, until notifications() takes them: none
// is lost between two reads, and the queue has no bound, so a connection that LISTENs
// should be read. notifications() takes them one at a time (one notification taken is one
// yielded), so a generator destroyed or cancelled after a yield loses nothing either.
//
// ## Queries on a listening connection
// The generator holds the connection (as a query does: another query meanwhile is a
// UsageError) only while it takes a notification or waits for one, never while suspended at
// a yield: between two notifications the consumer may run queries on the same connection,
// and what arrives during them is yielded afterwards. Waiting inside a transaction block
// waits until the block ends (the server holds notifications back until then).
//
// ## Ends and errors
// The generator never ends by itself. A connection lost while it waits (the backend
// terminated, the server stopped) ends it with pg::ConnectionLost, after the notifications
// read before the loss. Waiting sends nothing to the server, so cancelling the task that
// waits (or a timeout) leaves the connection usable: the CancelledError (TimeoutError) ends
// the generator, and a new notifications() goes on where it stopped. A generator that threw
// yields nothing more.
#pragma once

#include <string>

#include "weft/runtime/async_generator.hpp"

namespace weft::pg {

/// A notification received on a channel this connection LISTENs on.
struct Notification {
  std::string channel;  ///< the channel's name, exactly as NOTIFY spelled it
  std::string payload;  ///< the payload ("" when NOTIFY gave none)
  int backend_pid = 0;  ///< the server process of the session that sent it
};

}  // namespace weft::pg
