// weft::mysql statements against the test server: text queries and prepared statements,
// every type both ways, the server's errors, type errors, the statement cache's bound, the
// result size limit, and many connections at once on two workers.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <weft/io/mysql.hpp>
#include <weft/weft.hpp>

#include "mysql_server.hpp"
#include "mysql_test_util.hpp"

using namespace std::chrono_literals;
namespace mysql = weft::mysql;
using weft_test::mysql::run_sql;
using weft_test::mysql::tcp_options;
using weft_test::mysql::with_conn;

namespace {

constexpr const char* kTypesTable =
    "CREATE TABLE IF NOT EXISTS types (id INT PRIMARY KEY, ti TINYINT, si SMALLINT, "
    "mi MEDIUMINT, i INT, bi BIGINT, ubi BIGINT UNSIGNED, f FLOAT, d DOUBLE, "
    "dc DECIMAL(20,6), vc VARCHAR(100), txt TEXT, vb VARBINARY(100), blb MEDIUMBLOB, dt DATE, "
    "dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), yr YEAR, js JSON, en ENUM('a','b'), "
    "bt BIT(8))";

mysql::Bytes bytes(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return mysql::Bytes(p, p + s.size());
}

/// Checks row 1 of `types` as both tests insert it, read from `r`.
void expect_row_one(const mysql::Row& r) {
  EXPECT_EQ(r.get<std::int8_t>("ti"), -128);
  EXPECT_EQ(r.get<std::int16_t>("si"), -32768);
  EXPECT_EQ(r.get<std::int32_t>("mi"), 8388607);
  EXPECT_EQ(r.get<std::int32_t>("i"), -2147483647 - 1);
  EXPECT_EQ(r.get<std::int64_t>("bi"), INT64_MIN);
  EXPECT_EQ(r.get<std::uint64_t>("ubi"), UINT64_MAX);
  EXPECT_FLOAT_EQ(r.get<float>("f"), 1.5f);
  EXPECT_DOUBLE_EQ(r.get<double>("d"), -2.25e300);
  EXPECT_EQ(r.get<std::string>("dc"), "12345678901234.123456");
  EXPECT_EQ(r.get<std::string>("vc"), "h\xc3\xa9llo");
  EXPECT_EQ(r.get<std::string>("txt"), std::string(1000, 't'));
  EXPECT_EQ(r.get<mysql::Bytes>("vb"), bytes(std::string("\0\x01\xff", 3)));
  EXPECT_EQ(r.get<mysql::Bytes>("blb"), bytes(std::string(70000, '\x7f')));
  EXPECT_EQ(r.get<mysql::Date>("dt"), (mysql::Date{.year = 2024, .month = 2, .day = 29}));
  EXPECT_EQ(r.get<mysql::DateTime>("dtm"), (mysql::DateTime{.year = 1999,
                                                            .month = 12,
                                                            .day = 31,
                                                            .hour = 23,
                                                            .minute = 59,
                                                            .second = 58,
                                                            .microsecond = 123456}));
  EXPECT_EQ(r.get<mysql::DateTime>("ts"), (mysql::DateTime{.year = 2030,
                                                           .month = 1,
                                                           .day = 2,
                                                           .hour = 3,
                                                           .minute = 4,
                                                           .second = 5,
                                                           .microsecond = 6}));
  EXPECT_EQ(r.get<std::chrono::microseconds>("tm"), -(838h + 59min + 58s + 999999us));
  EXPECT_EQ(r.get<std::int32_t>("yr"), 2155);
  EXPECT_EQ(r.get<std::string>("js"), "{\"k\": [1, 2]}");
  EXPECT_EQ(r.get<std::string>("en"), "b");
  EXPECT_EQ(r.get<mysql::Bytes>("bt"), bytes("\xa5"));
}

/// Checks row 2: every column but id NULL.
void expect_row_two(const mysql::Row& r) {
  for (int c = 1; c < r.size(); ++c) EXPECT_TRUE(r.is_null(c)) << "column " << c;
  EXPECT_EQ(r.get<std::optional<std::int64_t>>("bi"), std::nullopt);
  EXPECT_EQ(r.get<std::optional<std::string>>("vc"), std::nullopt);
  EXPECT_EQ(r.get<std::optional<mysql::DateTime>>("dtm"), std::nullopt);
}

TEST(MysqlQuery, TextLiteralsReadBackTypedFromTextAndBinaryResults) {
  run_sql("DROP TABLE IF EXISTS types");
  run_sql(kTypesTable);
  run_sql(
      "INSERT INTO types VALUES (1, -128, -32768, 8388607, -2147483648, "
      "-9223372036854775808, 18446744073709551615, 1.5, -2.25e300, 12345678901234.123456, "
      "'h\xc3\xa9llo', REPEAT('t', 1000), X'0001FF', REPEAT(X'7F', 70000), '2024-02-29', "
      "'1999-12-31 23:59:58.123456', '2030-01-02 03:04:05.000006', '-838:59:58.999999', "
      "2155, '{\"k\": [1, 2]}', 'b', b'10100101'), (2, NULL, NULL, NULL, NULL, NULL, NULL, "
      "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
      "NULL)");
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    mysql::Result text = co_await c.fetch("SELECT * FROM types ORDER BY id");
    EXPECT_EQ(text.size(), 2u);
    expect_row_one(text[0]);
    expect_row_two(text[1]);
    mysql::Result binary = co_await c.fetch("SELECT * FROM types WHERE id >= ? ORDER BY id", 1);
    EXPECT_EQ(binary.size(), 2u);
    expect_row_one(binary[0]);
    expect_row_two(binary[1]);
    EXPECT_EQ(binary.columns().size(), 22u);
    EXPECT_EQ(binary.columns()[5].name, "bi");
  });
}

