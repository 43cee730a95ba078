// mysql_pool_gather: aiomysql's pool example on weft — a pool of connections, "SELECT 42"
// on a connection it lends, and then queries run at once with gather:
//
//   async def population(pool, city):
//       async with pool.acquire() as conn:
//           async with conn.cursor() as cur:
//               await cur.execute("SELECT population FROM cities WHERE name = %s", city)
//               (n,) = await cur.fetchone()
//               return n
//
//   async def main():
//       pool = await aiomysql.create_pool(host=..., user=..., db=..., minsize=1, maxsize=4)
//       async with pool.acquire() as conn:
//           async with conn.cursor() as cur:
//               await cur.execute("SELECT 42;")
//               (r,) = await cur.fetchone()
//               assert r == 42
//       sizes = await asyncio.gather(*(population(pool, c) for c, _ in cities))
//       pool.close()
//       await pool.wait_closed()
//
// The server is the one $WEFT_MYSQL_HOST, _PORT, _USER, _PASSWORD and _DATABASE name; ctest
// runs the example against a throwaway server (tests/io/mysql_run_with_server). It makes and
// drops the table weft_example_cities.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <weft/io/mysql.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;
namespace mysql = weft::mysql;

namespace {

struct City {
  const char* name;
  std::int64_t population;
};

constexpr City kCities[] = {
    {"Tokyo", 37'194'000},       {"Delhi", 32'941'000},     {"Shanghai", 29'210'000},
    {"Dhaka", 23'210'000},       {"Sao Paulo", 22'620'000}, {"Cairo", 22'183'000},
    {"Mexico City", 22'085'000}, {"Beijing", 21'766'000},   {"Mumbai", 21'297'000},
    {"Osaka", 19'013'000},
};

std::string env(const char* name, const char* otherwise) {
  const char* v = std::getenv(name);
  return v ? v : otherwise;
}

/// One city's population, on a connection of the pool. The short sleep on the server makes
/// the queries overlap, so that the pool opens several connections.
weft::Task<std::int64_t> population(mysql::Pool& pool, std::string city) {
  auto conn = co_await pool.acquire();
  co_return co_await conn->fetchval<std::int64_t>(
      "SELECT population FROM weft_example_cities WHERE name = ? AND SLEEP(0.05) = 0", city);
}

weft::Task<> main_task(mysql::ConnectOptions connect) {
  mysql::PoolOptions options;
  options.min_size = 1;
  options.max_size = 4;
  options.acquire_timeout = 30s;
  mysql::Pool pool(std::move(connect), std::move(options));

  {
    auto conn = co_await pool.acquire();
    mysql::Result r = co_await conn->fetch("SELECT 42");
    std::printf("SELECT 42: %lld (column type %u)\n",
                static_cast<long long>(r[0].get<std::int64_t>(0)), r.columns()[0].type);
  }

  co_await pool.execute("DROP TABLE IF EXISTS weft_example_cities");
  co_await pool.execute(
      "CREATE TABLE weft_example_cities (name VARCHAR(40) PRIMARY KEY, population BIGINT "
      "NOT NULL)");
  {
    auto conn = co_await pool.acquire();
    for (const City& c : kCities) {
      co_await conn->execute("INSERT INTO weft_example_cities VALUES (?, ?)", c.name, c.population);
    }
  }

  std::vector<weft::Task<std::int64_t>> queries;
  for (const City& c : kCities) queries.push_back(population(pool, c.name));
  std::vector<std::int64_t> sizes = co_await weft::gather(std::move(queries));
  std::printf("%zu queries at once, on at most 4 connections: %s\n", sizes.size(),
              pool.size() <= 4 ? "yes" : "no");
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    std::printf("  %-12s %10lld\n", kCities[i].name, static_cast<long long>(sizes[i]));
  }

  mysql::Result top = co_await pool.fetch(
      "SELECT name, ROUND(population / 1000000, 1) AS millions FROM weft_example_cities ORDER BY "
      "population DESC LIMIT ?",
      3);
  std::printf("the largest %zu:\n", top.size());
  for (mysql::Row row : top) {
    std::printf("  %s (%s million)\n", row.get<std::string>("name").c_str(),
                row.get<std::string>("millions").c_str());
  }
  std::printf(
      "total: %s\n",
      (co_await pool.fetchval<std::string>("SELECT SUM(population) FROM weft_example_cities"))
          .c_str());

  co_await pool.execute("DROP TABLE weft_example_cities");
  const std::size_t still_out = co_await pool.close(weft::now() + 10s);
  std::printf("pool closed, %zu connections still out\n", still_out);
}

}  // namespace

int main() {
  mysql::ConnectOptions o;
  o.host = env("WEFT_MYSQL_HOST", "127.0.0.1");
  o.port = static_cast<std::uint16_t>(std::stoi(env("WEFT_MYSQL_PORT", "3306")));
  o.user = env("WEFT_MYSQL_USER", "root");
  o.password = env("WEFT_MYSQL_PASSWORD", "");
  o.database = env("WEFT_MYSQL_DATABASE", "test");
  weft::run(main_task(std::move(o)));
}
