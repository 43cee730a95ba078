// run_step: the connect phase, the looping tasks and the merge; see closed_loop.hpp.
#include "closed_loop.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include <weft/runtime/cancel.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/runtime/gather.hpp>

namespace weft::profile {
namespace {

// The pause after a failed reconnect: long enough not to spin on a dead target.
constexpr auto kReconnectPause = std::chrono::milliseconds(10);
// A request that takes longer has failed: a target that stops answering must not hang the
// step. Far above any latency worth profiling.
constexpr auto kRequestTimeout = std::chrono::seconds(10);

struct Window {
  TimePoint start;  // end of warm-up
  TimePoint end;
};

struct TaskResult {
  LatencyHistogram latency;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
};

std::uint64_t nanoseconds(Duration d) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

// One request on `session`; false (and `session` reset) if it failed.
Task<bool> try_request(std::unique_ptr<Session>& session) {
  try {
    co_await wait_for(session->request(), kRequestTimeout);
    co_return true;
  } catch (const CancelledError&) {
    throw;
  } catch (const std::exception&) {
    session.reset();
  }
  co_return false;
}

// A new session in place of a failed one; false (after a pause) if connecting failed.
Task<bool> try_reconnect(Target& target, std::unique_ptr<Session>& session) {
  try {
    session = co_await target.connect();
    co_return true;
  } catch (const CancelledError&) {
    throw;
  } catch (const std::exception&) {
  }
  co_await sleep(kReconnectPause);
  co_return false;
}

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

Task<std::vector<std::unique_ptr<Session>>> connect_all(Target& target, int count) {
  std::vector<Task<std::unique_ptr<Session>>> connects;
  for (int i = 0; i < count; ++i) connects.push_back(target.connect());
  co_return co_await gather(std::move(connects));
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