/// Row 1 of `types` as parameters (every type), then row 2 (every column but id NULL).
mysql::Params row_one_params() {
  return mysql::Params(1, std::int8_t{-128}, std::int16_t{-32768}, 8388607, INT32_MIN, INT64_MIN,
                       UINT64_MAX, 1.5f, -2.25e300, std::string("12345678901234.123456"),
                       "h\xc3\xa9llo", std::string(1000, 't'), bytes(std::string("\0\x01\xff", 3)),
                       bytes(std::string(70000, '\x7f')),
                       mysql::Date{.year = 2024, .month = 2, .day = 29},
                       mysql::DateTime{.year = 1999,
                                       .month = 12,
                                       .day = 31,
                                       .hour = 23,
                                       .minute = 59,
                                       .second = 58,
                                       .microsecond = 123456},
                       mysql::DateTime{.year = 2030,
                                       .month = 1,
                                       .day = 2,
                                       .hour = 3,
                                       .minute = 4,
                                       .second = 5,
                                       .microsecond = 6},
                       -(838h + 59min + 58s + 999999us), 2155, std::string_view("{\"k\": [1, 2]}"),
                       "b", bytes("\xa5"));
}
mysql::Params row_two_params() {
  const std::optional<std::int64_t> none;
  mysql::Params p(2, none, std::nullopt);
  for (int i = 3; i < 22; ++i) p.add(none);
  return p;
}

constexpr const char* kInsertTypes =
    "INSERT INTO types VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?)";

TEST(MysqlQuery, PreparedParametersOfEveryTypeRoundTrip) {
  run_sql("DROP TABLE IF EXISTS types");
  run_sql(kTypesTable);
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    mysql::Result one = co_await c.prepared(kInsertTypes, row_one_params());
    EXPECT_EQ(one.affected_rows(), 1u);
    co_await c.prepared(kInsertTypes, row_two_params());
    mysql::Result binary = co_await c.fetch("SELECT * FROM types WHERE id > ? ORDER BY id", 0);
    expect_row_one(binary[0]);
    expect_row_two(binary[1]);
    mysql::Result text = co_await c.fetch("SELECT * FROM types ORDER BY id");
    expect_row_one(text[0]);
    expect_row_two(text[1]);
  });
}

TEST(MysqlQuery, ExecuteReturnsAffectedRowsAndTheInsertId) {
  run_sql("DROP TABLE IF EXISTS counted");
  run_sql("CREATE TABLE counted (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    mysql::Result r = co_await c.fetch("INSERT INTO counted (v) VALUES (?), (?), (?)", 1, 2, 3);
    EXPECT_EQ(r.affected_rows(), 3u);
    EXPECT_EQ(r.last_insert_id(), 1u);
    mysql::Result t = co_await c.fetch("INSERT INTO counted (v) VALUES (4)");
    EXPECT_EQ(t.last_insert_id(), 4u);
    EXPECT_EQ(co_await c.execute("UPDATE counted SET v = v + 1 WHERE v >= ?", 2), 3u);
    EXPECT_EQ(co_await c.execute("DELETE FROM counted"), 4u);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT COUNT(*) FROM counted"), 0);
    EXPECT_EQ(co_await c.fetchval<std::optional<std::int64_t>>("SELECT v FROM counted"),
              std::nullopt);
    EXPECT_FALSE((co_await c.fetchrow("SELECT v FROM counted WHERE v = ?", 1)).has_value());
  });
}

