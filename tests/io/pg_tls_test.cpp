// TLS to the server as libpq does it, against a test server that takes TLS with a
// certificate for 127.0.0.1 and localhost: sslmode=require encrypts, results and parameters
// of many TLS records cross it (each read goes through OpenSSL, whose buffered input
// exchange.cpp's input_pending asks about), verify-full accepts the right CA and refuses a wrong
// one with a ConnectionError, and cancellation and a lost connection behave as without TLS.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"
#include "tls_test_certs.hpp"

using namespace std::chrono_literals;
namespace pg = weft::pg;
using weft_test::pg::server;

namespace {

// The server of this binary takes TLS (before the environment starts it).
[[maybe_unused]] const bool kTls = (weft_test::pg::use_tls(), true);

// The bound on anything that could hang: a hang fails the test with TimeoutError.
constexpr auto kBound = 30s;

std::string require() {
  return server().conninfo() + " sslmode=require";
}

std::string verify_full(const std::string& ca_file) {
  return server().conninfo() + " sslmode=verify-full sslrootcert=" + ca_file;
}

/// A PEM file of a CA that did not sign the server's certificate.
std::string wrong_ca_file() {
  static const std::string path = [] {
    const std::filesystem::path p = std::filesystem::path(server().socket_dir) / "wrong-ca.crt";
    std::ofstream(p) << weft_test::TestCa("not the server's CA").cert_pem();
    return p.string();
  }();
  return path;
}

TEST(PgTls, SslmodeRequireEncryptsAndQueriesWork) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(require(), 10s);
    EXPECT_TRUE(c.uses_tls());
    EXPECT_TRUE(
        co_await c.fetchval<bool>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"));
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT $1 || '!'", "over tls"), "over tls!");
    c.close();
    EXPECT_FALSE(c.uses_tls());
  }());
}

TEST(PgTls, SslmodeDisableDoesNotEncrypt) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo() + " sslmode=disable", 10s);
    EXPECT_FALSE(c.uses_tls());
    EXPECT_FALSE(
        co_await c.fetchval<bool>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"));
  }());
}

TEST(PgTls, LargeResultsAndParametersCrossIt) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(require(), 10s);
    EXPECT_TRUE(c.uses_tls());
    // Many rows: about 10 MB in TLS records of 16 KB, more than libpq reads at once.
    pg::Result rows = co_await weft::wait_for(
        c.fetch("SELECT i, repeat(chr(97 + i % 26), 1000) FROM generate_series(1, $1) i", 10000),
        kBound);
    EXPECT_EQ(rows.size(), 10000u);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto n = rows[i].get<std::int32_t>(0);
      if (n != static_cast<std::int32_t>(i + 1) ||
          rows[i].get<std::string>(1) != std::string(1000, static_cast<char>('a' + n % 26))) {
        ++wrong;
      }
    }
    EXPECT_EQ(wrong, 0u) << "rows that differ from what the server made";
    // One value of 8 MB each way.
    const std::string big(8 << 20, 'z');
    EXPECT_EQ(co_await weft::wait_for(c.fetchval<std::int32_t>("SELECT length($1)", big), kBound),
              8 << 20);
    const std::string back =
        co_await weft::wait_for(c.fetchval<std::string>("SELECT repeat('y', $1)", 8 << 20), kBound);
    EXPECT_EQ(back.size(), 8u << 20);
    EXPECT_EQ(back.find_first_not_of('y'), std::string::npos);
    // Still in step afterwards.
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 1"), 1);
  }());
}

TEST(PgTls, APoolOfTlsConnectionsServesConcurrentQueries) {
  weft::run([]() -> weft::Task<void> {
    pg::PoolOptions options;
    options.max_size = 4;
    options.acquire_timeout = kBound;
    pg::Pool pool(require(), std::move(options));
    std::vector<weft::Task<std::int64_t>> tasks;
    for (int i = 0; i < 16; ++i) {
      tasks.push_back([](pg::Pool& pool, int i) -> weft::Task<std::int64_t> {
        auto conn = co_await pool.acquire();
        EXPECT_TRUE(conn->uses_tls());
        co_return co_await conn->fetchval<std::int64_t>(
            "SELECT coalesce(sum(length(repeat('x', g))), 0)::int8 FROM generate_series(1, $1) g",
            100 * i);
      }(pool, i));
    }
    std::vector<std::int64_t> sums =
        co_await weft::wait_for(weft::gather(std::move(tasks)), kBound);
    for (int i = 0; i < 16; ++i) {
      const std::int64_t n = 100 * i;
      EXPECT_EQ(sums[i], n * (n + 1) / 2);
    }
    (void)co_await pool.close(weft::now() + kBound);
  }());
}

