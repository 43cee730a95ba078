// The state behind a mysql::Connection, and the loop that runs one non-blocking library
// call to its end (complete()); shared by connect.cpp and query.cpp.
//
// ## A library call
// Every Connector/C call that may read or write is split in two: `X_start(...)` runs it
// until the socket would block and returns the events it waits for (MYSQL_WAIT_READ or
// MYSQL_WAIT_WRITE; 0 once done), `X_cont(..., events)` goes on once they happened. The
// library runs the call on a stack of its own, switched by hand, so a call suspended on
// one worker may be continued on another: that holds because the library keeps no
// thread-local state across a suspension (errno is read afresh after each read or write;
// checked in Debian's build, and exercised by the tests under the schedule fuzzer, which
// moves tasks between workers at random).
//
// Before each `_start` or `_cont`, arm() reads the socket's readiness sequence numbers
// (runtime/io.hpp: taken before the syscall whose EAGAIN leads to the wait).
#pragma once

#include <mysql.h>
#include <sys/socket.h>

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <source_location>
#include <string>

#include "statement_cache.hpp"
#include "weft/io/mysql/connection.hpp"
#include "weft/runtime/io.hpp"
#include "weft/runtime/task.hpp"

namespace weft::mysql::detail {

struct ConnState {
  ConnState() = default;
  ConnState(const ConnState&) = delete;
  ConnState& operator=(const ConnState&) = delete;
  ~ConnState() { close(); }

  /// Adopts the library's socket if it changed (it makes one in the first call of a
  /// connect, and closes it when it finds the connection broken). A registration made now
  /// has not joined an epoll yet; its first wait adds it, and an edge-triggered add reports
  /// the readiness the socket has then, so the numbers it starts with lose nothing.
  void adopt() noexcept {
    const int fd = m ? static_cast<int>(mysql_get_socket(m)) : -1;
    if (fd == reg.fd()) return;
    // The library closed the old socket itself: its number may be another's by now.
    reg.reset_closed();
    reg = fd >= 0 ? IoRegistration(fd) : IoRegistration();
    if (fd >= 0) {
      read_seq = reg.ready_seq(Interest::kRead);
      write_seq = reg.ready_seq(Interest::kWrite);
    }
  }

  /// Reads the socket's readiness sequence numbers: before every call.
  void arm() noexcept {
    adopt();
    if (reg.fd() >= 0) {
      read_seq = reg.ready_seq(Interest::kRead);
      write_seq = reg.ready_seq(Interest::kWrite);
    }
  }

  /// Awaits what a call's `status` asks for; returns the events to continue it with.
  class Ready {
   public:
    Ready(ConnState& s, Interest in, int events) noexcept
        : w_(s.reg, in, in == Interest::kRead ? s.read_seq : s.write_seq), events_(events) {}
    bool await_ready() const noexcept { return w_.await_ready(); }
    bool await_suspend(std::coroutine_handle<> h,
                       std::source_location where = std::source_location::current()) {
      return w_.await_suspend(h, where);
    }
    int await_resume() {
      w_.await_resume();
      return events_;
    }

   private:
    IoRegistration::WaitAwaiter w_;
    int events_;
  };
  /// The library asks for one direction at a time (TLS too: SSL_ERROR_WANT_READ or _WRITE).
  Ready ready(int status) noexcept {
    return (status & MYSQL_WAIT_READ) ? Ready(*this, Interest::kRead, MYSQL_WAIT_READ)
                                      : Ready(*this, Interest::kWrite, MYSQL_WAIT_WRITE);
  }

  /// After a wait failed (cancelled) in the middle of a call: the exchange cannot be taken
  /// up later, so the socket is shut down and the call run on to its end (every read and
  /// write now fails at once), and the connection closed. `cont` is the call's `_cont`.
  template <class Cont>
  void abandon(int status, Cont& cont) noexcept {
    const int fd = m ? static_cast<int>(mysql_get_socket(m)) : -1;
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    // Bounded: each round makes one failing syscall; the library gives up at the first.
    for (int i = 0; status != 0 && i < 64; ++i) {
      status = cont(status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE));
    }
    lost = true;
    lost_error.code = 2013;
    lost_error.sqlstate = "HY000";
    lost_error.message = "the connection was closed when a statement on it was cancelled";
    before_close();
    close();
  }

  /// Frees what the running statement holds that closing must not meet (a result read
  /// row by row refers to the connection). Set by query.cpp while it reads rows.
  void before_close() noexcept;

  /// Deregisters the socket, then closes the connection (telling the server with COM_QUIT
  /// if the socket takes it at once), then frees the prepared statements. Idempotent.
  void close() noexcept;

  MYSQL* m = nullptr;
  /// The connection's socket on the reactor.
  IoRegistration reg;
  std::uint32_t read_seq = 0;
  std::uint32_t write_seq = 0;
  /// "HOST:PORT" or the socket's path, for messages.
  std::string target;
  /// Set while a statement runs: one at a time. Exchanged by whichever task starts one, on
  /// any worker; acquire/release pairs one statement's library state with the next one's.
  std::atomic<bool> busy{false};
  /// Set when the connection was lost or abandoned (closed then): later calls say so.
  bool lost = false;
  /// What lost the connection: later calls raise ConnectionLost with it.
  ErrorFields lost_error;
  StatementCache statements{0};
  /// Savepoints open now, for the names of nested transactions (transaction.cpp).
  int savepoints = 0;
  /// A deadlock (error 1213) rolled the session's transaction back. Error packets carry no
  /// server status, so the library's last status (in a transaction) is stale from then until
  /// a statement succeeds: in_transaction() says no meanwhile.
  bool status_stale = false;
  /// A deadlock ended the transaction that Connection::transaction opened: its commit fails
  /// (transaction.cpp). Cleared when it begins the next outermost one.
  bool transaction_aborted = false;
  std::size_t max_result_bytes = 0;
  /// A text result being read row by row (query.cpp), freed before the connection closes.
  MYSQL_RES* open_result = nullptr;
};

/// Runs the library call whose `_start` returned `status` to its end: waits as it asks and
/// calls `cont(events)` (the call's `_cont`, returning the next status) until it returns 0.
/// If a wait throws (the task was cancelled), the connection is abandoned (above) and the
/// exception goes on.
template <class Cont>
Task<void> complete(ConnState& s, int status, Cont cont) {
  while (status != 0) {
    int events = MYSQL_WAIT_TIMEOUT;  // a wait with no direction: only a timeout it set
    if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE)) {
      s.adopt();  // the socket the call made, when it was the first
      try {
        events = co_await s.ready(status);
      } catch (...) {
        s.abandon(status, cont);
        throw;
      }
    }
    s.arm();
    status = cont(events);
  }
}

}  // namespace weft::mysql::detail
