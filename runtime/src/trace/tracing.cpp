// Tracing's start, stop and export (Scheduler::start_tracing, stop_tracing, trace_json;
// docs/design.md §8).
//
// The rule: the rings are made once, by the first start, and live as long as the scheduler,
// so a worker that has not yet seen a stop may go on writing into its ring without a
// handshake; a trace is the events stamped between its start and its stop. A worker's ring
// names woken and spawned tasks by address (it cannot follow a task another worker may have
// freed): here each becomes the id of the first poll of that address at or after the
// wake-up, which is the poll it led to.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <unordered_map>

#include "scheduler/scheduler.hpp"
#include "trace/chrome_trace.hpp"
#include "trace/trace_stamps.hpp"

namespace weft::detail {

bool trace_tsc_usable() noexcept {
#if defined(__x86_64__)
  // Both flags: the TSC ticks at one rate whatever the frequency (constant_tsc) and on in
  // deep sleep states (nonstop_tsc); the kernel syncs it across CPUs at boot.
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    const auto has = [&](const char* flag) {
      const std::string padded = std::string(" ") + flag;
      const std::size_t at = line.find(padded);
      return at != std::string::npos &&
             (at + padded.size() == line.size() || line[at + padded.size()] == ' ');
    };
    return has("constant_tsc") && has("nonstop_tsc");
  }
#endif
  return false;
}

TraceClock::TraceClock(bool tsc) noexcept : tsc_(tsc) {
  stamp0_ = trace_stamp(tsc_);
  ns0_ = trace_stamp(false);
}

void TraceClock::calibrate() noexcept {
  if (!tsc_) return;
  const std::int64_t stamp1 = trace_stamp(true);
  const std::int64_t ns1 = trace_stamp(false);
  // Too short a span to measure the rate (a trace read right after its start): nominal 1.
  if (stamp1 - stamp0_ > 1'000'000 && ns1 > ns0_) {
    ns_per_stamp_ = static_cast<double>(ns1 - ns0_) / static_cast<double>(stamp1 - stamp0_);
  }
}

std::int64_t TraceClock::to_ns(std::int64_t stamp) const noexcept {
  if (!tsc_) return stamp;
  return ns0_ + static_cast<std::int64_t>(static_cast<double>(stamp - stamp0_) * ns_per_stamp_);
}

namespace {

/// `ns` in trace stamps: the TSC's rate measured over 200 us of CLOCK_MONOTONIC (once per
/// scheduler, at its first trace).
std::int64_t in_stamps(std::int64_t ns, bool tsc) {
  if (!tsc || ns == 0) return ns;
  const std::int64_t ns0 = trace_stamp(false), stamp0 = trace_stamp(true);
  std::int64_t ns1 = ns0;
  while (ns1 - ns0 < 200'000) ns1 = trace_stamp(false);
  const std::int64_t stamps = trace_stamp(true) - stamp0;
  return std::max<std::int64_t>(
      1, static_cast<std::int64_t>(static_cast<double>(stamps) * static_cast<double>(ns) /
                                   static_cast<double>(ns1 - ns0)));
}

}  // namespace

void Scheduler::start_tracing() {
  std::lock_guard lock(trace_mu_);
  if (trace_rings_.empty()) {
    trace_tsc_ = trace_tsc_usable();
    trace_short_poll_ = in_stamps(options_.trace_grouped_polls_under.count(), trace_tsc_);
    trace_rings_.reserve(workers_.size());
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      trace_rings_.push_back(std::make_unique<TraceBuffers>(options_.trace_events_per_worker));
    }
  }
  trace_clock_.emplace(trace_tsc_);
  trace_from_ = trace_stamp(trace_tsc_);
  trace_until_ = 0;
  // Release: a worker that loads its ring (refresh_trace) sees it made and trace_tsc_ set.
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->remote().trace.store(trace_rings_[i].get(), std::memory_order_release);
  }
  // Called from a task: its own worker starts with its next poll, not its next pass.
  if (Worker* w = current_worker(); w != nullptr && &w->scheduler() == this) w->refresh_trace();
}

