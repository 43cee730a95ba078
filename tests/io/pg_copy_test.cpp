// COPY FROM STDIN and TO STDOUT against the test server: every supported type through
// binary COPY and back (NULL too), a million rows each way with their count and checksum,
// text and CSV data raw, quoted identifiers, and what goes wrong: a record source that
// throws, a cancelled COPY each way, a value of the wrong type, a terminated backend.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"

using namespace std::chrono_literals;
namespace pg = weft::pg;
using weft_test::pg::server;

namespace {

/// Runs `body` with a fresh connection, on a runtime.
template <class F>
void with_conn(F body) {
  weft::run([](F body) -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    co_await body(c);
  }(std::move(body)));
}

/// True if backend `pid` runs nothing now (its state in pg_stat_activity).
weft::Task<bool> is_idle(pg::Connection& observer, int pid) {
  co_return co_await observer.fetchval<std::optional<bool>>(
      "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $1", pid) == true;
}

using Row3 = std::tuple<std::int64_t, std::string, double>;

/// Rows (i, "name-i", i / 4.0) for i in [0, n).
weft::AsyncGenerator<Row3> numbered(std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    co_yield Row3(i, "name-" + std::to_string(i), static_cast<double>(i) / 4);
  }
}

/// Yields `n` rows, then throws.
weft::AsyncGenerator<Row3> failing_after(std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) co_yield Row3(i, "x", 0.0);
  throw std::runtime_error("the source broke at row " + std::to_string(n));
}

/// Yields `n` rows, then waits an hour for the next.
weft::AsyncGenerator<Row3> stalling_after(std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) co_yield Row3(i, "x", 0.0);
  co_await weft::sleep(std::chrono::hours(1));
  co_yield Row3(-1, "never", 0.0);
}

constexpr char kItems[] = "CREATE TEMP TABLE items (id int8, name text, score float8)";

TEST(PgCopy, EveryTypeRoundTripsThroughBinaryCopyIncludingNull) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute(
        "CREATE TEMP TABLE every (b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, "
        "t text, v varchar(10), by bytea, ts timestamptz, u uuid, j json, ai int4[], "
        "at text[])");
    using Rec =
        std::tuple<std::optional<bool>, std::optional<std::int16_t>, std::optional<std::int32_t>,
                   std::optional<std::int64_t>, std::optional<float>, std::optional<double>,
                   std::optional<std::string>, std::optional<std::string>, std::optional<pg::Bytes>,
                   std::optional<pg::Timestamp>, std::optional<pg::Uuid>, std::optional<pg::Json>,
                   std::optional<std::vector<std::int32_t>>,
                   std::optional<std::vector<std::optional<std::string>>>>;
    const pg::Timestamp ts{std::chrono::microseconds(1'700'000'000'123'456)};
    const pg::Uuid u = pg::Uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    std::vector<Rec> in;
    in.emplace_back(true, std::int16_t{-32768}, std::int32_t{2147483647},
                    std::int64_t{-9223372036854775807 - 1}, 1.5f, -1e308, "héllo ✓", "var",
                    pg::Bytes{std::byte{0}, std::byte{0xff}}, ts, u, pg::Json{"{\"a\": [1, 2]}"},
                    std::vector<std::int32_t>{1, -2, 3},
                    std::vector<std::optional<std::string>>{"x", std::nullopt, ""});
    in.emplace_back(false, std::int16_t{0}, std::int32_t{0}, std::int64_t{0}, 0.0f, 0.0, "", "",
                    pg::Bytes{}, pg::Timestamp::max(), pg::Uuid{}, pg::Json{"null"},
                    std::vector<std::int32_t>{}, std::vector<std::optional<std::string>>{});
    in.emplace_back();  // every column NULL
    EXPECT_EQ(co_await c.copy_records_to_table("every", in), 3u);
    // The server stored the values, not just bytes that come back the same.
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT t FROM every WHERE b"), "héllo ✓");
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT u::text FROM every WHERE b"),
              "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM every WHERE b IS NULL "
                                                "AND ai IS NULL AND j IS NULL"),
              1);

    std::vector<Rec> out;
    auto rows =
        c.copy_records_out<std::optional<bool>, std::optional<std::int16_t>,
                           std::optional<std::int32_t>, std::optional<std::int64_t>,
                           std::optional<float>, std::optional<double>, std::optional<std::string>,
                           std::optional<std::string>, std::optional<pg::Bytes>,
                           std::optional<pg::Timestamp>, std::optional<pg::Uuid>,
                           std::optional<pg::Json>, std::optional<std::vector<std::int32_t>>,
                           std::optional<std::vector<std::optional<std::string>>>>(
            "SELECT * FROM every ORDER BY b DESC NULLS LAST");
    while (auto r = co_await rows.next()) out.push_back(std::move(*r));
    if (out.size() != 3u) {
      ADD_FAILURE() << out.size() << " rows";
      co_return;
    }
    EXPECT_EQ(out[0], in[0]);
    EXPECT_EQ(out[1], in[1]);
    EXPECT_EQ(out[2], in[2]);
  });
}

