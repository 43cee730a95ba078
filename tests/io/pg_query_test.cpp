// weft::pg queries against the test server: every supported type both ways (NULL and edge
// values too), reading by index and by name, type mismatches as pg::TypeError, the server's
// errors with their SQLSTATE, a terminated backend as ConnectionLost, one query at a time.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"
#include "pg_test_util.hpp"

using namespace std::chrono_literals;
namespace pg = weft::pg;
using weft_test::pg::server;
using weft_test::pg::until_running;
using weft_test::pg::with_conn;

namespace {

/// `v` sent as $1 and read back as T.
template <class T, class V>
T round_trip(const V& v) {
  return weft::run([](V v) -> weft::Task<T> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    co_return co_await c.fetchval<T>("SELECT $1", v);
  }(v));
}

TEST(PgQuery, IntegersRoundTripWithTheirExtremes) {
  for (std::int16_t v : {std::int16_t{0}, std::numeric_limits<std::int16_t>::min(),
                         std::numeric_limits<std::int16_t>::max()}) {
    EXPECT_EQ(round_trip<std::int16_t>(v), v);
  }
  for (std::int32_t v : {0, -1, std::numeric_limits<std::int32_t>::min(),
                         std::numeric_limits<std::int32_t>::max()}) {
    EXPECT_EQ(round_trip<std::int32_t>(v), v);
  }
  for (std::int64_t v :
       {std::int64_t{0}, std::int64_t{-1}, std::numeric_limits<std::int64_t>::min(),
        std::numeric_limits<std::int64_t>::max()}) {
    EXPECT_EQ(round_trip<std::int64_t>(v), v);
  }
}

TEST(PgQuery, ANarrowerIntegerColumnReadsIntoAWiderType) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT 7::int2"), 7);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT -7::int4"), -7);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT (-32768)::int2"), -32768);
  });
}

TEST(PgQuery, AWiderIntegerColumnIsATypeErrorNamingBoth) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    try {
      (void)co_await c.fetchval<std::int32_t>("SELECT 1::int8 AS big");
      ADD_FAILURE() << "no TypeError";
    } catch (const pg::TypeError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("\"big\""), std::string::npos) << m;
      EXPECT_NE(m.find("int8"), std::string::npos) << m;
      EXPECT_NE(m.find("std::int32_t"), std::string::npos) << m;
    }
  });
}

TEST(PgQuery, FloatsRoundTripIncludingNanAndInfinities) {
  EXPECT_EQ(round_trip<double>(0.1), 0.1);
  EXPECT_EQ(round_trip<double>(-1e308), -1e308);
  EXPECT_EQ(round_trip<double>(std::numeric_limits<double>::infinity()),
            std::numeric_limits<double>::infinity());
  EXPECT_EQ(round_trip<double>(-std::numeric_limits<double>::infinity()),
            -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(round_trip<double>(std::numeric_limits<double>::quiet_NaN())));
  EXPECT_EQ(round_trip<float>(1.5f), 1.5f);
  EXPECT_EQ(round_trip<double>(2.25f), 2.25);  // a float4 column reads as double
}

TEST(PgQuery, BoolsRoundTrip) {
  EXPECT_TRUE(round_trip<bool>(true));
  EXPECT_FALSE(round_trip<bool>(false));
}

TEST(PgQuery, TextRoundTripsEmptyUnicodeAndLong) {
  EXPECT_EQ(round_trip<std::string>(std::string()), "");
  EXPECT_EQ(round_trip<std::string>(std::string("héllo wörld ✓ 日本")), "héllo wörld ✓ 日本");
  EXPECT_EQ(round_trip<std::string>(std::string_view("a view")), "a view");
  const std::string big(1 << 20, 'x');  // several reads and writes of the socket
  EXPECT_EQ(round_trip<std::string>(big), big);
  EXPECT_EQ(weft::run([]() -> weft::Task<std::string> {
              pg::Connection c = co_await pg::connect(server().conninfo());
              co_return co_await c.fetchval<std::string>("SELECT $1 || $2", "lit", "eral");
            }()),
            "literal");
}

TEST(PgQuery, TextLikeColumnsReadAsStrings) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT 'v'::varchar(4)"), "v");
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT 'ab'::char(3)"), "ab ");
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT 'n'::name"), "n");
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT '{\"a\": 1}'::jsonb"), "{\"a\": 1}");
  });
}

