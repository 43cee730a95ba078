// Transactions as a scope: Connection::transaction runs a coroutine in a transaction that is
// committed when it returns and rolled back when it throws or is cancelled.
//
//   co_await conn.transaction([&](mysql::Transaction&) -> weft::Task<void> {
//     co_await conn.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", 10, a);
//     co_await conn.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", 10, b);
//   }, {.isolation = mysql::IsolationLevel::kSerializable});
//
// A transaction() inside another is a savepoint (SAVEPOINT weft_sp_N, RELEASE or ROLLBACK
// TO): an inner failure rolls back the inner work only, and the outer transaction goes on if
// the outer body catches the error. The rollback after a failure and the commit run shielded
// from cancellation: a COMMIT the server may already have applied must not be abandoned half
// way, and a rollback leaves the connection out of its transaction (and usable).
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "weft/io/detail/transaction_scope.hpp"
#include "weft/io/mysql/connection.hpp"

namespace weft::mysql {

/// The transaction (or savepoint) a Connection::transaction body runs in.
class Transaction {
 public:
  /// The connection it runs on.
  Connection& connection() const noexcept { return *conn_; }
  /// True for a savepoint of an enclosing transaction.
  bool nested() const noexcept { return !savepoint_.empty(); }
  /// The savepoint's name ("weft_sp_2"); empty for an outermost transaction.
  const std::string& savepoint() const noexcept { return savepoint_; }

 private:
  friend class Connection;
  Transaction(Connection* conn, std::string savepoint) noexcept
      : conn_(conn), savepoint_(std::move(savepoint)) {}

  Connection* conn_;
  std::string savepoint_;
};

template <class F>
Task<typename std::invoke_result_t<F&, Transaction&>::value_type> Connection::transaction(
    F body, TransactionOptions options) {
  Transaction tx = co_await begin_transaction(options);
  co_return co_await weft::detail::transaction_scope(
      std::move(tx), body, [this](const Transaction& t) { return commit_transaction(t); },
      [this](const Transaction& t) { return rollback_transaction(t); });
}

}  // namespace weft::mysql
