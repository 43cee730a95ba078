// pg_pool_gather: asyncpg's pool example on weft — a pool of connections, and queries run at
// once with gather, each on a connection the pool lends:
//
//   async def population(pool, city):
//       async with pool.acquire() as conn:
//           return await conn.fetchval(
//               "SELECT population FROM cities WHERE name = $1", city)
//
//   async def main():
//       pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
//       await pool.execute("CREATE TABLE cities (name text PRIMARY KEY, population int8)")
//       await pool.executemany("INSERT INTO cities VALUES ($1, $2)", cities)
//       sizes = await asyncio.gather(*(population(pool, c) for c, _ in cities))
//       rows = await pool.fetch("SELECT ... FROM cities ORDER BY population DESC LIMIT 3")
//       await pool.close()
//
//   asyncio.run(main())
//
// The database is the one $WEFT_PG_CONNINFO names (libpq's defaults if unset); ctest runs
// the example against a throwaway server (tests/io/pg_run_with_server). It makes and drops
// the table weft_example_cities.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;
namespace pg = weft::pg;

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

/// One city's population, on a connection of the pool. The short sleep on the server makes
/// the queries overlap, so that the pool opens several connections.
weft::Task<std::int64_t> population(pg::Pool& pool, std::string city) {
  auto conn = co_await pool.acquire();
  co_return co_await conn->fetchval<std::int64_t>(
      "SELECT population FROM weft_example_cities, pg_sleep(0.05) WHERE name = $1", city);
}

weft::Task<> main_task(std::string conninfo) {
  pg::PoolOptions options;
  options.min_size = 1;
  options.max_size = 4;
  options.acquire_timeout = 30s;
  pg::Pool pool(std::move(conninfo), std::move(options));

  co_await pool.execute(
      "DROP TABLE IF EXISTS weft_example_cities;"
      "CREATE TABLE weft_example_cities (name text PRIMARY KEY, population int8 NOT NULL)");
  {
    auto conn = co_await pool.acquire();
    for (const City& c : kCities) {
      co_await conn->execute("INSERT INTO weft_example_cities VALUES ($1, $2)", c.name,
                             c.population);
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

  pg::Result top = co_await pool.fetch(
      "SELECT name, round(population / 1e6, 1)::float8 AS millions FROM weft_example_cities "
      "ORDER BY population DESC LIMIT $1",
      3);
  std::printf("the largest %zu:\n", top.size());
  for (pg::Row row : top) {
    std::printf("  %s (%.1f million)\n", row.get<std::string>("name").c_str(),
                row.get<double>("millions"));
  }
  std::printf("total: %lld\n", static_cast<long long>(co_await pool.fetchval<std::int64_t>(
                                   "SELECT sum(population)::int8 FROM weft_example_cities")));

  co_await pool.execute("DROP TABLE weft_example_cities");
  const std::size_t still_out = co_await pool.close(weft::now() + 10s);
  std::printf("pool closed, %zu connections still out\n", still_out);
}

}  // namespace

int main() {
  const char* conninfo = std::getenv("WEFT_PG_CONNINFO");
  weft::run(main_task(conninfo ? conninfo : ""));
}
