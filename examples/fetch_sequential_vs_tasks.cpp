// fetch_sequential_vs_tasks: awaiting coroutines one after the other versus running them
// as tasks (asyncio.create_task), from the "Coroutines and Tasks" tutorial.
//
//   async def fetch_data(name):
//       print(f"fetching {name}")
//       await asyncio.sleep(3)
//       return f"data {name}"
//
//   async def main():
//       a = await fetch_data("a")             # 3 s ...
//       b = await fetch_data("b")             # ... then 3 s more: 6 s
//       task_a = asyncio.create_task(fetch_data("a"))
//       task_b = asyncio.create_task(fetch_data("b"))
//       a, b = await task_a, await task_b     # both at once: 3 s
//
//   asyncio.run(main())
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

weft::Task<std::string> fetch_data(std::string name) {
  std::printf("fetching %s at %.1f s\n", name.c_str(), elapsed());
  co_await weft::sleep(3s);
  co_return "data " + name;
}

weft::Task<> main_task() {
  double start = elapsed();
  std::printf("sequential: started at %.1f s\n", start);
  std::string a = co_await fetch_data("a");
  std::string b = co_await fetch_data("b");
  double end = elapsed();
  std::printf("sequential: got '%s' and '%s', finished at %.1f s (took %.1f s)\n", a.c_str(),
              b.c_str(), end, end - start);

  start = elapsed();
  std::printf("tasks: started at %.1f s\n", start);
  weft::JoinHandle<std::string> task_a = weft::spawn(fetch_data("a"));
  weft::JoinHandle<std::string> task_b = weft::spawn(fetch_data("b"));
  a = co_await task_a;
  b = co_await task_b;
  end = elapsed();
  std::printf("tasks: got '%s' and '%s', finished at %.1f s (took %.1f s)\n", a.c_str(), b.c_str(),
              end, end - start);
}

}  // namespace

int main() {
  weft::run(main_task());
}
