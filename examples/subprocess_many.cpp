// subprocess_many: ten subprocesses, at most three at a time, limited by a Semaphore(3).
//
//   async def job(sem, n):
//       async with sem:
//           proc = await asyncio.create_subprocess_exec(
//               "/bin/sh", "-c", 'echo $(($1 * $1))', "sh", str(n), stdout=PIPE)
//           out, _ = await proc.communicate()
//           return n, int(out)
//
//   async def main():
//       sem = asyncio.Semaphore(3)
//       for n, square in await asyncio.gather(*(job(sem, n) for n in range(1, 11))):
//           print(f"job {n}: {n} squared is {square}")
//
// The program counts the children running at once and fails if that ever exceeds three.
// The children end in whatever order the system runs them, so the results are printed
// after the gather, in job order. Waiting for a child is readiness of its pidfd: no timer,
// so the virtual clock of the example checks has nothing to jump over.
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/weft.hpp>

namespace {

namespace process = weft::process;

std::atomic<int> running{0};

weft::Task<std::string> job(weft::Semaphore& sem, int n) {
  auto permit = co_await sem.acquire();
  if (running.fetch_add(1) + 1 > 3) throw std::logic_error("more than three children at once");
  process::Options options{.out = process::Stdio::pipe()};
  process::Child child = process::Child::spawn(
      {"/bin/sh", "-c", "echo $(($1 * $1))", "sh", std::to_string(n)}, options);
  process::Output output = co_await child.communicate();
  running.fetch_sub(1);
  if (!output.status.success())
    throw std::runtime_error("job failed: " + output.status.to_string());
  output.out.pop_back();  // the newline
  co_return output.out;
}

weft::Task<> main_task() {
  weft::Semaphore sem(3);
  std::vector<weft::Task<std::string>> jobs;
  for (int n = 1; n <= 10; ++n) jobs.push_back(job(sem, n));
  std::vector<std::string> squares = co_await weft::gather(std::move(jobs));
  for (int n = 1; n <= 10; ++n) {
    std::printf("job %d: %d squared is %s\n", n, n, squares[n - 1].c_str());
  }
  std::printf("10 subprocesses, never more than 3 at once\n");
}

}  // namespace

int main() {
  weft::run(main_task());
}
