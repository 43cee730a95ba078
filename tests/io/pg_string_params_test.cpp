// What a std::string parameter is sent as: text, typed (oid 25), so that the server never has
// to guess. Functions that take any type (concat, format, json_build_object) and a bare
// `$1 IS NULL` take it as it is; a column of another type (uuid, jsonb) takes the value
// typed as that (pg::Uuid, pg::Json) or the string with a cast in the SQL.
//
// Sending strings untyped instead (oid 0, text format: the server infers, as asyncpg and
// psycopg do) would let a string into a uuid column without a cast, but every query below
// that takes a string today would fail with "could not determine data type of parameter $1"
// (42P18): these tests keep that from changing unnoticed.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"

namespace pg = weft::pg;
using weft_test::pg::server;

namespace {

TEST(PgStringParams, FunctionsOfAnyTypeAndNullChecksTakeAStringAsText) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    const std::string s = "abc";
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT concat($1, 'x')", s), "abcx");
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT format('<%s>', $1)", s), "<abc>");
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT json_build_object('k', $1)::text", s),
              "{\"k\" : \"abc\"}");
    // The optional filter: NULL matches every row, a value only its own.
    const std::optional<std::string> none;
    EXPECT_EQ(
        co_await c.fetchval<std::int64_t>("SELECT count(*) FROM (VALUES ('abc'), ('def')) v(x) "
                                          "WHERE $1 IS NULL OR x = $1",
                                          none),
        2);
    EXPECT_EQ(
        co_await c.fetchval<std::int64_t>("SELECT count(*) FROM (VALUES ('abc'), ('def')) v(x) "
                                          "WHERE $1 IS NULL OR x = $1",
                                          s),
        1);
  }());
}

TEST(PgStringParams, AUuidOrJsonbColumnTakesTheTypedValueOrACastString) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    co_await c.execute("CREATE TEMP TABLE typed (u uuid, j jsonb)");
    const std::string text = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    const std::string json = R"({"a": 1})";
    const pg::Uuid uuid = pg::Uuid::parse(text);
    const pg::Json typed_json{json};
    try {
      co_await c.execute("INSERT INTO typed (u) VALUES ($1)", text);
      ADD_FAILURE() << "a text parameter went into a uuid column without a cast";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "42804") << e.what();  // datatype_mismatch
      EXPECT_NE(std::string(e.what()).find("uuid"), std::string::npos) << e.what();
    }
    co_await c.execute("INSERT INTO typed (u, j) VALUES ($1, $2)", uuid, typed_json);
    co_await c.execute("INSERT INTO typed (u, j) VALUES ($1::uuid, $2::jsonb)", text, json);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>(
                  "SELECT count(*) FROM typed WHERE u = $1 AND j = $2::jsonb", uuid, json),
              2);
  }());
}

}  // namespace