TEST(MysqlQuery, TheServersErrorsCarryNumberSqlstateAndQueryAndLeaveTheConnectionUsable) {
  run_sql("DROP TABLE IF EXISTS uniq");
  run_sql("CREATE TABLE uniq (id INT PRIMARY KEY)");
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    co_await c.execute("INSERT INTO uniq VALUES (?)", 1);
    for (int k = 0; k < 2; ++k) {
      try {
        if (k == 0) {
          co_await c.execute("INSERT INTO uniq VALUES (?)", 1);
        } else {
          co_await c.execute("INSERT INTO uniq VALUES (1)");
        }
        ADD_FAILURE() << "no error";
      } catch (const mysql::Error& e) {
        EXPECT_EQ(e.code(), 1062u);
        EXPECT_EQ(e.sqlstate(), "23000");
        EXPECT_NE(e.message().find("Duplicate entry"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("INSERT INTO uniq"), std::string::npos);
      }
    }
    try {
      co_await c.fetch("SELEC 1 WHERE ?", 1);
      ADD_FAILURE() << "no error";
    } catch (const mysql::Error& e) {
      EXPECT_EQ(e.code(), 1064u);
      EXPECT_EQ(e.sqlstate(), "42000");
    }
    try {
      co_await c.fetch("SELECT * FROM no_such_table");
      ADD_FAILURE() << "no error";
    } catch (const mysql::Error& e) {
      EXPECT_EQ(e.code(), 1146u);
      EXPECT_EQ(e.sqlstate(), "42S02");
    }
    EXPECT_TRUE(c.is_open());
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT ? + 1", 41), 42);
  });
}

TEST(MysqlQuery, ReadingAColumnAsAnotherTypeIsATypeErrorNamingBoth) {
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    for (int k = 0; k < 2; ++k) {
      mysql::Result r;
      if (k == 0) {
        r = co_await c.fetch("SELECT ? AS s, 300 AS n, NULL AS z", "x");
      } else {
        r = co_await c.fetch("SELECT 'x' AS s, 300 AS n, NULL AS z");
      }
      try {
        (void)r[0].get<std::int64_t>("s");
        ADD_FAILURE() << "no error";
      } catch (const mysql::TypeError& e) {
        EXPECT_NE(std::string(e.what()).find("\"s\""), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("std::int64_t"), std::string::npos) << e.what();
      }
      EXPECT_THROW((void)r[0].get<std::int8_t>("n"), mysql::TypeError);  // out of range
      EXPECT_EQ(r[0].get<std::int16_t>("n"), 300);
      EXPECT_THROW((void)r[0].get<std::int64_t>("z"), mysql::TypeError);  // NULL
      EXPECT_EQ(r[0].get<std::optional<std::int64_t>>("z"), std::nullopt);
      EXPECT_THROW((void)r[0].get<std::string>("missing"), std::out_of_range);
      EXPECT_THROW((void)r[0].get<std::string>(7), std::out_of_range);
    }
    EXPECT_THROW(co_await c.fetchval<std::int64_t>("SELECT 1 FROM DUAL WHERE 1 = 0"),
                 mysql::TypeError);
  });
}

TEST(MysqlQuery, AWrongNumberOfArgumentsIsAUsageError) {
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    EXPECT_THROW(co_await c.fetch("SELECT ?, ?", 1), weft::UsageError);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT ? + ?", 1, 2), 3);
  });
}

TEST(MysqlQuery, TheStatementCacheIsBoundedAndClosesWhatItEvicts) {
  weft::run([]() -> weft::Task<void> {
    mysql::ConnectOptions o = tcp_options();
    o.statement_cache_size = 2;
    mysql::Connection c = co_await mysql::connect(o);
    mysql::Connection observer = co_await mysql::connect(tcp_options());
    auto open_on_server = [&]() -> weft::Task<std::int64_t> {
      mysql::Result r = co_await observer.fetch(
          "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME "
          "= 'PREPARED_STMT_COUNT'");
      co_return std::stoll(r[0].get<std::string>(0));
    };
    const std::int64_t before = co_await open_on_server();
    for (int i = 0; i < 5; ++i) {
      const std::string sql = "SELECT ? + " + std::to_string(i);
      EXPECT_EQ(co_await c.fetchval<std::int64_t>(sql, 1), 1 + i);
      EXPECT_EQ(co_await c.fetchval<std::int64_t>(sql, 2), 2 + i);  // from the cache
    }
    EXPECT_EQ(c.cached_statements(), 2u);
    // Two kept, one evicted and closed at the next prepare.
    EXPECT_EQ(co_await open_on_server() - before, 3);
  }());
}

