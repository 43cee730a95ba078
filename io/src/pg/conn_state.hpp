// The state behind a pg::Connection, shared by connect.cpp and connection.cpp.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "statement_cache.hpp"
#include "weft/io/pg/connection.hpp"
#include "weft/runtime/io.hpp"

namespace weft::pg::detail {

struct ConnState {
  ConnState() = default;
  ConnState(const ConnState&) = delete;
  ConnState& operator=(const ConnState&) = delete;
  ~ConnState() { close(); }

  /// Deregisters the socket, then lets libpq close it (in that order: a registration must go
  /// before its fd, runtime/io.hpp). libpq closes the socket itself when it finds the
  /// connection broken (PQsocket is -1 then): its number may be another connection's by
  /// now, on any thread, so the registration is only forgotten.
  void close() noexcept {
    if (conn && PQsocket(conn) == reg.fd()) {
      reg.reset();
    } else {
      reg.reset_closed();
    }
    if (cancel) PQfreeCancel(cancel);
    cancel = nullptr;
    if (conn) PQfinish(conn);
    conn = nullptr;
  }

  PGconn* conn = nullptr;
  /// The cancel request's key, made once connected (PQcancel uses it from another thread).
  PGcancel* cancel = nullptr;
  /// The connection's socket on the reactor, from connect() to close().
  IoRegistration reg;
  /// "host=H port=P", for messages.
  std::string target;
  /// Set while a query runs: one at a time. Exchanged by whichever task starts a query, on
  /// any worker; acquire/release pairs one query's libpq state with the next one's.
  std::atomic<bool> busy{false};
  /// Prepared statements (statement_cache.hpp); the capacity comes from ConnectOptions.
  StatementCache statements{0};
  /// The statement cache's key of the query running now (kept: no allocation per query).
  std::string statement_key;
  /// A LISTEN succeeded since the last UNLISTEN * (Connection::listening).
  bool listening = false;
  /// Savepoints open now, for the names of nested transactions (transaction.cpp).
  int savepoints = 0;
  /// ConnectOptions::on_notice (libpq's notice receiver calls it with this state).
  std::function<void(const Notice&)> on_notice;
  /// Set when the connection was lost (the PGconn is closed then): later calls say so.
  bool lost = false;

  // LISTEN/NOTIFY (notify.cpp).
  /// The last error the server reported outside a query: libpq hands it to the notice
  /// receiver (connect.cpp), and it is a terminated backend's FATAL just before the end of
  /// the stream, which notifications() then reports as the ConnectionLost's cause.
  std::optional<ErrorFields> idle_error;
};

}  // namespace weft::pg::detail
