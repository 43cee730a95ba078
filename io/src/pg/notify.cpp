// LISTEN/NOTIFY on a pg::Connection (notify.hpp): listen, unlisten and notify are queries;
// notifications() takes what libpq has queued and otherwise waits on the reactor.
//
// ## Waiting (edge-triggered readiness: exchange.cpp's opening comment)
// Nothing is sent, so no response is due: each PQconsumeInput comes after a fresh read
// sequence number, and the wait is for an edge after it. PQconsumeInput reads at most its
// buffer's free space, so before waiting input_pending checks the kernel (and OpenSSL's
// buffer) for the rest, whose edge was counted before the sequence number. PQnotifies
// parses what was read: notifications go to libpq's queue, an error report outside a query
// (a terminated backend's FATAL) to the notice receiver (ConnState::idle_error), and the
// end of the stream fails the next PQconsumeInput. After a failure, what was read before it
// is still parsed and yielded first; then the generator ends with ConnectionLost.
//
// The QueryScope is taken for each notification taken or waited for, and released before
// the yield: the consumer may run queries between two notifications, and a wait cancelled
// leaves libpq idle with nothing sent (a partial message read stays in libpq's buffer).
#include "weft/io/pg/notify.hpp"

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "conn_state.hpp"
#include "exchange.hpp"
#include "weft/io/pg/connection.hpp"

namespace weft::pg {

using detail::ConnState;
using detail::QueryScope;

namespace {

/// The longest channel name, in bytes (NAMEDATALEN - 1): LISTEN would truncate a longer
/// one, and pg_notify refuses it, so they would never meet.
constexpr std::size_t kMaxChannel = 63;

/// Throws if `channel` is no name PostgreSQL can LISTEN on whole (`what`: the method).
void check_channel(const std::string& channel, const char* what) {
  const std::string where = std::string("weft::pg::Connection::") + what + ": ";
  if (channel.empty()) throw std::invalid_argument(where + "the channel name is empty");
  if (channel.find('\0') != std::string::npos) {
    throw std::invalid_argument(where + "the channel name contains a NUL byte");
  }
  if (channel.size() > kMaxChannel) {
    throw std::length_error(where + "the channel name \"" + channel + "\" is " +
                            std::to_string(channel.size()) +
                            " bytes long; PostgreSQL's are at most " + std::to_string(kMaxChannel));
  }
}

/// `channel` as a quoted identifier, in the connection's client encoding.
std::string quoted(ConnState& s, const std::string& channel, const char* what) {
  std::unique_ptr<char, decltype(&PQfreemem)> q(
      PQescapeIdentifier(s.conn, channel.data(), channel.size()), &PQfreemem);
  if (!q) {
    throw std::invalid_argument(
        std::string("weft::pg::Connection::") + what +
        ": the channel name cannot be quoted: " + detail::trimmed(PQerrorMessage(s.conn)));
  }
  return q.get();
}

/// Runs `verb` (LISTEN or UNLISTEN) on `channel`, quoted.
Task<void> run_command(ConnState* s, std::string channel, const char* verb, const char* what) {
  QueryScope scope(s, what);
  const std::string sql = std::string(verb) + " " + quoted(*s, channel, what);
  co_await detail::run_simple(*s, sql);
}

/// The Notification of libpq's `raw`, which it frees.
Notification take(PGnotify* raw) {
  std::unique_ptr<PGnotify, decltype(&PQfreemem)> n(raw, &PQfreemem);
  Notification out;
  out.channel = n->relname;
  out.payload = n->extra ? n->extra : "";
  out.backend_pid = n->be_pid;
  return out;
}

/// Closes the connection as lost and throws ConnectionLost, with the server's report of why
/// if it sent one.
[[noreturn]] void connection_lost(ConnState& s) {
  ErrorFields f = s.idle_error ? std::move(*s.idle_error)
                               : detail::client_error(detail::trimmed(PQerrorMessage(s.conn)), "");
  s.idle_error.reset();
  s.close();
  s.lost = true;
  throw ConnectionLost(std::move(f));
}

/// The next notification: the first libpq has queued, else the first to arrive.
Task<Notification> receive(ConnState* s) {
  QueryScope scope(s, "notifications");
  std::uint32_t seq = 0;
  bool read = false;
  bool failed = false;
  for (;;) {
    if (PGnotify* n = PQnotifies(s->conn)) co_return take(n);
    if (failed || PQstatus(s->conn) != CONNECTION_OK) connection_lost(*s);
    if (read && !detail::input_pending(*s)) co_await s->reg.wait(Interest::kRead, seq);
    seq = s->reg.ready_seq(Interest::kRead);
    failed = !PQconsumeInput(s->conn);
    read = true;
  }
}

AsyncGenerator<Notification> notifications_of(ConnState* s) {
  for (;;) {
    Notification n = co_await receive(s);
    co_yield std::move(n);
  }
}

}  // namespace

Task<void> Connection::listen(std::string channel) {
  check_channel(channel, "listen");
  co_await run_command(s_.get(), std::move(channel), "LISTEN", "listen");
  s_->listening = true;
}

Task<void> Connection::unlisten(std::string channel) {
  check_channel(channel, "unlisten");
  co_await run_command(s_.get(), std::move(channel), "UNLISTEN", "unlisten");
}

Task<void> Connection::unlisten_all() {
  QueryScope scope(s_.get(), "unlisten_all");
  const std::string sql = "UNLISTEN *";
  co_await detail::run_simple(*s_, sql);
  s_->listening = false;
}

bool Connection::listening() const noexcept {
  return s_ && s_->listening;
}

Task<void> Connection::notify(std::string channel, std::string payload) {
  check_channel(channel, "notify");
  Params params(channel, payload);
  std::string sql = "SELECT pg_notify($1, $2)";
  co_await query(std::move(sql), std::move(params));
}

Task<void> Connection::notify(std::string channel) {
  std::string payload;
  co_await notify(std::move(channel), std::move(payload));
}

AsyncGenerator<Notification> Connection::notifications() {
  return notifications_of(s_.get());
}

}  // namespace weft::pg
