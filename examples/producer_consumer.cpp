// producer_consumer: a producer hands work to a consumer through an asyncio.Queue, and a
// sentinel (None) tells the consumer to stop.
//
//   async def producer(queue):
//       for i in range(1, 6):
//           await asyncio.sleep(0.5)
//           print(f"produced {i}")
//           await queue.put(i)
//       await queue.put(None)            # sentinel: no more items
//
//   async def consumer(queue):
//       while (item := await queue.get()) is not None:
//           print(f"consumed {item}")
//           await asyncio.sleep(1)       # consuming is slower than producing
//       print("consumer done")
//
//   async def main():
//       queue = asyncio.Queue(maxsize=2)
//       await asyncio.gather(producer(queue), consumer(queue))
//
// The queue holds at most two items, so once the consumer falls behind the producer waits in
// put() (back-pressure): the producer finishes at 3.5 s instead of 2.5 s.
#include <chrono>
#include <cstdio>
#include <optional>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

double elapsed() {
  static const weft::TimePoint start = weft::now();
  return std::chrono::duration<double>(weft::now() - start).count();
}

weft::Task<> producer(weft::Queue<std::optional<int>>& queue) {
  for (int i = 1; i <= 5; ++i) {
    co_await weft::sleep(500ms);
    std::printf("%.1f s: produced %d\n", elapsed(), i);
    co_await queue.put(i);
  }
  co_await queue.put(std::nullopt);  // the sentinel
  std::printf("%.1f s: producer done\n", elapsed());
}

weft::Task<> consumer(weft::Queue<std::optional<int>>& queue) {
  while (std::optional<int> item = co_await queue.get()) {
    std::printf("%.1f s: consumed %d\n", elapsed(), *item);
    co_await weft::sleep(1s);
  }
  std::printf("%.1f s: consumer done\n", elapsed());
}

weft::Task<> main_task() {
  elapsed();
  weft::Queue<std::optional<int>> queue(2);
  co_await weft::gather(producer(queue), consumer(queue));
}

}  // namespace

int main() {
  weft::run(main_task());
}
