// The steps of Connection::transaction (transaction.hpp): BEGIN or SAVEPOINT, COMMIT or
// RELEASE, ROLLBACK or ROLLBACK TO.
#include "weft/io/pg/transaction.hpp"

#include <string>

#include "conn_state.hpp"

namespace weft::pg {
namespace {

std::string begin_sql(const TransactionOptions& o) {
  std::string sql = "BEGIN";
  switch (o.isolation) {
    case IsolationLevel::kDefault:
      break;
    case IsolationLevel::kReadCommitted:
      sql += " ISOLATION LEVEL READ COMMITTED";
      break;
    case IsolationLevel::kRepeatableRead:
      sql += " ISOLATION LEVEL REPEATABLE READ";
      break;
    case IsolationLevel::kSerializable:
      sql += " ISOLATION LEVEL SERIALIZABLE";
      break;
  }
  if (o.read_only) sql += " READ ONLY";
  if (o.deferrable) sql += " DEFERRABLE";
  return sql;
}

bool has_options(const TransactionOptions& o) {
  return o.isolation != IsolationLevel::kDefault || o.read_only || o.deferrable;
}

/// The error for a body that caught the error which aborted its transaction.
Error aborted_earlier(const Transaction& tx) {
  ErrorFields f;
  f.sqlstate = "25P02";  // in_failed_sql_transaction
  f.message = std::string("the ") + (tx.nested() ? "savepoint " + tx.savepoint() : "transaction") +
              " was aborted by an error that its body caught; rolled back instead of committed";
  return Error(std::move(f));
}

}  // namespace

Task<Transaction> Connection::begin_transaction(TransactionOptions options) {
  const TransactionStatus st = transaction_status();
  if (st == TransactionStatus::kIdle ||
      st == TransactionStatus::kUnknown) {  // closed: execute says so
    co_await execute(begin_sql(options));
    co_return Transaction(this, "");
  }
  if (has_options(options)) {
    throw UsageError(
        "weft::pg::Connection::transaction: a nested transaction (a savepoint) takes no "
        "options; give them to the outermost one");
  }
  // Inside a transaction block (or a failed one, which the server then refuses to extend).
  const std::string name = "weft_sp_" + std::to_string(s_->savepoints + 1);
  co_await execute("SAVEPOINT " + name);
  ++s_->savepoints;
  co_return Transaction(this, name);
}

Task<void> Connection::commit_transaction(const Transaction& tx) {
  if (transaction_status() == TransactionStatus::kFailed) {
    co_await rollback_transaction(tx);
    throw aborted_earlier(tx);
  }
  if (tx.nested()) {
    --s_->savepoints;
    co_await execute("RELEASE SAVEPOINT " + tx.savepoint());
  } else {
    co_await execute("COMMIT");
  }
}

Task<void> Connection::rollback_transaction(const Transaction& tx) {
  if (!is_open()) co_return;  // lost: the server rolled back
  bool ok = false;
  try {
    if (tx.nested()) {
      --s_->savepoints;
      co_await execute("ROLLBACK TO SAVEPOINT " + tx.savepoint() + "; RELEASE SAVEPOINT " +
                       tx.savepoint());
    } else {
      co_await execute("ROLLBACK");
    }
    ok = true;
  } catch (...) {
    // handled below
  }
  if (!ok) close();  // its transaction state is unknown: never hand it on
}

}  // namespace weft::pg