TEST(PgQuery, BytesRoundTripIncludingZeroBytes) {
  const pg::Bytes b{std::byte{0}, std::byte{1}, std::byte{0xff}, std::byte{0}};
  EXPECT_EQ(round_trip<pg::Bytes>(b), b);
  EXPECT_EQ(round_trip<pg::Bytes>(pg::Bytes{}), pg::Bytes{});
  EXPECT_EQ(round_trip<pg::Bytes>(std::span<const std::byte>(b)), b);
}

TEST(PgQuery, TimestampsRoundTripToTheMicrosecond) {
  using std::chrono::system_clock;
  const pg::Timestamp t =
      system_clock::time_point(std::chrono::microseconds(1'700'000'000'123'456));
  EXPECT_EQ(round_trip<pg::Timestamp>(t), t);
  const pg::Timestamp before_1970 = system_clock::time_point(std::chrono::microseconds(-5'000'001));
  EXPECT_EQ(round_trip<pg::Timestamp>(before_1970), before_1970);
  EXPECT_EQ(round_trip<pg::Timestamp>(pg::Timestamp::max()), pg::Timestamp::max());
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    const auto epoch =
        co_await c.fetchval<pg::Timestamp>("SELECT '1970-01-01 00:00:00+00'::timestamptz");
    EXPECT_EQ(epoch.time_since_epoch().count(), 0);
    const auto naive =
        co_await c.fetchval<pg::Timestamp>("SELECT '2000-01-01 00:00:01'::timestamp");
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(naive.time_since_epoch()).count(),
              946'684'801);
    EXPECT_EQ(
        co_await c.fetchval<std::string>("SELECT to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                                         pg::Timestamp(std::chrono::seconds(86400))),
        "1970-01-02");
    EXPECT_THROW((void)co_await c.fetchval<pg::Timestamp>("SELECT '3000-01-01'::timestamptz"),
                 std::out_of_range);
  });
}

TEST(PgQuery, UuidsRoundTripAndMatchTheServersText) {
  const pg::Uuid u = pg::Uuid::parse("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11");
  EXPECT_EQ(u.to_string(), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(round_trip<pg::Uuid>(u), u);
  EXPECT_THROW(round_trip<std::string>(u), pg::TypeError);  // uuid is not text
  with_conn([u](pg::Connection& c) -> weft::Task<void> {
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT $1::text", u), u.to_string());
    // (Named: GCC 12 destroys a non-trivial temporary of a co_await's full-expression twice.)
    const std::string text = u.to_string();
    EXPECT_EQ(co_await c.fetchval<pg::Uuid>("SELECT $1::uuid", text), u);
  });
}

TEST(PgQuery, JsonRoundTripsAsText) {
  const pg::Json j{R"({"k": [1, 2, "✓"]})"};
  EXPECT_EQ(round_trip<pg::Json>(j), j);
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    const pg::Json doc{R"({"k": [1, 2]})"};
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT ($1::jsonb -> 'k' ->> 1)::int4", doc), 2);
    const pg::Json b = co_await c.fetchval<pg::Json>("SELECT '[true]'::jsonb");
    EXPECT_EQ(b.text, "[true]");
  });
}

TEST(PgQuery, ArraysRoundTripWithNullElementsAndEmpty) {
  using V = std::vector<std::int32_t>;
  EXPECT_EQ(round_trip<V>(V{1, -2, std::numeric_limits<std::int32_t>::min()}),
            (V{1, -2, std::numeric_limits<std::int32_t>::min()}));
  EXPECT_EQ(round_trip<V>(V{}), V{});
  using S = std::vector<std::string>;
  EXPECT_EQ(round_trip<S>(S{"a", "", "✓"}), (S{"a", "", "✓"}));
  using O = std::vector<std::optional<std::int64_t>>;
  EXPECT_EQ(round_trip<O>(O{1, std::nullopt, 3}), (O{1, std::nullopt, 3}));
  using D = std::vector<double>;
  EXPECT_EQ(round_trip<D>(D{0.5, -1.25}), (D{0.5, -1.25}));
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    // The server's own arrays, and ones with a lower bound other than 1. (Expected values
    // named: GCC 12 cannot put an initializer list in a co_await's full-expression.)
    const std::vector<std::int64_t> one_two{1, 2};
    EXPECT_EQ(co_await c.fetchval<std::vector<std::int64_t>>("SELECT ARRAY[1, 2]::int4[]"),
              one_two);
    const std::vector<std::string> xy{"x", "y"};
    EXPECT_EQ(co_await c.fetchval<std::vector<std::string>>("SELECT '[0:1]={x,y}'::text[]"), xy);
    const std::vector<std::int32_t> ids{3, 1, 2};
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM unnest($1) AS u", ids), 3);
    EXPECT_EQ(co_await c.fetchval<bool>("SELECT 2 = ANY($1)", ids), true);
    EXPECT_THROW((void)co_await c.fetchval<std::vector<std::int32_t>>("SELECT ARRAY[1, NULL]"),
                 pg::TypeError);
    EXPECT_THROW((void)co_await c.fetchval<std::vector<std::int32_t>>("SELECT ARRAY[[1], [2]]"),
                 std::invalid_argument);
    try {
      (void)co_await c.fetchval<std::vector<std::string>>("SELECT ARRAY[1]");
      ADD_FAILURE() << "no TypeError";
    } catch (const pg::TypeError& e) {
      EXPECT_NE(std::string(e.what()).find("int4[]"), std::string::npos) << e.what();
    }
  });
}