TEST(PgCopy, AMillionRowsGoInFromAGeneratorAndComeOutWithTheSameCountAndChecksum) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute(kItems);
    constexpr std::int64_t n = 1'000'000;
    std::vector<std::string> columns{"id", "name", "score"};
    EXPECT_EQ(co_await c.copy_records_to_table("items", numbered(n), columns), std::uint64_t{n});
    // The sums over the rows, as the server sees them.
    auto check = co_await c.fetchrow(
        "SELECT count(*), sum(id)::int8, sum(length(name))::int8, sum(score) FROM items");
    EXPECT_EQ(check->get<std::int64_t>(0), n);
    EXPECT_EQ(check->get<std::int64_t>(1), n * (n - 1) / 2);
    std::int64_t name_bytes = 0;
    for (std::int64_t i = 0; i < n; ++i) name_bytes += 5 + std::to_string(i).size();
    EXPECT_EQ(check->get<std::int64_t>(2), name_bytes);
    EXPECT_EQ(check->get<double>(3), static_cast<double>(n * (n - 1) / 2) / 4);

    // And back out, decoded: the same count and sums, every name matching its id.
    std::int64_t count = 0, id_sum = 0, mismatched = 0;
    double score_sum = 0;
    auto rows = c.copy_records_out<std::int64_t, std::string, double>("TABLE items");
    while (auto r = co_await rows.next()) {
      const auto& [id, name, score] = *r;
      ++count;
      id_sum += id;
      score_sum += score;
      if (name != "name-" + std::to_string(id)) ++mismatched;
    }
    EXPECT_EQ(count, n);
    EXPECT_EQ(id_sum, n * (n - 1) / 2);
    EXPECT_EQ(score_sum, static_cast<double>(n * (n - 1) / 2) / 4);
    EXPECT_EQ(mismatched, 0);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 1"), 1);
  });
}

TEST(PgCopy, ARangeOfTuplesGoesIntoQuotedTableAndColumnNames) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute("CREATE SCHEMA IF NOT EXISTS \"Odd Schema\"");
    co_await c.execute(
        "CREATE TABLE \"Odd Schema\".\"My \"\"Table\"\"\" (\"Na\"\"me\" text, id int4, "
        "untouched int4 DEFAULT 7)");
    std::vector<std::pair<std::int32_t, std::string_view>> rows{{1, "one"}, {2, "two"}};
    std::vector<std::string> columns{"id", "Na\"me"};
    EXPECT_EQ(co_await c.copy_records_to_table("My \"Table\"", rows, columns, "Odd Schema"), 2u);
    auto r = co_await c.fetch(
        "SELECT \"Na\"\"me\", id, untouched FROM \"Odd Schema\".\"My \"\"Table\"\"\" ORDER BY id");
    if (r.size() != 2u) {
      ADD_FAILURE() << r.size() << " rows";
      co_return;
    }
    EXPECT_EQ(r[1].get<std::string>(0), "two");
    EXPECT_EQ(r[1].get<std::int32_t>(2), 7);
    co_await c.execute("DROP SCHEMA \"Odd Schema\" CASCADE");
  });
  EXPECT_EQ(pg::quote_identifier("a\"b"), "\"a\"\"b\"");
  EXPECT_THROW(pg::quote_identifier(""), std::invalid_argument);
}

