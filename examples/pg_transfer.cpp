// pg_transfer: money moved between accounts in transactions, many transfers at once on a
// pool. A transfer reads the balance it takes from and updates both accounts in one
// serializable transaction: either all of it happens or none. Two transfers that touch the
// same accounts at once may fail with a serialization failure (SQLSTATE 40001) or a
// deadlock (40P01); the transaction was rolled back, and the transfer is simply run again:
//
//   async def transfer(pool, src, dst, amount):
//       while True:
//           try:
//               async with pool.acquire() as conn:
//                   async with conn.transaction(isolation="serializable"):
//                       balance = await conn.fetchval(
//                           "SELECT balance FROM accounts WHERE name = $1", src)
//                       if balance < amount:
//                           raise InsufficientFunds(src, balance, amount)
//                       await conn.execute("UPDATE accounts SET balance = balance - $1 ...")
//                       await conn.execute("UPDATE accounts SET balance = balance + $1 ...")
//               return
//           except (asyncpg.SerializationError, asyncpg.DeadlockDetectedError):
//               continue
//
// A transfer that would overdraw, or goes to an account that does not exist, raises in the
// middle of its transaction: the debit already made is rolled back, and the total of the
// balances stays what it was.
//
// The database is the one $WEFT_PG_CONNINFO names (libpq's defaults if unset); ctest runs
// the example against a throwaway server (tests/io/pg_run_with_server). It makes and drops
// the table weft_example_accounts.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;
namespace pg = weft::pg;

namespace {

const char* const kAccounts[] = {"alice", "bob", "carol", "dave"};

/// A transfer refused: the source has too little, or an account does not exist.
class TransferRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Transactions run again after a serialization failure or deadlock (reported on stderr:
/// how many depends on how the transfers interleave).
std::atomic<int> retries{0};

/// Runs the transfer's statements in the transaction on `conn`.
weft::Task<void> move_money(pg::Connection& conn, std::string from, std::string to,
                            std::int64_t amount) {
  auto balance = co_await conn.fetchval<std::optional<std::int64_t>>(
      "SELECT balance FROM weft_example_accounts WHERE name = $1", from);
  if (!balance) throw TransferRefused("no account " + from);
  if (*balance < amount) {
    throw TransferRefused("insufficient funds: " + from + " has " + std::to_string(*balance));
  }
  co_await conn.execute("UPDATE weft_example_accounts SET balance = balance - $1 WHERE name = $2",
                        amount, from);
  const std::uint64_t credited = co_await conn.execute(
      "UPDATE weft_example_accounts SET balance = balance + $1 WHERE name = $2", amount, to);
  if (credited == 0) throw TransferRefused("no account " + to);
}

/// Moves `amount` from `from` to `to` in one serializable transaction, run again after a
/// serialization failure or a deadlock. Throws TransferRefused (rolled back).
weft::Task<void> transfer(pg::Pool& pool, std::string from, std::string to, std::int64_t amount) {
  pg::TransactionOptions options;
  options.isolation = pg::IsolationLevel::kSerializable;
  for (int attempt = 1;; ++attempt) {
    auto conn = co_await pool.acquire();
    auto body = [&](pg::Transaction& tx) { return move_money(tx.connection(), from, to, amount); };
    bool retry = false;
    try {
      co_await conn->transaction(body, options);
    } catch (const pg::Error& e) {
      // 40001 serialization_failure, 40P01 deadlock_detected: the transaction was rolled
      // back and may simply run again.
      if ((e.sqlstate() != "40001" && e.sqlstate() != "40P01") || attempt == 100) throw;
      retry = true;
      retries.fetch_add(1, std::memory_order_relaxed);
    }
    if (!retry) co_return;
  }
}

weft::Task<std::int64_t> print_balances(pg::Pool& pool) {
  pg::Result rows =
      co_await pool.fetch("SELECT name, balance FROM weft_example_accounts ORDER BY name");
  std::int64_t total = 0;
  for (pg::Row row : rows) {
    const auto balance = row.get<std::int64_t>("balance");
    total += balance;
    std::printf("  %-6s %5lld\n", row.get<std::string>("name").c_str(),
                static_cast<long long>(balance));
  }
  std::printf("  total  %5lld\n", static_cast<long long>(total));
  co_return total;
}

/// Runs a transfer that must be refused, and says why it was.
weft::Task<void> refused(pg::Pool& pool, std::string from, std::string to, std::int64_t amount) {
  std::printf("transfer %lld from %s to %s: ", static_cast<long long>(amount), from.c_str(),
              to.c_str());
  try {
    co_await transfer(pool, from, to, amount);
    std::printf("done (unexpectedly)\n");
  } catch (const TransferRefused& e) {
    std::printf("refused, rolled back (%s)\n", e.what());
  }
}

weft::Task<> main_task(std::string conninfo) {
  pg::PoolOptions options;
  options.max_size = 4;
  options.acquire_timeout = 30s;
  pg::Pool pool(std::move(conninfo), std::move(options));

  co_await pool.execute(
      "DROP TABLE IF EXISTS weft_example_accounts;"
      "CREATE TABLE weft_example_accounts (name text PRIMARY KEY, balance int8 NOT NULL)");
  const std::int64_t opening = 1000;
  for (const char* name : kAccounts) {
    co_await pool.execute("INSERT INTO weft_example_accounts VALUES ($1, $2)", name, opening);
  }
  std::printf("before:\n");
  const std::int64_t before = co_await print_balances(pool);

  // 40 transfers at once around the ring alice -> bob -> carol -> dave -> alice. No account
  // pays out more than it starts with, so every one succeeds, in whatever order they run.
  std::vector<weft::Task<void>> transfers;
  for (int i = 0; i < 40; ++i) {
    transfers.push_back(transfer(pool, kAccounts[i % 4], kAccounts[(i + 1) % 4], 10 + i));
  }
  (void)co_await weft::gather(std::move(transfers));
  std::printf("after 40 concurrent transfers:\n");
  const std::int64_t after = co_await print_balances(pool);

  co_await refused(pool, "bob", "alice", 5000);
  co_await refused(pool, "alice", "zed", 100);
  std::printf("after the refused transfers:\n");
  const std::int64_t last = co_await print_balances(pool);
  std::printf("total conserved: %s\n", before == after && after == last ? "yes" : "no");

  std::fprintf(stderr, "transactions run again after a serialization failure: %d\n",
               retries.load());
  co_await pool.execute("DROP TABLE weft_example_accounts");
  (void)co_await pool.close(weft::now() + 10s);
}

}  // namespace

int main() {
  const char* conninfo = std::getenv("WEFT_PG_CONNINFO");
  weft::run(main_task(conninfo ? conninfo : ""));
}
