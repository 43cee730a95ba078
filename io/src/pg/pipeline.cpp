// Connection::run_batch on libpq's pipeline mode (pipeline.hpp), on the steps of
// exchange.hpp.
//
// ## One batch
// The queries go into libpq's output buffer a chunk at a time (about kChunkBytes; libpq
// itself sends whenever its buffer passes its own threshold), a prepared statement's Parse
// ahead of its first Bind, and one Sync after the last query. Between chunks the task sends
// what the socket takes (PQflush), reads what the server has answered and takes every whole
// result, in the order of the items sent: each prepare and each query ends with a NULL from
// PQgetResult, the sync with PGRES_PIPELINE_SYNC.
//
// ## Never both sides waiting on full buffers
// The server answers while it reads, and it stops reading while its answers do not fit in
// the socket. So when the socket does not take all we send, the task waits for the socket to
// become writable *or* readable (two child tasks, one edge each: whichever comes first) and
// reads before it sends again; and before any wait it checks for input already in the
// kernel (exchange.cpp's opening comment: an edge counted before the sequence number would
// not wake it).
//
// ## Cancellation
// A cancelled task stops adding queries, appends the Sync if it was not sent yet, sends the
// cancel request (again after a while if the batch still runs, as exchange.cpp does) and
// pumps until the sync's result has been read, dropping results; then it leaves pipeline
// mode. Shielded and bounded by kCancelBound; if that fails the connection is closed.
#include "weft/io/pg/pipeline.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "conn_state.hpp"
#include "exchange.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/cancel.hpp"
#include "weft/runtime/join_handle.hpp"
#include "weft/runtime/task_group.hpp"
#include "weft/runtime/wait.hpp"

namespace weft::pg {

namespace {

// libpq's (and the protocol's) bound on the parameters of one query.
constexpr std::size_t kMaxParams = 65535;

std::string batch_what(const ErrorFields& f, std::size_t index, std::size_t size) {
  // Error's own what() after its "weft::pg: " prefix: the message, SQLSTATE, detail, query.
  const std::string rest = std::string(Error(f).what()).substr(10);
  return "weft::pg: the batch's query " + std::to_string(index) + " (0-based, of " +
         std::to_string(size) + ") failed, and the " + std::to_string(size - index - 1) +
         " after it were not run: " + rest;
}

/// True if `sql`'s first word is COPY (any case). A COPY FROM STDIN in a pipeline would take
/// the queries after it as its data, and the server would end the session.
bool starts_with_copy(std::string_view sql) {
  const std::size_t i = sql.find_first_not_of(" \t\r\n(");
  if (i == std::string_view::npos || sql.size() - i < 5) return false;
  for (std::size_t k = 0; k < 4; ++k) {
    if ((sql[i + k] | 0x20) != "copy"[k]) return false;
  }
  const char next = sql[i + 4];
  return next == ' ' || next == '\t' || next == '\r' || next == '\n' || next == '(';
}

}  // namespace

Batch::Mark Batch::begin_query(std::string_view sql) {
  if (starts_with_copy(sql)) {
    throw std::invalid_argument(
        "weft::pg::Batch::add: COPY cannot run in a batch (its data would have to come between "
        "the batch's queries): " +
        std::string(sql));
  }
  const Mark m{sqls_.size(), types_.size(), data_.size()};
  if (sqls_.empty() || sqls_.back() != sql) sqls_.emplace_back(sql);
  return m;
}

void Batch::end_query(const Mark& m) {
  const std::size_t n = types_.size() - m.params;
  if (n > kMaxParams) {
    throw std::length_error("weft::pg::Batch::add: " + std::to_string(n) +
                            " parameters, more than the protocol's 65535 per query");
  }
  queries_.push_back(
      Query{static_cast<std::uint32_t>(sqls_.size() - 1), static_cast<std::uint32_t>(n), m.params});
}

void Batch::rollback(const Mark& m) noexcept {
  sqls_.resize(m.sqls);
  types_.resize(m.params);
  offsets_.resize(m.params);
  lengths_.resize(m.params);
  data_.resize(m.data);
}

Batch& Batch::add_params(std::string_view sql, const Params& params) {
  const Mark m = begin_query(sql);
  try {
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (params.nulls()[i]) {
        put_null(params.types()[i]);
      } else {
        const std::string& v = params.values()[i];
        types_.push_back(params.types()[i]);
        offsets_.push_back(data_.size());
        lengths_.push_back(static_cast<int>(v.size()));
        data_.append(v);
      }
    }
    end_query(m);
  } catch (...) {
    rollback(m);
    throw;
  }
  return *this;
}