TEST(PgCopy, CsvGoesInRawInPiecesAndComesOutAsText) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute(kItems);
    // Pieces that split rows and fields.
    std::vector<std::string> pieces{"1,\"a, quoted\",0.5\n2,b", ",1.5\n",
                                    "3,\"line\nbreak\",2.5\n"};
    EXPECT_EQ(co_await c.copy_in("COPY items FROM STDIN (FORMAT csv)", pieces), 3u);
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT name FROM items WHERE id = 3"),
              "line\nbreak");
    // A COPY after other statements, and statements after it.
    std::vector<std::string> four{"4,d,3.5\n"};
    (void)co_await c.copy_in("SELECT 1; COPY items FROM STDIN (FORMAT csv); SELECT 2", four);
    EXPECT_EQ(co_await c.execute("DELETE FROM items WHERE id = 4"), 1u);
    std::string csv;
    auto out = c.copy_out("COPY (SELECT * FROM items ORDER BY id) TO STDOUT (FORMAT csv)");
    while (auto chunk = co_await out.next()) csv += *chunk;
    EXPECT_EQ(csv, "1,\"a, quoted\",0.5\n2,b,1.5\n3,\"line\nbreak\",2.5\n");

    std::string text;
    auto out2 = c.copy_out("COPY items TO STDOUT");
    while (auto chunk = co_await out2.next()) text += *chunk;
    EXPECT_NE(text.find("3\tline\\nbreak\t2.5\n"), std::string::npos) << text;
  });
}

weft::AsyncGenerator<std::string> text_rows(int n) {
  for (int i = 0; i < n; ++i) co_yield std::to_string(i) + "\tt" + std::to_string(i) + "\t1\n";
}

TEST(PgCopy, TextComesInFromAGeneratorAndManyChunksComeOut) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute(kItems);
    EXPECT_EQ(co_await c.copy_in("COPY items FROM STDIN", text_rows(100'000)), 100'000u);
    std::size_t chunks = 0, lines = 0;
    auto out = c.copy_out("COPY items TO STDOUT");
    while (auto chunk = co_await out.next()) {
      ++chunks;
      EXPECT_EQ(chunk->back(), '\n');  // whole rows
      EXPECT_LE(chunk->size(), pg::kCopyBatch + 64);
      for (char ch : *chunk) lines += ch == '\n';
    }
    EXPECT_EQ(lines, 100'000u);
    EXPECT_GT(chunks, 1u);
  });
}

TEST(PgCopy, AnExceptionFromTheRecordSourceAbortsTheCopyAndInsertsNothing) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute(kItems);
    try {
      // Several batches reach the server before the source fails.
      (void)co_await c.copy_records_to_table("items", failing_after(100'000));
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "the source broke at row 100000");
    }
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kIdle);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM items"), 0);
    // In a transaction, the failed COPY fails the transaction as any failed statement does.
    co_await c.execute("BEGIN");
    EXPECT_THROW((void)co_await c.copy_records_to_table("items", failing_after(10)),
                 std::runtime_error);
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kFailed);
    co_await c.execute("ROLLBACK");
    std::vector<Row3> one{Row3(1, "a", 1)};
    EXPECT_EQ(co_await c.copy_records_to_table("items", one), 1u);
  });
}

TEST(PgCopy, ACancelledCopyInInsertsNothingAndLeavesTheConnectionUsable) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Connection observer = co_await pg::connect(server().conninfo());
    co_await c.execute("CREATE TABLE cancelled_in (id int8, name text, score float8)");
    EXPECT_THROW((void)co_await weft::wait_for(
                     c.copy_records_to_table("cancelled_in", stalling_after(50'000)), 200ms),
                 weft::TimeoutError);
    EXPECT_TRUE(c.is_open());
    EXPECT_TRUE(co_await is_idle(observer, c.backend_pid()));
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM cancelled_in"), 0);
    // Cancelled from outside, by its handle.
    auto h = weft::spawn(c.copy_records_to_table("cancelled_in", stalling_after(10)));
    co_await weft::sleep(50ms);  // the source stalls for an hour: any moment is mid-COPY
    h.cancel();
    EXPECT_THROW((void)co_await h, weft::CancelledError);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM cancelled_in"), 0);
    co_await c.execute("DROP TABLE cancelled_in");
  });
}

