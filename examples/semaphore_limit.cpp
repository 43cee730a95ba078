// semaphore_limit: ten downloads, at most three at a time, limited by asyncio.Semaphore(3).
//
//   async def fetch(sem):
//       async with sem:
//           print(f"fetch started")
//           await asyncio.sleep(1)       # the download
//
//   async def main():
//       sem = asyncio.Semaphore(3)
//       await asyncio.gather(*(fetch(sem) for _ in range(10)))
//
// The program also counts how many fetches run at once and checks that it never exceeds
// three: ten one-second fetches, three at a time, take four seconds.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

double elapsed() {
  static const weft::TimePoint start = weft::now();
  return std::chrono::duration<double>(weft::now() - start).count();
}

std::atomic<int> running{0};
std::atomic<int> most_running{0};

weft::Task<> fetch(weft::Semaphore& sem) {
  auto permit = co_await sem.acquire();
  const int now = running.fetch_add(1) + 1;
  int seen = most_running.load();
  while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
  }
  if (now > 3) throw std::logic_error("more than three fetches at once");
  std::printf("%.1f s: fetch started\n", elapsed());  // (which one varies with 2 workers)
  co_await weft::sleep(1s);
  running.fetch_sub(1);
}

weft::Task<> main_task() {
  elapsed();
  weft::Semaphore sem(3);
  std::vector<weft::JoinHandle<void>> fetches;
  for (int i = 0; i < 10; ++i) fetches.push_back(weft::spawn(fetch(sem)));
  co_await weft::gather(std::move(fetches));
  std::printf("10 fetches in %.1f s, at most %d at once\n", elapsed(), most_running.load());
}

}  // namespace

int main() {
  weft::run(main_task());
}