TEST(PgTls, VerifyFullWithTheServersCaConnects) {
  weft::run([]() -> weft::Task<void> {
    // By address (the certificate names IP:127.0.0.1) and by host name (DNS:localhost).
    pg::Connection by_ip = co_await pg::connect(verify_full(server().ca_file), 10s);
    EXPECT_TRUE(by_ip.uses_tls());
    EXPECT_EQ(co_await by_ip.fetchval<std::int32_t>("SELECT 2"), 2);
    pg::Connection by_name = co_await pg::connect(
        "host=localhost port=" + std::to_string(server().port) +
            " user=weft dbname=postgres sslmode=verify-full sslrootcert=" + server().ca_file,
        10s);
    EXPECT_TRUE(by_name.uses_tls());
    EXPECT_EQ(co_await by_name.fetchval<std::int32_t>("SELECT 3"), 3);
  }());
}

TEST(PgTls, VerifyFullWithAWrongCaFailsWithConnectionError) {
  weft::run([]() -> weft::Task<void> {
    std::optional<pg::ConnectionError> error;
    try {
      (void)co_await pg::connect(verify_full(wrong_ca_file()), 10s);
    } catch (const pg::ConnectionError& e) {
      error = e;
    }
    if (!error) {
      ADD_FAILURE() << "connected with a CA that did not sign the certificate";
      co_return;
    }
    const std::string what = error->what();
    EXPECT_NE(what.find("certificate verify failed"), std::string::npos) << what;
    EXPECT_NE(what.find("127.0.0.1"), std::string::npos) << what;
    EXPECT_NE(error->target().find(std::to_string(server().port)), std::string::npos)
        << error->target();
  }());
}

TEST(PgTls, VerifyFullWithAMissingCaFileFailsWithConnectionError) {
  weft::run([]() -> weft::Task<void> {
    const std::string missing = server().socket_dir + "/no-such-ca.crt";
    try {
      (void)co_await pg::connect(verify_full(missing), 10s);
      ADD_FAILURE() << "connected without a CA to verify with";
    } catch (const pg::ConnectionError& e) {
      EXPECT_NE(std::string(e.what()).find("no-such-ca.crt"), std::string::npos) << e.what();
    }
  }());
}

TEST(PgTls, ATimeoutMidQueryCancelsItAndLeavesTheConnectionUsable) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(require(), 10s);
    EXPECT_THROW(co_await weft::wait_for(c.fetch("SELECT pg_sleep(60)"), 50ms), weft::TimeoutError);
    EXPECT_TRUE(c.uses_tls());
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kIdle);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT $1 + 1", 41), 42);
  }());
}

TEST(PgTls, ABackendTerminatedMidQueryRaisesConnectionLost) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(require(), 10s);
    pg::Connection killer = co_await pg::connect(require(), 10s);
    const int pid = c.backend_pid();
    auto query = weft::spawn(c.fetch("SELECT pg_sleep(60)"));
    for (int i = 0; i < 2000; ++i) {
      if (co_await killer.fetchval<bool>("SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
                                         "WHERE pid = $1 AND state = 'active')",
                                         pid)) {
        break;
      }
      co_await weft::sleep(5ms);
    }
    EXPECT_TRUE(co_await killer.fetchval<bool>("SELECT pg_terminate_backend($1)", pid));
    std::optional<std::string> sqlstate;
    try {
      (void)co_await weft::wait_for(std::move(query), kBound);
    } catch (const pg::ConnectionLost& e) {
      sqlstate = e.sqlstate();
    }
    EXPECT_EQ(sqlstate, "57P01");
    EXPECT_FALSE(c.is_open());
  }());
}

}  // namespace
