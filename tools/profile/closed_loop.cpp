// run_step: the connect phase, the looping tasks and the merge; see closed_loop.hpp.
#include "weft/profile/closed_loop.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include <weft/runtime/gather.hpp>

#include "weft/profile/requests.hpp"

namespace weft::profile {
namespace {

struct Window {
  TimePoint start;  // end of warm-up
  TimePoint end;
};

struct TaskResult {
  LatencyHistogram latency;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
};

// The loop of one task: request after request on its own session until the window ends.
Task<TaskResult> drive_session(Target& target, std::unique_ptr<Session> session, Window window) {
  TaskResult result;
  while (now() < window.end) {
    if (!session) {
      const bool connected = co_await try_reconnect(target, session);
      if (!connected) ++result.errors;
      continue;
    }
    const TimePoint sent = now();
    const bool ok = co_await try_request(session);
    const TimePoint done = now();
    if (!ok) {
      ++result.errors;
    } else if (done >= window.start && done < window.end) {
      ++result.requests;
      result.latency.record(nanoseconds(done - sent));
    }
  }
  co_return result;
}

}  // namespace

Task<StepResult> run_step(Target& target, int concurrency, Duration warmup, Duration measure) {
  if (concurrency < 1) throw std::invalid_argument("run_step: concurrency must be >= 1");
  if (measure <= Duration::zero()) throw std::invalid_argument("run_step: measure must be > 0");
  std::vector<std::unique_ptr<Session>> sessions = co_await connect_all(target, concurrency);
  const TimePoint start = now() + warmup;
  const Window window{.start = start, .end = start + measure};
  std::vector<Task<TaskResult>> tasks;
  for (auto& session : sessions) tasks.push_back(drive_session(target, std::move(session), window));
  std::vector<TaskResult> results = co_await gather(std::move(tasks));
  StepResult step{.concurrency = concurrency,
                  .seconds = std::chrono::duration<double>(measure).count()};
  for (const TaskResult& r : results) {
    step.latency.merge(r.latency);
    step.requests += r.requests;
    step.errors += r.errors;
  }
  co_return step;
}

}  // namespace weft::profile
