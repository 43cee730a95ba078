// The test server itself (mysql_server.hpp): it lets "weft" in over the Unix socket and over
// TCP with its password only, run_sql's tables are there for a client to read, the client
// library leaves SIGPIPE alone, and a restart ends the sessions but keeps the port and the
// data.
#include <gtest/gtest.h>
#include <mysql.h>
#include <signal.h>

#include <memory>
#include <string>

#include "mysql_server.hpp"

namespace {

using weft_test::mysql::run_sql;
using weft_test::mysql::server;

using Connection = std::unique_ptr<MYSQL, decltype(&mysql_close)>;

/// A blocking connection as "weft" with `password`, over TCP if `tcp`, else the Unix socket;
/// null with the client library's message in `error` if it could not connect.
Connection connect(bool tcp, const std::string& password, std::string& error) {
  Connection c(mysql_init(nullptr), &mysql_close);
  unsigned timeout_s = 5;
  mysql_options(c.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
  const auto& s = server();
  if (!mysql_real_connect(c.get(), tcp ? s.host.c_str() : "localhost", s.user.c_str(),
                          password.c_str(), s.database.c_str(), tcp ? s.port : 0,
                          tcp ? nullptr : s.socket_path.c_str(), 0)) {
    error = mysql_error(c.get());
    c.reset();
  }
  return c;
}

/// The first column of the first row of `sql`'s result; fails the test if there is none.
std::string query_value(MYSQL* c, const std::string& sql) {
  if (mysql_query(c, sql.c_str()) != 0) {
    ADD_FAILURE() << sql << ": " << mysql_error(c);
    return "";
  }
  std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> r(mysql_store_result(c),
                                                             &mysql_free_result);
  MYSQL_ROW row = r ? mysql_fetch_row(r.get()) : nullptr;
  if (!row || !row[0]) {
    ADD_FAILURE() << sql << ": no value";
    return "";
  }
  return row[0];
}

TEST(MysqlServer, LetsTheTestUserInOverTheUnixSocket) {
  std::string error;
  const Connection c = connect(false, server().password, error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(query_value(c.get(), "SELECT CURRENT_USER()"), "weft@localhost");
  EXPECT_EQ(query_value(c.get(), "SELECT DATABASE()"), "weft");
}

TEST(MysqlServer, LetsTheTestUserInOverTcpOnlyWithItsPassword) {
  std::string error;
  const Connection c = connect(true, server().password, error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(query_value(c.get(), "SELECT CURRENT_USER()"), "weft@%");
  EXPECT_EQ(query_value(c.get(), "SELECT @@port"), std::to_string(server().port));

  EXPECT_FALSE(connect(true, "wrong", error));
  EXPECT_NE(error.find("Access denied"), std::string::npos) << error;
}

TEST(MysqlServer, RunsSqlWhoseRowsAClientReadsBack) {
  run_sql(
      "CREATE TABLE server_test_rows (id INT PRIMARY KEY, name VARCHAR(20));"
      "INSERT INTO server_test_rows VALUES (1, 'one'), (2, 'two')");
  std::string error;
  const Connection c = connect(false, server().password, error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(query_value(c.get(), "SELECT GROUP_CONCAT(name ORDER BY id) FROM server_test_rows"),
            "one,two");
  run_sql("DROP TABLE server_test_rows");
}

TEST(MysqlServer, RunSqlThrowsTheServersMessage) {
  try {
    run_sql("SELEC 1");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("error in your SQL syntax"), std::string::npos)
        << e.what();
  }
  // An error in a later statement of several is reported too.
  EXPECT_THROW(run_sql("SELECT 1; SELECT * FROM no_such_table"), std::runtime_error);
}

TEST(MysqlServer, LeavesSigpipeAsItWas) {
  run_sql("SELECT 1");
  struct sigaction now = {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

TEST(MysqlServer, RestartEndsTheSessionsAndKeepsThePortAndTheData) {
  run_sql("CREATE TABLE server_test_kept (x INT); INSERT INTO server_test_kept VALUES (7)");
  const int port = server().port;
  std::string error;
  const Connection before = connect(true, server().password, error);
  ASSERT_TRUE(before) << error;

  weft_test::mysql::restart_server();

  EXPECT_NE(mysql_query(before.get(), "SELECT 1"), 0);
  EXPECT_EQ(server().port, port);
  const Connection after = connect(true, server().password, error);
  ASSERT_TRUE(after) << error;
  EXPECT_EQ(query_value(after.get(), "SELECT x FROM server_test_kept"), "7");
  run_sql("DROP TABLE server_test_kept");
}

}  // namespace