TEST(PgQuery, NullsTravelAsOptionals) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    EXPECT_EQ(co_await c.fetchval<std::optional<std::int64_t>>("SELECT $1",
                                                               std::optional<std::int64_t>()),
              std::nullopt);
    EXPECT_EQ(co_await c.fetchval<std::optional<std::int64_t>>("SELECT $1",
                                                               std::optional<std::int64_t>(5)),
              5);
    EXPECT_EQ(co_await c.fetchval<std::optional<std::string>>("SELECT $1::text", std::nullopt),
              std::nullopt);
    // NULL is distinct from the empty string.
    EXPECT_EQ(co_await c.fetchval<std::optional<std::string>>("SELECT ''::text"), std::string());
    const bool is_null = co_await c.fetchval<bool>("SELECT $1 IS NULL", std::optional<pg::Uuid>());
    EXPECT_TRUE(is_null);
  });
}

TEST(PgQuery, NullIntoANonOptionalIsATypeErrorSayingSo) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    try {
      (void)co_await c.fetchval<std::string>("SELECT NULL::text AS nothing");
      ADD_FAILURE() << "no TypeError";
    } catch (const pg::TypeError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("\"nothing\""), std::string::npos) << m;
      EXPECT_NE(m.find("NULL"), std::string::npos) << m;
      EXPECT_NE(m.find("std::optional"), std::string::npos) << m;
    }
  });
}

TEST(PgQuery, RowsReadByIndexAndByName) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Result r = co_await c.fetch(
        "SELECT g AS id, 'n' || g AS name, NULLIF(g, 2) AS maybe FROM generate_series(1, 3) g");
    EXPECT_EQ(r.size(), 3u);
    EXPECT_EQ(r.columns(), 3);
    EXPECT_EQ(r.column_name(1), "name");
    EXPECT_EQ(r.column_type(0), pg::oid::kInt4);
    std::vector<std::string> seen;
    for (pg::Row row : r) {
      seen.push_back(std::to_string(row.get<std::int64_t>("id")) + row.get<std::string>(1) +
                     (row.get<std::optional<std::int32_t>>("maybe") ? "+" : "-"));
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"1n1+", "2n2-", "3n3+"}));
    EXPECT_TRUE(r[1].is_null(2));
    EXPECT_THROW((void)r[0].get<std::int32_t>("no_such"), std::out_of_range);
    EXPECT_THROW((void)r[0].get<std::int32_t>(3), std::out_of_range);
    EXPECT_THROW((void)r[3], std::out_of_range);
  });
}

TEST(PgQuery, FetchrowAndFetchvalWithoutARow) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    EXPECT_FALSE(co_await c.fetchrow("SELECT 1 WHERE false"));
    std::optional<pg::Row> row = co_await c.fetchrow("SELECT 1 AS one, 2 AS two");
    EXPECT_EQ(row->get<std::int32_t>("two"), 2);
    EXPECT_EQ(co_await c.fetchval<std::optional<std::int32_t>>("SELECT 1 WHERE false"),
              std::nullopt);
    EXPECT_THROW((void)co_await c.fetchval<std::int32_t>("SELECT 1 WHERE false"), pg::TypeError);
  });
}

