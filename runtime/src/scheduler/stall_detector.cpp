// The monitor thread of the stall detector (stall_detector.hpp) and the report's text.
#include "scheduler/stall_detector.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "scheduler/scheduler.hpp"

namespace weft {

std::string to_string(const StallReport& r) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.held).count();
  std::string s = "weft: ";
  if (r.task_id != 0) {
    s += "task " + std::to_string(r.task_id);
    if (!r.task_name.empty()) s += " '" + r.task_name + "'";
    s += " spawned at ";
    s += r.where.file_name();
    s += ":" + std::to_string(r.where.line());
  } else {
    s += "a task";
  }
  s += " has held worker " + std::to_string(r.worker) + " for " + std::to_string(ms) + " ms";
  s += r.blocked ? " (blocked in a system call)" : " (computing)";
  return s;
}

namespace detail {

namespace {

void print_to_stderr(const StallReport& r) {
  std::fprintf(stderr, "%s\n", to_string(r).c_str());
}

/// Whether thread `tid` of this process sleeps (in a system call) rather than runs or waits
/// to run: its state in /proc/self/task/TID/stat. Where /proc cannot tell, the thread's CPU
/// time since the watch began decides: a sleeping thread gets next to none, and a computing
/// one on a busy machine still gets a share, so the line is drawn at a tenth.
bool sleeping(pid_t tid, const StallWatch& watch, std::int64_t now_ns, std::int64_t cpu_now_ns) {
  if (tid > 0) {
    const std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
    if (std::FILE* f = std::fopen(path.c_str(), "r")) {
      char buf[512];
      const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
      std::fclose(f);
      buf[n] = 0;
      // "TID (comm) S ...": the state follows the last ')' (comm may hold one).
      if (const char* close = std::strrchr(buf, ')'); close && close[1] == ' ' && close[2]) {
        return close[2] != 'R';
      }
    }
  }
  if (cpu_now_ns < 0 || watch.cpu_since_ns < 0) return false;
  return 10 * (cpu_now_ns - watch.cpu_since_ns) < now_ns - watch.since_ns;
}

}  // namespace

StallDetector::StallDetector(Scheduler& s, std::chrono::milliseconds threshold,
                             StallHandler handler)
    : sched_(s),
      threshold_ns_(std::chrono::nanoseconds(threshold).count()),
      // Looks a quarter of the threshold apart: a poll is reported by 1.25 x the threshold.
      interval_(std::max<std::chrono::nanoseconds>(threshold / 4, std::chrono::milliseconds(1))),
      handler_(handler ? std::move(handler) : StallHandler(print_to_stderr)) {
  thread_ = std::thread([this] { main(); });
}

void StallDetector::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StallDetector::main() {
  std::vector<StallWatch> watches(sched_.workers().size());
  std::unique_lock lk(mu_);
  while (!cv_.wait_for(lk, interval_, [this] { return stop_; })) {
    lk.unlock();
    look_at_all(watches);
    lk.lock();
  }
}

void StallDetector::look_at_all(std::vector<StallWatch>& watches) {
  auto& workers = sched_.workers();
  const std::int64_t now = clock_ns(CLOCK_MONOTONIC);
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const Worker::Remote& r = workers[i]->remote();
    // Acquire: pairs with run_task's release store, so `running` is at least that poll's.
    const std::uint64_t polls = r.polls.load(std::memory_order_acquire);
    // Relaxed: a hint; a stale value only delays a report by one look.
    const bool in_poll = r.poll_tick.load(std::memory_order_relaxed) != kNoPoll;
    const clockid_t clock = r.cpu_clock.load(std::memory_order_relaxed);
    const std::int64_t cpu = clock == Worker::Remote::kNoCpuClock ? -1 : clock_ns(clock);
    StallWatch& w = watches[i];
    if (!w.look(polls, in_poll, now, cpu, threshold_ns_)) continue;
    // A poll that has neither used half the threshold of CPU nor sleeps in a system call
    // waited for a CPU most of the time: the machine's doing, looked at again next time.
    const bool blocked = sleeping(r.tid.load(std::memory_order_relaxed), w, now, cpu);
    const bool computed =
        cpu >= 0 && w.cpu_since_ns >= 0 && 2 * (cpu - w.cpu_since_ns) >= threshold_ns_;
    if (!blocked && !computed && cpu >= 0 && w.cpu_since_ns >= 0) continue;
    w.reported = true;
    report(static_cast<unsigned>(i), w, now, blocked);
  }
}

void StallDetector::report(unsigned worker, const StallWatch& watch, std::int64_t now_ns,
                           bool blocked) {
  Worker::Remote& r = sched_.workers()[worker]->remote();
  Worker::add(r.stalls, 1);  // the monitor is the one writer
  StallReport rep;
  rep.worker = worker;
  rep.held = std::chrono::nanoseconds(now_ns - watch.since_ns);
  rep.blocked = blocked;
  // Relaxed: only a key for the registry, never dereferenced outside its lock.
  // Acquire: pairs with the worker's publication of its tls_task (Worker::main).
  const std::atomic<TaskHeader*>* slot = r.running.load(std::memory_order_acquire);
  const TaskHeader* running = slot ? slot->load(std::memory_order_relaxed) : nullptr;
  sched_.registry().with_live(running, [&rep](const TaskHeader& t) {
    rep.task_id = t.id();
    rep.task_name = std::string(t.name());
    rep.where = t.where();
  });
  // The poll ended while we looked it up: the task found may be the next poll's.
  if (r.polls.load(std::memory_order_acquire) != watch.polls) {
    rep.task_id = 0;
    rep.task_name.clear();
    rep.where = {};
  }
  try {
    handler_(rep);
  } catch (...) {
    // A failing handler must not end the monitor: the next stall is reported too.
  }
}

}  // namespace detail
}  // namespace weft
