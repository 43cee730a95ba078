// wait_for_timeout: asyncio.wait_for gives up on a coroutine that takes too long.
//
//   async def eternity():
//       await asyncio.sleep(3600)        # sleep for an hour
//       print("yay!")
//
//   async def main():
//       try:
//           await asyncio.wait_for(eternity(), timeout=1.0)
//       except TimeoutError:
//           print("timed out")
//
//   asyncio.run(main())
//
// The timeout cancels eternity() (its sleep raises CancelledError) and waits for it to end
// before TimeoutError is raised.
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

weft::Task<> eternity() {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    std::printf("eternity cancelled at %.1f s\n", elapsed());
    throw;
  }
  std::printf("yay!\n");
}

weft::Task<> main_task() {
  std::printf("started at %.1f s\n", elapsed());
  try {
    co_await weft::wait_for(eternity(), 1s);
  } catch (const weft::TimeoutError&) {
    std::printf("timed out at %.1f s\n", elapsed());
  }
  std::printf("finished at %.1f s\n", elapsed());
}

}  // namespace

int main() {
  weft::run(main_task());
}