TEST(PgQuery, ExecuteCountsRowsAndRunsSeveralStatementsWithoutParameters) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute(
        "CREATE TEMP TABLE t (id int8 PRIMARY KEY, name text); CREATE INDEX ON t (name)");
    EXPECT_EQ(co_await c.execute("INSERT INTO t VALUES ($1, $2), ($3, $4)", std::int64_t{1}, "a",
                                 std::int64_t{2}, "b"),
              2u);
    EXPECT_EQ(co_await c.execute("UPDATE t SET name = upper(name)"), 2u);
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT name FROM t WHERE id = $1", 2), "B");
    EXPECT_EQ(co_await c.execute("DELETE FROM t WHERE id = $1", std::int64_t{1}), 1u);
  });
}

TEST(PgQuery, AUniqueViolationIsAnErrorWithItsSqlstateAndDetail) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute("CREATE TEMP TABLE u (id int4 PRIMARY KEY)");
    co_await c.execute("INSERT INTO u VALUES ($1)", 1);
    try {
      co_await c.execute("INSERT INTO u VALUES ($1)", 1);
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "23505");
      EXPECT_NE(e.message().find("duplicate key"), std::string::npos) << e.message();
      EXPECT_NE(e.detail().find("(id)=(1)"), std::string::npos) << e.detail();
      EXPECT_EQ(e.query(), "INSERT INTO u VALUES ($1)");
      EXPECT_NE(std::string(e.what()).find("23505"), std::string::npos) << e.what();
    }
    // The connection goes on.
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM u"), 1);
  });
}

TEST(PgQuery, ASyntaxErrorIsAnErrorWithItsSqlstate) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    try {
      co_await c.fetch("SELEC 1");
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "42601");
      EXPECT_NE(e.message().find("syntax error"), std::string::npos) << e.message();
    }
    try {
      co_await c.execute("SELECT 1; SELEC 2");
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "42601");
    }
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 3"), 3);
  });
}

TEST(PgQuery, AnErrorInATransactionLeavesItFailedUntilRollback) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute("BEGIN");
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kInTransaction);
    EXPECT_THROW(co_await c.fetch("SELECT 1/0"), pg::Error);
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kFailed);
    try {
      co_await c.fetch("SELECT 1");
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "25P02");
    }
    co_await c.execute("ROLLBACK");
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kIdle);
  });
}

TEST(PgQuery, ATerminatedBackendIsConnectionLostNotAHang) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Connection killer = co_await pg::connect(server().conninfo());
    const int pid = c.backend_pid();
    auto q = weft::spawn(c.fetch("SELECT pg_sleep(30)"));
    co_await until_running(killer, pid);
    EXPECT_TRUE(co_await killer.fetchval<bool>("SELECT pg_terminate_backend($1)", pid));
    try {
      co_await q;
      ADD_FAILURE() << "no error";
    } catch (const pg::ConnectionLost& e) {
      EXPECT_EQ(e.sqlstate(), "57P01") << e.what();
      EXPECT_NE(std::string(e.what()).find("connection lost"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(c.is_open());
    EXPECT_THROW(co_await c.fetch("SELECT 1"), pg::ConnectionLost);
  });
}

TEST(PgQuery, ASecondConcurrentQueryIsAUsageError) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Connection observer = co_await pg::connect(server().conninfo());
    const int pid = c.backend_pid();
    auto slow = weft::spawn(c.fetch("SELECT pg_sleep(0.2)"));
    co_await until_running(observer, pid);
    EXPECT_THROW(co_await c.fetch("SELECT 1"), weft::UsageError);
    co_await slow;
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 1"), 1);
  });
}

TEST(PgQuery, ManyTasksOnTheirOwnConnectionsRunAtOnce) {
  const std::int64_t total = weft::run([]() -> weft::Task<std::int64_t> {
    std::vector<weft::JoinHandle<std::int64_t>> hs;
    for (int i = 0; i < 8; ++i) {
      hs.push_back(weft::spawn([](int i) -> weft::Task<std::int64_t> {
        pg::Connection c = co_await pg::connect(server().conninfo());
        std::int64_t sum = 0;
        for (int k = 0; k < 50; ++k)
          sum += co_await c.fetchval<std::int64_t>("SELECT $1::int8 + $2", std::int64_t{i},
                                                   std::int64_t{k});
        co_return sum;
      }(i)));
    }
    std::int64_t sum = 0;
    for (auto& h : hs) sum += co_await h;
    co_return sum;
  }());
  // sum over i<8, k<50 of i + k
  EXPECT_EQ(total, 50 * 28 + 8 * 1225);
}

}  // namespace