void Scheduler::stop_tracing() {
  std::lock_guard lock(trace_mu_);
  if (trace_rings_.empty() || trace_until_ != 0) return;
  trace_until_ = trace_stamp(trace_tsc_);
  trace_clock_->calibrate();  // once: every export of this trace gives the same times
  for (auto& w : workers_) w->remote().trace.store(nullptr, std::memory_order_release);
}

namespace {

/// "file:line" of a spawn site, the file without its directories.
std::string site_name(const char* file, std::uint32_t line) {
  if (file == nullptr || *file == '\0') return {};
  const char* slash = std::strrchr(file, '/');
  return std::string(slash ? slash + 1 : file) + ":" + std::to_string(line);
}

}  // namespace

std::string Scheduler::trace_json() {
  std::lock_guard lock(trace_mu_);
  std::vector<WorkerTrace> traces;
  if (trace_rings_.empty()) return chrome_trace_json(traces, nullptr);
  TraceClock clock = *trace_clock_;
  if (trace_until_ == 0) clock.calibrate();
  const std::int64_t until =
      trace_until_ != 0 ? trace_until_ : std::numeric_limits<std::int64_t>::max();

  // Each address's polls (stamp, id), for the wake-ups; each task's spawn site.
  std::unordered_map<std::uint64_t, std::vector<std::pair<std::int64_t, std::uint64_t>>> polls_at;
  std::unordered_map<std::uint64_t, std::string> names;
  traces.reserve(trace_rings_.size());
  for (std::size_t i = 0; i < trace_rings_.size(); ++i) {
    WorkerTrace& w = traces.emplace_back();
    w.worker = static_cast<unsigned>(i);
    w.events = trace_rings_[i]->events.snapshot();
    w.events = with_resolved_stamps(std::move(w.events));
    std::erase_if(w.events,
                  [&](const TraceEvent& e) { return e.ns < trace_from_ || e.ns > until; });
    for (const TraceEvent& e : w.events) {
      if (e.kind == TraceKind::kPollBegin) polls_at[e.other].emplace_back(e.ns, e.task);
      if (e.kind == TraceKind::kTaskStart) {
        names[e.task] = site_name(reinterpret_cast<const char*>(e.other), e.aux);
      }
    }
  }
  for (auto& [addr, v] : polls_at) std::sort(v.begin(), v.end());
  // The names of the tasks started while tracing (kept in a ring of their own).
  for (const auto& r : trace_rings_) {
    for (TraceNameRing::Named& n : r->names.snapshot()) names[n.id] = std::move(n.name);
  }
  for (WorkerTrace& w : traces) {
    std::erase_if(w.events, [&](TraceEvent& e) {
      if (e.kind != TraceKind::kWake && e.kind != TraceKind::kSpawn) return false;
      auto it = polls_at.find(e.task);
      if (it == polls_at.end()) return true;  // not polled within the trace
      auto p = std::lower_bound(it->second.begin(), it->second.end(),
                                std::make_pair(e.ns, std::uint64_t{0}));
      if (p == it->second.end()) return true;
      e.task = p->second;
      return false;
    });
    for (TraceEvent& e : w.events) e.ns = clock.to_ns(e.ns);
  }
  // Live tasks by their names, whole; the others by the name noted when they started, or
  // else by spawn site.
  for (TaskHeader* t : registry_.snapshot()) {
    if (!t->name().empty()) names[t->id()] = std::string(t->name());
    t->release();
  }
  return chrome_trace_json(traces, [&](std::uint64_t id) {
    auto it = names.find(id);
    if (it == names.end() || it->second.empty()) return std::string();
    return it->second + " #" + std::to_string(id);
  });
}

}  // namespace weft::detail
