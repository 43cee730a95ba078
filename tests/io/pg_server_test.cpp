// The test server itself (pg_server.hpp): it accepts the superuser over TCP and the Unix
// socket, and the password user only with the right password.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>
#include <string>

#include "pg_server.hpp"

namespace {

using weft_test::pg::server;

/// Connects with blocking libpq; the error message, empty on success.
std::string try_connect(const std::string& conninfo) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(c.get()) == CONNECTION_OK) return "";
  return PQerrorMessage(c.get());
}

TEST(PgServer, AcceptsTheSuperuserOverTcpAndTheUnixSocket) {
  EXPECT_EQ(try_connect(server().conninfo()), "");
  EXPECT_EQ(try_connect(server().unix_conninfo()), "");
}

TEST(PgServer, AcceptsThePasswordUserOnlyWithItsPassword) {
  EXPECT_EQ(try_connect(server().scram_conninfo(server().scram_password)), "");
  EXPECT_NE(try_connect(server().scram_conninfo("wrong")).find("password authentication failed"),
            std::string::npos);
}

TEST(PgServer, RunsSqlFromOutsideTheRuntime) {
  weft_test::pg::run_sql("CREATE TABLE server_test_t (x int)");
  weft_test::pg::run_sql("DROP TABLE server_test_t");
  EXPECT_THROW(weft_test::pg::run_sql("SELEC 1"), std::runtime_error);
}

}  // namespace
