// lock_counter: a hundred tasks increment a shared counter under an asyncio.Lock.
//
//   counter = 0
//
//   async def increment(lock):
//       global counter
//       async with lock:
//           value = counter
//           await asyncio.sleep(0.01)   # another task runs here
//           counter = value + 1
//
//   async def main():
//       lock = asyncio.Lock()
//       await asyncio.gather(*(increment(lock) for _ in range(100)))
//       print(f"counter = {counter}")
//
// Each task reads the counter, sleeps, and writes it back: without the lock every task
// would read 0 and the counter would end at 1. With it the increments are serialised (a
// second apart in total: 100 × 10 ms), and on a multi-worker runtime the tasks run on every
// worker at once, so the Mutex is also what makes `counter` safe to touch from them.
#include <chrono>
#include <cstdio>
#include <vector>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

double elapsed() {
  static const weft::TimePoint start = weft::now();
  return std::chrono::duration<double>(weft::now() - start).count();
}

weft::Task<> increment(weft::Mutex& lock, int& counter) {
  auto guard = co_await lock.lock();
  const int value = counter;
  co_await weft::sleep(10ms);
  counter = value + 1;
}

weft::Task<> main_task() {
  elapsed();
  weft::Mutex lock;
  int counter = 0;
  std::vector<weft::JoinHandle<void>> tasks;
  for (int i = 0; i < 100; ++i) tasks.push_back(weft::spawn(increment(lock, counter)));
  co_await weft::gather(std::move(tasks));
  std::printf("counter = %d\n", counter);
  std::printf("took %.1f s\n", elapsed());
  if (counter != 100) throw std::runtime_error("lost an increment");
}

}  // namespace

int main() {
  weft::run(main_task());
}