TEST(PgCopy, ACopyCancelledWhileItWaitsForALockLeavesTheConnectionUsable) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Connection holder = co_await pg::connect(server().conninfo());
    pg::Connection observer = co_await pg::connect(server().conninfo());
    co_await c.execute("CREATE TABLE locked (id int8, name text, score float8)");
    co_await holder.execute("BEGIN");
    co_await holder.execute("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE");
    // The server takes the table's lock before it asks for data: the COPY never starts.
    std::vector<Row3> rows{Row3(1, "a", 1)};
    EXPECT_THROW((void)co_await weft::wait_for(c.copy_records_to_table("locked", rows), 200ms),
                 weft::TimeoutError);
    EXPECT_TRUE(c.is_open());
    EXPECT_TRUE(co_await is_idle(observer, c.backend_pid()));
    co_await holder.execute("ROLLBACK");
    EXPECT_EQ(co_await c.copy_records_to_table("locked", rows), 1u);
    co_await c.execute("DROP TABLE locked");
  });
}

/// Rows of 100 bytes, then a stall of a minute on the server at row 2000 (the first ones
/// fill the server's send buffer, so they are on their way before it).
constexpr char kStallingCopy[] =
    "COPY (SELECT i, repeat('x', 100), CASE WHEN i = 2000 THEN pg_sleep(60) END "
    "FROM generate_series(1, 4000) i) TO STDOUT";

weft::Task<std::size_t> read_all(weft::AsyncGenerator<std::string>& out) {
  std::size_t bytes = 0;
  while (auto chunk = co_await out.next()) bytes += chunk->size();
  co_return bytes;
}

template <class G>
weft::Task<void> read_all_rows(G& rows) {
  for (;;) {
    auto row = co_await rows.next();
    if (!row) break;
  }
}

TEST(PgCopy, ACancelledCopyOutStopsTheServerAndLeavesTheConnectionUsable) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Connection observer = co_await pg::connect(server().conninfo());
    auto out = c.copy_out(kStallingCopy);
    auto first = co_await out.next();
    EXPECT_TRUE(first.has_value());
    EXPECT_THROW((void)co_await weft::wait_for(read_all(out), 200ms), weft::TimeoutError);
    EXPECT_TRUE(c.is_open());
    EXPECT_TRUE(co_await is_idle(observer, c.backend_pid()));
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 42"), 42);
    // The typed form too.
    auto rows = c.copy_records_out<std::int32_t, std::string, std::optional<std::string>>(
        "SELECT i, 'y', CASE WHEN i = 3000 THEN pg_sleep(60)::text END "
        "FROM generate_series(1, 4000) i");
    EXPECT_THROW((void)co_await weft::wait_for(read_all_rows(rows), 200ms), weft::TimeoutError);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 43"), 43);
  });
}

TEST(PgCopy, LeavingACopyOutEarlyClosesTheConnection) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    {
      auto out = c.copy_out("COPY (SELECT generate_series(1, 1000000)) TO STDOUT");
      auto first = co_await out.next();
      EXPECT_TRUE(first.has_value());
    }
    EXPECT_FALSE(c.is_open());
    EXPECT_THROW((void)co_await c.fetchval<std::int32_t>("SELECT 1"), weft::UsageError);
  });
}

