// cancel_cleanup: cancelling a task that cleans up and re-raises (the Task.cancel()
// example of the asyncio documentation).
//
//   async def cancel_me():
//       print("cancel_me(): before sleep")
//       try:
//           await asyncio.sleep(3600)         # wait for an hour
//       except asyncio.CancelledError:
//           print("cancel_me(): cancel sleep")
//           raise
//       finally:
//           print("cancel_me(): after sleep")
//
//   async def main():
//       task = asyncio.create_task(cancel_me())
//       await asyncio.sleep(1)
//       task.cancel()
//       try:
//           await task
//       except asyncio.CancelledError:
//           print("main(): cancel_me is cancelled now")
//
//   asyncio.run(main())
//
// C++ has no `finally`: a local's destructor does that job, on every way out.
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

weft::Task<> cancel_me() {
  struct Finally {
    ~Finally() { std::printf("cancel_me(): after sleep\n"); }
  } finally;
  std::printf("cancel_me(): before sleep, at %.1f s\n", elapsed());
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    std::printf("cancel_me(): cancel sleep, at %.1f s\n", elapsed());
    throw;
  }
}

weft::Task<> main_task() {
  std::printf("started at %.1f s\n", elapsed());
  weft::JoinHandle<void> task = weft::spawn(cancel_me());
  co_await weft::sleep(1s);
  task.cancel();
  try {
    co_await task;
  } catch (const weft::CancelledError&) {
    std::printf("main(): cancel_me is cancelled now, at %.1f s\n", elapsed());
  }
  std::printf("finished at %.1f s\n", elapsed());
}

}  // namespace

int main() {
  weft::run(main_task());
}
