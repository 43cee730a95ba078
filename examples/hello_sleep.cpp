// hello_sleep: the first program of every asyncio tutorial.
//
//   async def main():
//       print("Hello ...")
//       await asyncio.sleep(1)
//       print("... World!")
//
//   asyncio.run(main())
//
// Timestamps are seconds since the start on weft::now(): real time when run by hand,
// exact under WEFT_CLOCK=virtual (as the tests run it).
#include <chrono>
#include <cstdio>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

// Seconds since the first call, on the runtime's clock; first called as main_task starts.
double elapsed() {
  static const weft::TimePoint start = weft::now();
  return std::chrono::duration<double>(weft::now() - start).count();
}

weft::Task<> main_task() {
  std::printf("started at %.1f s\n", elapsed());
  std::printf("Hello ...\n");
  co_await weft::sleep(1s);
  std::printf("... World!\n");
  std::printf("finished at %.1f s\n", elapsed());
}

}  // namespace

int main() {
  weft::run(main_task());
}