const std::string& Batch::sql(std::size_t i) const {
  if (i >= queries_.size()) {
    throw std::out_of_range("weft::pg::Batch::sql: query " + std::to_string(i) + " of " +
                            std::to_string(queries_.size()));
  }
  return sqls_[queries_[i].sql];
}

void Batch::clear() noexcept {
  sqls_.clear();
  queries_.clear();
  types_.clear();
  offsets_.clear();
  lengths_.clear();
  data_.clear();
}

BatchError::BatchError(ErrorFields f, std::size_t index, std::size_t size)
    : Error(f, batch_what(f, index, size)), index_(index), size_(size) {}

namespace detail {
namespace {

using namespace std::chrono_literals;

// As in exchange.cpp: how long a cancelled batch may take to end before the connection is
// closed, and the first and longest interval between cancel requests.
constexpr auto kCancelBound = 10s;
constexpr std::chrono::milliseconds kFirstResend = 50ms;
constexpr std::chrono::milliseconds kLastResend = 1s;

// Queries go into libpq's buffer this many bytes (estimated) at a time between reads: a
// bound on what is buffered on our side, large enough that the reads and sends between
// chunks cost little per query.
constexpr std::size_t kChunkBytes = 64 * 1024;

Task<void> edge(IoRegistration& reg, Interest interest, std::uint32_t seq) {
  co_await reg.wait(interest, seq);
}

/// Returns once the socket became writable after `wseq` or readable after `rseq`.
Task<void> writable_or_readable(IoRegistration& reg, std::uint32_t wseq, std::uint32_t rseq) {
  co_await weft::task_group([&](TaskGroup& tg) -> Task<void> {
    std::vector<JoinHandle<void>> hs;
    hs.push_back(tg.spawn(edge(reg, Interest::kWrite, wseq)));
    hs.push_back(tg.spawn(edge(reg, Interest::kRead, rseq)));
    (void)co_await weft::wait(std::move(hs), ReturnWhen::FirstCompleted);
    tg.cancel();
  });
}

/// True for the errors that say a cached statement is no longer valid on the server.
bool stale_statement(const PGresult* r) {
  const char* st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const char* m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  if (!st) return false;
  const std::string code = st;
  return code == "26000" ||
         (code == "0A000" && m && std::string(m).find("cached plan") != std::string::npos);
}

}  // namespace

/// One run of a batch: what was sent, what was read (see the opening comment).
class BatchRun {
 public:
  BatchRun(ConnState& s, const Batch& b) : s_(s), b_(b) { results_.reserve(b.size()); }

  Task<std::vector<Result>> run() {
    if (!PQenterPipelineMode(s_.conn)) lost(s_, b_.sqls_.front(), nullptr);
    std::exception_ptr cancelled, other;
    bool ok = false;
    try {
      ok = co_await pump();
    } catch (const CancelledError&) {
      cancelled = std::current_exception();
    } catch (...) {
      other = std::current_exception();
    }
    if (cancelled) {
      // In a task of its own, as finish() does (exchange.cpp): a timeout scope of the drain
      // must not overwrite this task's record of which scope cancelled it.
      co_await shield(spawn(abandon(), "weft::pg batch cancel"));
      std::rethrow_exception(cancelled);
    }
    if (other) {
      // The pipeline is in an unknown state (a failed allocation, an epoll error).
      s_.close();
      s_.lost = true;
      std::rethrow_exception(other);
    }
    if (!ok) failed();
    if (PQstatus(s_.conn) != CONNECTION_OK) lost(s_, error_sql(), error_.get());
    if (!PQexitPipelineMode(s_.conn)) lost(s_, error_sql(), nullptr);
    if (error_) {
      if (stale_statement(error_.get())) {
        const Batch::Query& q = b_.queries_[error_index_];
        s_.statements.invalidate(StatementCache::key(b_.sqls_[q.sql], types_of(q)));
      }
      throw BatchError(fields_of(error_.get(), error_sql()), error_index_, b_.size());
    }
    if (client_error_) throw BatchError(std::move(*client_error_), error_index_, b_.size());
    co_return std::move(results_);
  }