TEST(MysqlQuery, ACachedStatementReadsTheColumnsOfATableThatChanged) {
  run_sql("DROP TABLE IF EXISTS altered");
  run_sql("CREATE TABLE altered (id INT PRIMARY KEY, v INT)");
  run_sql("INSERT INTO altered VALUES (1, 10)");
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    const char* sql = "SELECT * FROM altered WHERE id = ?";
    mysql::Result before = co_await c.fetch(sql, 1);
    EXPECT_EQ(before.columns().size(), 2u);
    EXPECT_EQ(before[0].get<std::int32_t>("v"), 10);
    // The server re-prepares the statement and sends the new columns with the execution.
    co_await c.execute("ALTER TABLE altered MODIFY v VARCHAR(20), ADD COLUMN w DOUBLE DEFAULT 2.5");
    co_await c.execute("UPDATE altered SET v = 'ten' WHERE id = 1");
    mysql::Result after = co_await c.fetch(sql, 1);
    EXPECT_EQ(c.cached_statements(), 1u);
    EXPECT_EQ(after.columns().size(), 3u);
    EXPECT_EQ(after[0].get<std::string>("v"), "ten");
    EXPECT_DOUBLE_EQ(after[0].get<double>("w"), 2.5);
    EXPECT_EQ(before[0].get<std::int32_t>("v"), 10);  // an earlier result keeps its columns
    // The same number of columns, one of another type: new buffers for the same statement.
    co_await c.execute("ALTER TABLE altered MODIFY w VARCHAR(8)");
    mysql::Result retyped = co_await c.fetch(sql, 1);
    EXPECT_EQ(retyped[0].get<std::string>("w"), "2.5");
    EXPECT_EQ(after[0].get<double>("w"), 2.5);
  });
}

TEST(MysqlQuery, ValuesLongerThanTheRowBufferAreReadWhole) {
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    const std::string big(300000, 'q');
    const std::string mid = "mid";
    mysql::Result r = co_await c.fetch("SELECT ?, ?, REPEAT('z', 257), 'short'", big, mid);
    EXPECT_EQ(r[0].get<std::string>(0), big);
    EXPECT_EQ(r[0].get<std::string>(1), "mid");
    EXPECT_EQ(r[0].get<std::string>(2), std::string(257, 'z'));
    EXPECT_EQ(r[0].get<std::string>(3), "short");
  });
}

TEST(MysqlQuery, AResultPastItsLimitIsAnErrorAndClosesTheConnection) {
  for (const bool prepared : {true, false}) {
    weft::run([](bool prepared) -> weft::Task<void> {
      mysql::ConnectOptions o = tcp_options();
      o.max_result_bytes = 10000;
      mysql::Connection c = co_await mysql::connect(o);
      EXPECT_EQ((co_await c.fetch("SELECT REPEAT('a', 9000)")).size(), 1u);
      try {
        if (prepared) {
          co_await c.fetch("SELECT REPEAT('a', ?) FROM seq_1_to_3", 5000);
        } else {
          co_await c.fetch("SELECT REPEAT('a', 5000) FROM seq_1_to_3");
        }
        ADD_FAILURE() << "no error";
      } catch (const mysql::Error& e) {
        EXPECT_EQ(e.code(), 2020u);
        EXPECT_NE(std::string(e.what()).find("max_result_bytes"), std::string::npos);
      }
      EXPECT_FALSE(c.is_open());
      EXPECT_THROW(co_await c.fetch("SELECT 1"), mysql::ConnectionLost);
    }(prepared));
  }
}

TEST(MysqlQuery, ManyConnectionsOnTwoWorkersGetTheirOwnRows) {
  weft::RuntimeOptions ro;
  ro.workers = 2;
  const std::int64_t total = weft::run(
      []() -> weft::Task<std::int64_t> {
        std::vector<weft::Task<std::int64_t>> tasks;
        for (int k = 0; k < 8; ++k) {
          tasks.push_back([](int k) -> weft::Task<std::int64_t> {
            mysql::Connection c = co_await mysql::connect(tcp_options());
            std::int64_t sum = 0;
            for (int i = 0; i < 25; ++i) {
              mysql::Result a = co_await c.fetch("SELECT seq FROM seq_1_to_2000");
              for (mysql::Row r : a) sum += r.get<std::int64_t>(0);
              mysql::Result b = co_await c.fetch("SELECT seq + ? FROM seq_1_to_2000", k);
              for (mysql::Row r : b) sum += r.get<std::int64_t>(0) - k;
            }
            co_return sum;
          }(k));
        }
        std::int64_t all = 0;
        std::vector<std::int64_t> sums = co_await weft::gather(std::move(tasks));
        for (std::int64_t s : sums) all += s;
        co_return all;
      }(),
      ro);
  EXPECT_EQ(total, 8 * 25 * 2 * (2000 * 2001 / 2));
}

}  // namespace
