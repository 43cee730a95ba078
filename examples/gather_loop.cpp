// gather_loop: tasks made in a loop and gathered; all five sleep 1 s at the same time, so
// the whole takes 1 s, and the results keep the order of the list.
//
//   async def square(i):
//       await asyncio.sleep(1)
//       print(f"task {i} done")
//       return i * i
//
//   async def main():
//       results = await asyncio.gather(*(square(i) for i in range(5)))
//       print(results)
//
//   asyncio.run(main())
//
// Timestamps are seconds since the start on weft::now(): real time when run by hand,
// exact under WEFT_CLOCK=virtual (as the tests run it).
#include <chrono>
#include <cstdio>
#include <vector>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

// Seconds since the first call, on the runtime's clock; first called as main_task starts.
double elapsed() {
  static const weft::TimePoint start = weft::now();
  return std::chrono::duration<double>(weft::now() - start).count();
}

weft::Task<int> square(int i) {
  co_await weft::sleep(1s);
  std::printf("task %d done at %.1f s\n", i, elapsed());
  const int result = i * i;
  co_return result;
}

weft::Task<> main_task() {
  std::printf("started at %.1f s\n", elapsed());
  std::vector<weft::Task<int>> tasks;
  for (int i = 0; i < 5; ++i) tasks.push_back(square(i));
  std::vector<int> results = co_await weft::gather(std::move(tasks));
  std::printf("results:");
  for (int r : results) std::printf(" %d", r);
  std::printf("\n");
  std::printf("finished at %.1f s\n", elapsed());
}

}  // namespace

int main() {
  weft::run(main_task());
}