 private:
  enum class Kind : std::uint8_t { kPrepare, kQuery, kSync };
  struct Item {
    Kind kind;
    std::size_t query;     // the query it belongs to (kPrepare, kQuery)
    std::size_t prepared;  // kPrepare: its entry in prepared_
  };
  struct Prepared {
    std::string key;
    std::string name;
  };

  const std::string& error_sql() const {
    const bool failed = error_ || client_error_;
    return b_.sqls_[b_.queries_[failed ? error_index_ : std::min(read_query_, b_.size() - 1)].sql];
  }

  /// The parameter types of `q`, as the statement cache keys them.
  std::vector<Oid> types_of(const Batch::Query& q) const {
    const Oid* t = b_.types_.data() + q.first;
    return std::vector<Oid>(t, t + q.nparams);
  }

  /// The statement to run query `i` with, prepared in the pipeline first if no statement of
  /// its SQL and parameter types is prepared yet.
  const std::string& statement_for(std::size_t i) {
    const Batch::Query& q = b_.queries_[i];
    const Oid* types = q.nparams ? &b_.types_[q.first] : nullptr;
    if (have_last_ && q.sql == last_sql_ &&
        std::equal(types, types + q.nparams, last_types_.begin(), last_types_.end())) {
      return last_name_;
    }
    const std::string& sql = b_.sqls_[q.sql];
    std::vector<Oid> type_list = types_of(q);
    std::string key = StatementCache::key(sql, type_list);
    std::string name;
    if (auto here = prepared_here_.find(key); here != prepared_here_.end()) {
      name = here->second;
    } else if (std::optional<std::string> cached = s_.statements.find(key)) {
      name = std::move(*cached);
    } else {
      name = s_.statements.next_name();
      if (!PQsendPrepare(s_.conn, name.c_str(), sql.c_str(), static_cast<int>(q.nparams), types)) {
        send_failed(s_, sql);
      }
      items_.push_back(Item{Kind::kPrepare, i, prepared_.size()});
      prepared_.push_back(Prepared{key, name});
      prepared_here_.emplace(std::move(key), name);
    }
    have_last_ = true;
    last_sql_ = q.sql;
    last_types_ = std::move(type_list);
    last_name_ = std::move(name);
    return last_name_;
  }

  /// Appends about kChunkBytes of queries to libpq's buffer, and the Sync after the last.
  void send_some() {
    std::size_t bytes = 0;
    while (sending_ && next_ < b_.size() && bytes < kChunkBytes) {
      const Batch::Query& q = b_.queries_[next_];
      const std::string& sql = b_.sqls_[q.sql];
      const std::size_t n = q.nparams;
      values_.resize(n);
      if (formats_.size() < n) formats_.resize(n, 1);
      const int* lengths = n ? &b_.lengths_[q.first] : nullptr;
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t at = b_.offsets_[q.first + k];
        values_[k] = at == Batch::kNull ? nullptr : b_.data_.data() + at;
        bytes += static_cast<std::size_t>(lengths[k]) + 4;
      }
      if (s_.statements.caches(sql)) {
        const std::string& name = statement_for(next_);
        if (!PQsendQueryPrepared(s_.conn, name.c_str(), static_cast<int>(n), values_.data(),
                                 lengths, formats_.data(), /*resultFormat=*/1)) {
          send_failed(s_, sql);
        }
        bytes += name.size() + 48;
      } else {
        if (!PQsendQueryParams(s_.conn, sql.c_str(), static_cast<int>(n),
                               n ? &b_.types_[q.first] : nullptr, values_.data(), lengths,
                               formats_.data(), /*resultFormat=*/1)) {
          send_failed(s_, sql);
        }
        bytes += sql.size() + 64 + 4 * n;
      }
      items_.push_back(Item{Kind::kQuery, next_, 0});
      ++next_;
    }
    if (!synced_ && (next_ == b_.size() || !sending_)) {
      if (!PQpipelineSync(s_.conn)) send_failed(s_, "(the batch's synchronization point)");
      items_.push_back(Item{Kind::kSync, 0, 0});
      synced_ = true;
    }
  }

