// gather_three: three fetches at once with asyncio.gather; the results come back in the
// order of the arguments, whatever order the fetches finish in, after the slowest (3 s).
//
//   async def fetch(name, delay):
//       await asyncio.sleep(delay)
//       print(f"{name} fetched")
//       return f"{name}: {delay} s"
//
//   async def main():
//       results = await asyncio.gather(fetch("users", 2), fetch("orders", 3),
//                                      fetch("stock", 1))
//       print(results)
//
//   asyncio.run(main())
//
// Timestamps are seconds since the start on weft::now(): real time when run by hand,
// exact under WEFT_CLOCK=virtual (as the tests run it).
#include <chrono>
#include <cstdio>
#include <string>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

// Seconds since the first call, on the runtime's clock; first called as main_task starts.
double elapsed() {
  static const weft::TimePoint start = weft::now();
  return std::chrono::duration<double>(weft::now() - start).count();
}

weft::Task<std::string> fetch(std::string name, std::chrono::seconds delay) {
  co_await weft::sleep(delay);
  std::printf("%s fetched at %.1f s\n", name.c_str(), elapsed());
  co_return name + ": " + std::to_string(delay.count()) + " s";
}

weft::Task<> main_task() {
  std::printf("started at %.1f s\n", elapsed());
  auto [users, orders, stock] =
      co_await weft::gather(fetch("users", 2s), fetch("orders", 3s), fetch("stock", 1s));
  std::printf("results in argument order: [%s, %s, %s]\n", users.c_str(), orders.c_str(),
              stock.c_str());
  std::printf("finished at %.1f s\n", elapsed());
}

}  // namespace

int main() {
  weft::run(main_task());
}
