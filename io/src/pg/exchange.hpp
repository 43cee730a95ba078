// The steps of one exchange with the server (exchange.cpp), shared by the files that build
// pg::Connection's operations on them: queries, COPY, LISTEN/NOTIFY, pipelines.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "conn_state.hpp"
#include "weft/io/pg/errors.hpp"
#include "weft/io/pg/result.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/task.hpp"

namespace weft::pg::detail {

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

/// `m` without the newlines and spaces libpq ends its messages with.
std::string trimmed(std::string m);

/// The fields of an error the client found.
ErrorFields client_error(std::string message, std::string sql);

/// The fields of the server's error in `r`, with the query that caused it.
ErrorFields fields_of(const PGresult* r, const std::string& sql);

/// Closes the connection as lost and throws ConnectionLost: with the server's report if one
/// came (a terminated backend says why), else libpq's message.
[[noreturn]] void lost(ConnState& s, const std::string& sql, const PGresult* report);

/// Throws for a PQsend* that failed: ConnectionLost if the connection is broken.
[[noreturn]] void send_failed(ConnState& s, const std::string& sql);

/// True if a read would find data now: in the kernel, or in OpenSSL's record buffer.
bool input_pending(ConnState& s);

/// Sends what libpq has buffered. False if the connection failed. `consumed` is set if
/// input was read meanwhile (libpq asks for that while a flush waits).
Task<bool> flush(ConnState& s, bool& consumed);

/// Reads until libpq holds a whole result (PQisBusy is false). False if the connection
/// failed. With `edge_since`, first waits for a read edge after it (a sequence number taken
/// before the request was sent: exchange.cpp's opening comment).
Task<bool> until_ready(ConnState& s, std::optional<std::uint32_t> edge_since);

/// After the task was cancelled in the middle of an exchange: shielded and bounded, sends
/// the cancel request and drops every result until the connection is idle; closes it (as
/// lost) if that fails. Never throws.
Task<void> abandon(ConnState& s);

/// Runs the query libpq was just given (sent, or partly sent; `read_seq` taken before the
/// send); its last result. Throws pg::Error for the server's error, ConnectionLost, or the
/// task's CancelledError once the query has been cancelled and drained.
Task<Result> finish(ConnState& s, const std::string& sql, std::uint32_t read_seq);

/// Sends `sql` by the simple protocol and waits for its end; its last result.
Task<Result> run_simple(ConnState& s, const std::string& sql);

/// Deallocates the prepared statements the cache let go (before a query or a batch that
/// uses the cache). Only outside a transaction block; an error saying they are gone already
/// is dropped. Throws ConnectionLost, or the task's CancelledError.
Task<void> close_evicted(ConnState& s);

/// Marks the connection busy for one query; throws if it is closed, lost or busy.
class QueryScope {
 public:
  QueryScope(ConnState* s, const char* what) {
    if (!s || (!s->conn && !s->lost)) {
      throw UsageError(std::string("weft::pg::Connection::") + what + ": the connection is closed");
    }
    if (s->lost) {
      throw ConnectionLost(client_error("the connection was lost before", ""));
    }
    // Acquire: the previous query's writes to the libpq state happen-before this one's.
    if (s->busy.exchange(true, std::memory_order_acquire)) {
      throw UsageError(std::string("weft::pg::Connection::") + what +
                       ": the connection is running another query (one at a time; a "
                       "pg::Pool shares connections between tasks)");
    }
    s_ = s;
  }
  QueryScope(const QueryScope&) = delete;
  QueryScope& operator=(const QueryScope&) = delete;
  // Release: pairs with the next query's acquire.
  ~QueryScope() { s_->busy.store(false, std::memory_order_release); }

 private:
  ConnState* s_ = nullptr;
};

}  // namespace weft::pg::detail