  /// Takes every whole result libpq holds, in the order of the items sent. False if the
  /// stream of results does not match them (the connection is then given up).
  bool take_results() {
    while (read_ < items_.size()) {
      if (copy_out_ && !drain_copy_out()) return !copy_out_failed_;
      if (PQisBusy(s_.conn)) break;
      ResultPtr r(PQgetResult(s_.conn));
      const Item& it = items_[read_];
      if (it.kind == Kind::kSync) {
        if (!r) return false;
        if (PQresultStatus(r.get()) == PGRES_PIPELINE_SYNC) {
          ++read_;
        } else {
          keep_error(std::move(r), read_query_);
        }
        continue;
      }
      if (!r) {  // the item's last result came
        if (it.kind == Kind::kPrepare) {
          if (item_ok_) {
            Prepared& p = prepared_[it.prepared];
            s_.statements.insert(p.key, std::move(p.name));
          }
        } else {
          if (!error_ && !discard_) results_.emplace_back(current_.release());
          current_.reset();
          read_query_ = it.query + 1;
        }
        item_ok_ = false;
        ++read_;
        continue;
      }
      switch (PQresultStatus(r.get())) {
        case PGRES_PIPELINE_ABORTED:
          break;
        case PGRES_FATAL_ERROR:
        case PGRES_NONFATAL_ERROR:
        case PGRES_BAD_RESPONSE:
          keep_error(std::move(r), it.query);
          break;
        case PGRES_COPY_IN:
          // One that Batch::add did not recognise (behind a comment). Ended with an error, the
          // server fails it; unless it was the last query, the server then reads the next
          // query as COPY data and ends the session (ConnectionLost).
          if (PQputCopyEnd(s_.conn, "weft::pg: COPY is not supported in a batch") < 0) {
            return false;
          }
          break;
        case PGRES_COPY_OUT:
          // Its rows are read and dropped; the batch then fails with a client error.
          keep_client_error("COPY TO STDOUT is not supported in a batch", it.query);
          copy_out_ = true;
          break;
        case PGRES_COPY_BOTH:  // replication: the stream cannot be ended from here
          return false;
        default:
          item_ok_ = true;
          if (it.kind == Kind::kQuery) current_ = std::move(r);
          break;
      }
    }
    return true;
  }

  /// Reads and drops a COPY TO STDOUT's rows; false while more are to come (or it failed:
  /// copy_out_failed_).
  bool drain_copy_out() {
    for (;;) {
      char* row = nullptr;
      const int n = PQgetCopyData(s_.conn, &row, /*async=*/1);
      if (n > 0) {
        PQfreemem(row);
        continue;
      }
      if (n == 0) return false;
      copy_out_ = false;
      copy_out_failed_ = n != -1;
      return n == -1;
    }
  }

  void keep_client_error(std::string message, std::size_t query) {
    if (error_ || client_error_) return;
    client_error_ = client_error(std::move(message), b_.sqls_[b_.queries_[query].sql]);
    error_index_ = query;
  }

  void keep_error(ResultPtr r, std::size_t query) {
    if (error_ || client_error_) return;
    error_ = std::move(r);
    error_index_ = std::min(query, b_.size() - 1);
  }

  /// Sends and reads until the sync's result has been read. False if the connection failed.
  Task<bool> pump() {
    for (;;) {
      // More only once libpq's buffer went out: what the socket does not take stays there.
      if (!backlog_) send_some();
      const std::uint32_t rseq = s_.reg.ready_seq(Interest::kRead);
      const std::uint32_t wseq = s_.reg.ready_seq(Interest::kWrite);
      const int flushed = PQflush(s_.conn);
      if (flushed < 0) co_return false;
      backlog_ = flushed == 1;
      if (!PQconsumeInput(s_.conn)) co_return false;
      if (!take_results()) co_return false;
      if (read_ == items_.size() && synced_) co_return true;
      if (flushed == 0 && sending_ && next_ < b_.size()) continue;  // the socket took it all
      if (input_pending(s_)) continue;
      if (flushed == 1) {
        co_await writable_or_readable(s_.reg, wseq, rseq);
      } else {
        co_await s_.reg.wait(Interest::kRead, rseq);
      }
    }
  }

