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
// Each `_start` and `_cont` is made by ConnState::call, which first reads the socket's
// readiness sequence numbers (arm(); runtime/io.hpp: taken before the syscall whose EAGAIN
// leads to the wait).
#pragma once

#include <mysql.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <source_location>
#include <string>
#include <type_traits>

#include "../signal/sigpipe_block.hpp"
#include "statement_cache.hpp"
#include "weft/io/mysql/connection.hpp"
#include "weft/runtime/cancel.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/io.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

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

  /// Makes one library call `f` (a `_start`, a `_cont`, or another that may write), after
  /// arm(). While `sigpipe_prone`, SIGPIPE is blocked in this thread around the call, and
  /// one it raised taken (signal/sigpipe_block.hpp).
  template <class F>
  int call(F&& f) {
    arm();
    if (!sigpipe_prone) [[likely]]
      return f();
    weft::detail::SigpipeBlock block;
    const int status = f();
    block.take_pending();
    return status;
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
      const int events = status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE);
      status = call([&] { return cont(events); });
    }
    lost = true;
    lost_error.code = 2013;
    lost_error.sqlstate = "HY000";
    lost_error.message =
        "the connection was closed when a statement on it was cancelled (it could not be "
        "stopped, or rows were still to come)";
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
  /// Set while a statement runs: one at a time. Exchanged by whichever task starts one, on
  /// any worker; acquire/release pairs one statement's library state with the next one's.
  std::atomic<bool> busy{false};
  /// Set while the library may write with write(2), which raises SIGPIPE at a peer that is
  /// gone: during a connect that may negotiate TLS, whose session writes through OpenSSL's
  /// socket BIO until connect() replaces it (tls_socket_bio.hpp). The library sends with
  /// MSG_NOSIGNAL itself otherwise. call() and close() guard against SIGPIPE meanwhile.
  bool sigpipe_prone = false;
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
  /// What connect() was given: KILL QUERY's own connection is made with it (cancel.cpp).
  ConnectOptions options;
};

// How long a cancelled statement may take to end after the first KILL QUERY before the
// connection is given up (closed): long enough for a loaded server, short enough that a
// lost server does not hold the cancelled task.
inline constexpr std::chrono::seconds kCancelBound{10};
// The first and the longest interval between KILL QUERYs for one statement (see
// kill_and_finish).
inline constexpr std::chrono::milliseconds kFirstKill{50};
inline constexpr std::chrono::milliseconds kLastKill{1000};

/// Sends KILL QUERY for this session, on a connection of its own (made with the session's
/// options). Failures are dropped: the statement then ends by itself, or the bound closes
/// the connection. cancel.cpp.
Task<void> kill_query(ConnState& s);

/// Waits as `status` asks and continues the call with `cont` until it is done.
template <class Cont>
Task<void> finish_call(ConnState& s, int& status, Cont& cont) {
  while (status != 0) {
    int events = MYSQL_WAIT_TIMEOUT;  // a wait with no direction: only a timeout it set
    if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE)) {
      s.adopt();
      events = co_await s.ready(status);
    }
    status = s.call([&] { return cont(events); });
  }
}

/// Stops the running statement and finishes the call: KILL QUERY, then the call's waits, and
/// KILL QUERY again, less and less often, while the call has not ended (a KILL that reaches
/// the server before the statement does finds nothing to stop); then `rest()` reads and
/// drops what the statement still sends (rows of a statement the KILL came too late for, or
/// that ended with a result, as SLEEP does).
template <class Cont, class Rest>
Task<void> kill_and_finish(ConnState& s, int& status, Cont& cont, Rest& rest) {
  std::chrono::milliseconds every = kFirstKill;
  co_await kill_query(s);
  while (status != 0) {
    bool again = false;
    try {
      co_await wait_for(finish_call(s, status, cont), every);
    } catch (const TimeoutError&) {
      again = true;
    }
    if (again) {
      every = std::min(every * 2, kLastKill);
      co_await kill_query(s);
    }
  }
  if (s.m) co_await rest();
}

/// After the task was cancelled in the middle of a statement's call (run shielded): the
/// statement is stopped, the call finished and the rest of the statement read within
/// kCancelBound, and the connection is usable; else it is abandoned.
template <class Cont, class Rest>
Task<void> stop_statement(ConnState& s, int& status, Cont& cont, Rest& rest) {
  bool finished = false;
  try {
    co_await wait_for(kill_and_finish(s, status, cont, rest), kCancelBound);
    finished = true;
  } catch (...) {
    // abandoned below
  }
  if (!finished) {
    s.abandon(status, cont);  // (status is 0 if the bound ran out in rest(): it abandoned)
  } else if (s.m && mysql_get_socket(s.m) < 0) {
    s.abandon(0, cont);  // the library found the connection broken
  }
}

/// A call that stands for none: stop_statement's `cont` when no call is suspended.
inline int no_call(int) noexcept {
  return 0;
}

/// A cancellation point between two calls of a statement, when the task's budget is spent
/// (rows that are always ready would otherwise hold the worker, and a cancellation could
/// never reach the task): yields, and if the task was cancelled meanwhile, stops the
/// statement as complete() does (KILL QUERY, then `rest`) before the exception goes on.
/// Call it as `if (!weft::detail::budget_spend()) co_await yield_point(s, rest)`.
template <class Rest>
Task<void> yield_point(ConnState& s, Rest rest) {
  std::exception_ptr cancelled;
  try {
    co_await yield_now();
  } catch (...) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    int status = 0;
    auto cont = &no_call;
    co_await shield(stop_statement(s, status, cont, rest));
    std::rethrow_exception(cancelled);
  }
}

/// Runs the library call whose `_start` returned `status` to its end: waits as it asks and
/// calls `cont(events)` (the call's `_cont`, returning the next status) until it returns 0.
/// If a wait throws (the task was cancelled), the call is finished shielded from further
/// cancellation and the exception goes on: for a statement's call, by stop_statement, with
/// `rest` (a callable returning Task<void>) reading what the statement still sends; with
/// `rest` nullptr (a connect, or a call of `rest` itself), by abandoning the connection.
template <class Cont, class Rest>
Task<void> complete(ConnState& s, int status, Cont cont, Rest rest) {
  while (status != 0) {
    int events = MYSQL_WAIT_TIMEOUT;  // a wait with no direction: only a timeout it set
    if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE)) {
      s.adopt();  // the socket the call made, when it was the first
      std::exception_ptr cancelled;
      try {
        events = co_await s.ready(status);
      } catch (...) {
        cancelled = std::current_exception();
      }
      if (cancelled) {
        if constexpr (std::is_same_v<Rest, std::nullptr_t>) {
          s.abandon(status, cont);
        } else {
          co_await shield(stop_statement(s, status, cont, rest));
        }
        std::rethrow_exception(cancelled);
      }
    }
    status = s.call([&] { return cont(events); });
  }
}

}  // namespace weft::mysql::detail
