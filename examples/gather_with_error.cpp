// gather_with_error: one input of a gather raises; the exception reaches the awaiter.
//
//   async def work(name, delay):
//       try:
//           await asyncio.sleep(delay)
//       except asyncio.CancelledError:
//           print(f"{name} cancelled")
//           raise
//       return name
//
//   async def fail(delay):
//       await asyncio.sleep(delay)
//       raise ValueError("fetch failed")
//
//   async def main():
//       try:
//           await asyncio.gather(work("a", 3), fail(1), work("b", 3))
//       except ValueError as e:
//           print(f"caught: {e}")
//
//   asyncio.run(main())
//
// One difference from asyncio: Python's gather leaves the siblings running after the first
// error; weft's gather is structured — it cancels them and waits for them before it
// rethrows — so "a cancelled" and "b cancelled" come before "caught", all at 1.0 s.
//
// Timestamps are seconds since the start on weft::now(): real time when run by hand,
// exact under WEFT_CLOCK=virtual (as the tests run it).
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

// Seconds since the first call, on the runtime's clock; first called as main_task starts.
double elapsed() {
  static const weft::TimePoint start = weft::now();
  return std::chrono::duration<double>(weft::now() - start).count();
}

weft::Task<std::string> work(std::string name, std::chrono::seconds delay) {
  try {
    co_await weft::sleep(delay);
  } catch (const weft::CancelledError&) {
    std::printf("%s cancelled at %.1f s\n", name.c_str(), elapsed());
    throw;
  }
  co_return name;
}

weft::Task<std::string> fail(std::chrono::seconds delay) {
  co_await weft::sleep(delay);
  throw std::runtime_error("fetch failed");
}

weft::Task<> main_task() {
  std::printf("started at %.1f s\n", elapsed());
  try {
    co_await weft::gather(work("a", 3s), fail(1s), work("b", 3s));
  } catch (const std::runtime_error& e) {
    std::printf("caught: %s at %.1f s\n", e.what(), elapsed());
  }
  std::printf("finished at %.1f s\n", elapsed());
}

}  // namespace

int main() {
  weft::run(main_task());
}
