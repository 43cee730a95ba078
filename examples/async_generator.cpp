// async_generator: an async generator consumed with `async for` (PEP 525's ticker).
//
//   async def ticker(delay, to):
//       """Yield numbers from 0 to *to* every *delay* seconds."""
//       for i in range(to):
//           yield i
//           await asyncio.sleep(delay)
//
//   async def main():
//       async for i in ticker(0.5, 5):
//           print(i)
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

weft::AsyncGenerator<int> ticker(std::chrono::milliseconds delay, int to) {
  for (int i = 0; i < to; ++i) {
    co_yield i;
    co_await weft::sleep(delay);
  }
}

weft::Task<> main_task() {
  std::printf("started at %.1f s\n", elapsed());
  weft::AsyncGenerator<int> ticks = ticker(500ms, 5);
  while (auto i = co_await ticks.next()) {
    std::printf("%d at %.1f s\n", *i, elapsed());
  }
  std::printf("finished at %.1f s\n", elapsed());
}

}  // namespace

int main() {
  weft::run(main_task());
}
