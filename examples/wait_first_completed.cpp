// wait_first_completed: asyncio.wait with FIRST_COMPLETED, then cancelling the rest.
//
//   async def work(name, delay):
//       await asyncio.sleep(delay)
//       return name
//
//   async def main():
//       tasks = [asyncio.create_task(work(f"task {d}", d), name=f"task {d}")
//                for d in (1, 2, 3)]
//       done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
//       for t in done:
//           print(f"{t.result()} finished first")
//       for t in pending:
//           t.cancel()
//       for t in pending:
//           try:
//               await t
//           except asyncio.CancelledError:
//               print(f"{t.get_name()} was cancelled")
//
//   asyncio.run(main())
//
// Timestamps are seconds since the start on weft::now(): real time when run by hand,
// exact under WEFT_CLOCK=virtual (as the tests run it).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

// Seconds since the first call, on the runtime's clock; first called as main_task starts.
double elapsed() {
  static const weft::TimePoint start = weft::now();
  return std::chrono::duration<double>(weft::now() - start).count();
}

weft::Task<std::string> work(std::string name, std::chrono::seconds delay) {
  co_await weft::sleep(delay);
  co_return name;
}

weft::Task<> main_task() {
  std::printf("started at %.1f s\n", elapsed());
  std::vector<weft::JoinHandle<std::string>> tasks;
  for (int d = 1; d <= 3; ++d) {
    std::string name = "task " + std::to_string(d);
    tasks.push_back(weft::spawn(work(name, std::chrono::seconds(d)), name));
  }
  auto [done, pending] = co_await weft::wait(std::move(tasks), weft::ReturnWhen::FirstCompleted);
  for (auto& t : done) {
    std::printf("%s finished first, at %.1f s\n", t.result().c_str(), elapsed());
  }
  std::printf("cancelling %zu pending tasks\n", pending.size());
  for (auto& t : pending) t.cancel();
  for (auto& t : pending) {
    try {
      co_await t;
    } catch (const weft::CancelledError&) {
      std::string name(t.info().name);
      std::printf("%s was cancelled, at %.1f s\n", name.c_str(), elapsed());
    }
  }
  std::printf("finished at %.1f s\n", elapsed());
}

}  // namespace

int main() {
  weft::run(main_task());
}
