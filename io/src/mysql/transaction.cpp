// The steps of Connection::transaction (transaction.hpp): BEGIN, COMMIT and ROLLBACK, or a
// savepoint's SAVEPOINT, RELEASE and ROLLBACK TO when a transaction is already open.
#include <mysql.h>

#include <string>

#include "conn_state.hpp"
#include "weft/io/mysql/connection.hpp"
#include "weft/io/mysql/transaction.hpp"

namespace weft::mysql {
namespace {

const char* isolation_sql(IsolationLevel l) {
  switch (l) {
    case IsolationLevel::kReadUncommitted:
      return "SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED";
    case IsolationLevel::kReadCommitted:
      return "SET TRANSACTION ISOLATION LEVEL READ COMMITTED";
    case IsolationLevel::kRepeatableRead:
      return "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
    case IsolationLevel::kSerializable:
      return "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE";
    case IsolationLevel::kDefault:
      break;
  }
  return nullptr;
}

/// What commit raises when the transaction ended before it: a deadlock rolled it back (and
/// the body caught error 1213 and went on, outside it), or a statement of the body ended it
/// (COMMIT, ROLLBACK, or DDL, which commits implicitly).
Error ended_early(const Transaction& tx, bool deadlock) {
  ErrorFields f;
  const std::string what =
      tx.nested() ? "the transaction of savepoint " + tx.savepoint() : "the transaction";
  if (deadlock) {
    f.code = 1213;  // ER_LOCK_DEADLOCK
    f.sqlstate = "40001";
    f.message = what +
                " was rolled back by the server before the commit (a deadlock the "
                "body caught); what ran after it was not in the transaction";
  } else {
    f.sqlstate = "25000";
    f.message = what +
                " ended before the commit: a statement of the body committed or "
                "rolled it back (COMMIT, ROLLBACK, or DDL, which commits implicitly)";
  }
  return Error(f);
}

}  // namespace

bool Connection::in_transaction() const noexcept {
  if (!is_open()) return false;
  if (s_->status_stale) return false;
  unsigned int status = 0;
  mariadb_get_infov(s_->m, MARIADB_CONNECTION_SERVER_STATUS, &status);
  return (status & SERVER_STATUS_IN_TRANS) != 0;
}

Task<Transaction> Connection::begin_transaction(TransactionOptions options) {
  if (!in_transaction()) {  // closed too: execute says so
    if (const char* iso = isolation_sql(options.isolation)) co_await execute(iso);
    co_await execute(options.read_only ? "START TRANSACTION READ ONLY" : "START TRANSACTION");
    s_->savepoints = 0;
    s_->transaction_aborted = false;
    co_return Transaction(this, "");
  }
  if (options.isolation != IsolationLevel::kDefault || options.read_only) {
    throw UsageError(
        "weft::mysql::Connection::transaction: a nested transaction (a savepoint) takes no "
        "options; give them to the outermost one");
  }
  const std::string name = "weft_sp_" + std::to_string(s_->savepoints + 1);
  co_await execute("SAVEPOINT " + name);
  ++s_->savepoints;
  co_return Transaction(this, name);
}

Task<void> Connection::commit_transaction(const Transaction& tx) {
  if (is_open() && (s_->transaction_aborted || !in_transaction())) {
    throw ended_early(tx, s_->transaction_aborted);
  }
  if (tx.nested()) {
    --s_->savepoints;
    co_await execute("RELEASE SAVEPOINT " + tx.savepoint());
  } else {
    co_await execute("COMMIT");
  }
}

Task<void> Connection::rollback_transaction(const Transaction& tx) {
  if (!is_open()) co_return;  // closed or lost: the server rolled back with the session
  bool ok = false;
  try {
    if (s_->transaction_aborted || !in_transaction()) {
      ok = true;  // the server rolled it back already (a deadlock)
    } else if (tx.nested()) {
      --s_->savepoints;
      co_await execute("ROLLBACK TO SAVEPOINT " + tx.savepoint());
      co_await execute("RELEASE SAVEPOINT " + tx.savepoint());
      ok = true;
    } else {
      co_await execute("ROLLBACK");
      ok = true;
    }
  } catch (...) {
    // handled below
  }
  if (!ok) close();  // its transaction state is unknown: never hand it on
}

}  // namespace weft::mysql
