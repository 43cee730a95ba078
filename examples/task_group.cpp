// task_group: asyncio.TaskGroup (Python 3.11), from the "Coroutines and Tasks" tutorial.
//
//   async def say_after(delay, what):
//       await asyncio.sleep(delay)
//       print(what)
//
//   async def main():
//       async with asyncio.TaskGroup() as tg:
//           task1 = tg.create_task(say_after(1, "hello"))
//           task2 = tg.create_task(say_after(2, "world"))
//           print(f"started at {time.strftime('%X')}")
//       # The await is implicit when the context manager exits.
//       print(f"finished at {time.strftime('%X')}")
//
//   asyncio.run(main())
//
// The `async with` block becomes the body passed to weft::task_group, which returns once
// the body and both children have finished: after 2 s, not 1 + 2.
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

weft::Task<> say_after(std::chrono::seconds delay, std::string what) {
  co_await weft::sleep(delay);
  std::printf("%s at %.1f s\n", what.c_str(), elapsed());
}

weft::Task<> main_task() {
  elapsed();  // start the clock
  co_await weft::task_group([](weft::TaskGroup& tg) -> weft::Task<> {
    weft::JoinHandle<void> task1 = tg.spawn(say_after(1s, "hello"));
    weft::JoinHandle<void> task2 = tg.spawn(say_after(2s, "world"));
    std::printf("started at %.1f s\n", elapsed());
    co_return;
  });
  std::printf("finished at %.1f s\n", elapsed());
}

}  // namespace

int main() {
  weft::run(main_task());
}