  /// Sends the cancel request from the blocking pool (PQcancel blocks).
  Task<void> send_cancel() {
    PGcancel* cancel = s_.cancel;
    co_await to_thread([cancel] {
      char err[256];
      return PQcancel(cancel, err, sizeof err);
    });
  }

  /// After a cancellation: stop sending, cancel, drop every result up to the sync.
  Task<void> cancel_and_drain() {
    sending_ = false;
    discard_ = true;
    std::chrono::milliseconds resend_after = kFirstResend;
    for (;;) {
      if (!(read_ == items_.size() && synced_)) co_await send_cancel();
      try {
        if (!co_await wait_for(pump(), resend_after)) throw std::runtime_error("pump failed");
        break;
      } catch (const TimeoutError&) {
        resend_after = std::min(resend_after * 2, kLastResend);
      }
    }
    if (PQstatus(s_.conn) != CONNECTION_OK || !PQexitPipelineMode(s_.conn)) {
      throw std::runtime_error("connection failed");
    }
  }

  /// Shielded and bounded (see the opening comment); closes the connection if it fails.
  /// Never throws.
  Task<void> abandon() {
    bool ok = false;
    try {
      co_await wait_for(cancel_and_drain(), kCancelBound);
      ok = true;
    } catch (...) {
      // closed below: its state is unknown
    }
    if (!ok) {
      s_.close();
      s_.lost = true;
    }
  }

  /// The connection failed: ConnectionLost, with the server's report if libpq read one (a
  /// terminated backend's FATAL).
  [[noreturn]] void failed() {
    // PQgetResult would block on a connection still busy: only a broken or idle one. A
    // NULL ends each item's results, so a few in a row end the search.
    for (int nulls = 0, left = 64; nulls < 3 && left > 0 && s_.conn &&
                                   (PQstatus(s_.conn) != CONNECTION_OK || !PQisBusy(s_.conn));
         --left) {
      ResultPtr r(PQgetResult(s_.conn));
      if (!r) {
        ++nulls;
        continue;
      }
      nulls = 0;
      if (PQresultErrorField(r.get(), PG_DIAG_SQLSTATE)) keep_error(std::move(r), read_query_);
    }
    lost(s_, error_sql(), error_.get());
  }

  ConnState& s_;
  const Batch& b_;
  std::vector<Item> items_;                  // sent, in order
  std::size_t next_ = 0;                     // the next query to send
  std::size_t read_ = 0;                     // the item whose results come next
  std::size_t read_query_ = 0;               // the query whose results come next
  bool synced_ = false;                      // the Sync is in libpq's buffer
  bool sending_ = true;                      // false once cancelled: no more queries
  bool discard_ = false;                     // drop results (cancelled)
  bool item_ok_ = false;                     // the current item had a successful result
  bool backlog_ = false;                     // the last PQflush left data in libpq's buffer
  ResultPtr current_;                        // the current query's last result
  ResultPtr error_;                          // the first error of the batch
  std::optional<ErrorFields> client_error_;  // or the client's (a COPY TO STDOUT)
  bool copy_out_ = false;                    // a COPY TO STDOUT's rows are being dropped
  bool copy_out_failed_ = false;
  std::size_t error_index_ = 0;  // its query
  std::vector<Result> results_;
  std::vector<Prepared> prepared_;                              // Parse sent by this batch
  std::unordered_map<std::string, std::string> prepared_here_;  // key -> name
  bool have_last_ = false;  // the statement of the query before, reused for a repeat
  std::uint32_t last_sql_ = 0;
  std::vector<Oid> last_types_;
  std::string last_name_;
  std::vector<const char*> values_;  // one query's parameters for libpq, reused
  std::vector<int> formats_;         // all 1 (binary), as many as the widest query needs
};

Task<std::uint64_t> execute_batch(Connection& c, Batch batch) {
  std::vector<Result> rs = co_await c.run_batch(batch);
  std::uint64_t n = 0;
  for (const Result& r : rs) n += r.affected_rows();
  co_return n;
}

}  // namespace detail

Task<std::vector<Result>> Connection::run_batch(const Batch& batch) {
  detail::ConnState* s = s_.get();
  detail::QueryScope scope(s, "run_batch");
  if (batch.empty()) co_return std::vector<Result>();
  co_await detail::close_evicted(*s);
  detail::BatchRun run(*s, batch);
  co_return co_await run.run();
}

}  // namespace weft::pg