TEST(PgCopy, AValueOfTheWrongTypeIsAServerErrorWithItsSqlstate) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute(kItems);
    // An int8 where the column is int4: the server finds the value's length wrong.
    co_await c.execute("CREATE TEMP TABLE narrow (id int4)");
    std::vector<std::tuple<std::int64_t>> wrong{{1}};
    try {
      (void)co_await c.copy_records_to_table("narrow", wrong);
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "22P03") << e.what();
      EXPECT_NE(std::string(e.what()).find("binary data format"), std::string::npos) << e.what();
    }
    // An int4 where the column is int8: too short a value.
    std::vector<std::tuple<std::int32_t, std::string, double>> short_id{{1, "a", 1.0}};
    try {
      (void)co_await c.copy_records_to_table("items", short_id);
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "08P01") << e.what();
      EXPECT_NE(std::string(e.what()).find("insufficient data"), std::string::npos) << e.what();
    }
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM narrow"), 0);
    // Text that is not a number, in CSV.
    std::vector<std::string> csv{"x,a,1\n"};
    try {
      (void)co_await c.copy_in("COPY items FROM STDIN (FORMAT csv)", csv);
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "22P02") << e.what();
    }
    // A table that does not exist, and a statement that is not a COPY.
    std::vector<Row3> rows{Row3(1, "a", 1)};
    try {
      (void)co_await c.copy_records_to_table("no_such_table", rows);
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "42P01") << e.what();
    }
    EXPECT_THROW((void)co_await c.copy_in("SELECT 1", csv), weft::UsageError);
    auto not_copy = c.copy_out("SELECT 1");
    EXPECT_THROW((void)co_await not_copy.next(), weft::UsageError);
    EXPECT_THROW((void)co_await c.copy_in("COPY items TO STDOUT", csv), weft::UsageError);
    // Reading rows as types they are not.
    auto typed = c.copy_records_out<std::int32_t>("SELECT 1::int8");
    EXPECT_THROW((void)co_await typed.next(), pg::TypeError);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM items"), 0);
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kIdle);
  });
}

TEST(PgCopy, ANullOrAnotherColumnCountIsATypeError) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    auto nulls = c.copy_records_out<std::int32_t>("SELECT NULL::int4");
    EXPECT_THROW((void)co_await nulls.next(), pg::TypeError);
    auto two = c.copy_records_out<std::int32_t>("SELECT 1, 2");
    EXPECT_THROW((void)co_await two.next(), pg::TypeError);
    // The rows before the one that cannot be read come out; the rest of the COPY is
    // cancelled, and the connection is usable.
    auto late = c.copy_records_out<std::int32_t>(
        "SELECT CASE WHEN i < 1000 THEN i END FROM generate_series(1, 1000000) i");
    int read = 0;
    try {
      while (auto row = co_await late.next()) ++read;
      ADD_FAILURE() << "no error";
    } catch (const pg::TypeError& e) {
      EXPECT_NE(std::string(e.what()).find("NULL"), std::string::npos) << e.what();
    }
    EXPECT_EQ(read, 999);
    EXPECT_TRUE(c.is_open());
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 7"), 7);
  });
}

weft::AsyncGenerator<Row3> terminating_after(pg::Connection& killer, int pid, std::int64_t n) {
  for (std::int64_t i = 0;; ++i) {
    if (i == n) {
      EXPECT_TRUE(co_await killer.fetchval<bool>("SELECT pg_terminate_backend($1)", pid));
    }
    co_yield Row3(i, "x", 0.0);
  }
}

TEST(PgCopy, ATerminatedBackendMidCopyInIsConnectionLost) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Connection killer = co_await pg::connect(server().conninfo());
    co_await c.execute(kItems);
    EXPECT_THROW((void)co_await c.copy_records_to_table(
                     "items", terminating_after(killer, c.backend_pid(), 20'000)),
                 pg::ConnectionLost);
    EXPECT_FALSE(c.is_open());
    EXPECT_THROW((void)co_await c.fetchval<std::int32_t>("SELECT 1"), pg::ConnectionLost);
  });
}

TEST(PgCopy, ATerminatedBackendMidCopyOutIsConnectionLost) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Connection killer = co_await pg::connect(server().conninfo());
    auto out = c.copy_out(kStallingCopy);
    auto first = co_await out.next();
    EXPECT_TRUE(first.has_value());
    EXPECT_TRUE(co_await killer.fetchval<bool>("SELECT pg_terminate_backend($1)", c.backend_pid()));
    try {
      (void)co_await read_all(out);
      ADD_FAILURE() << "no error";
    } catch (const pg::ConnectionLost& e) {
      EXPECT_NE(std::string(e.what()).find("connection lost"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(c.is_open());
  });
}

TEST(PgCopy, ASecondQueryDuringACopyIsAUsageError) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    auto out = c.copy_out("COPY (SELECT generate_series(1, 10)) TO STDOUT");
    auto first = co_await out.next();
    EXPECT_TRUE(first.has_value());
    EXPECT_THROW((void)co_await c.fetchval<std::int32_t>("SELECT 1"), weft::UsageError);
    (void)co_await read_all(out);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 1"), 1);
  });
}

}  // namespace
