// Chrome trace event JSON from the workers' rings (chrome_trace.hpp).
#include "trace/chrome_trace.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <unordered_map>
#include <utility>

#include "json_string.hpp"

namespace weft::detail {

namespace {

/// A trace's JSON events, written one at a time.
class Writer {
 public:
  Writer(std::string& out, std::int64_t origin_ns) : out_(out), origin_(origin_ns) {}

  /// Starts an event: {"name":..,"cat":..,"ph":..,"ts":..,"pid":1,"tid":..  (no closing brace).
  void begin(std::string_view name, std::string_view cat, char ph, std::int64_t ns, unsigned tid) {
    out_ += first_ ? "\n" : ",\n";
    first_ = false;
    out_ += "{\"name\":";
    append_json_string(out_, name);
    out_ += ",\"cat\":\"";
    out_ += cat;
    out_ += "\",\"ph\":\"";
    out_ += ph;
    out_ += "\",\"ts\":";
    char buf[48];
    const std::int64_t rel = ns - origin_;
    std::snprintf(buf, sizeof buf, "%" PRId64 ".%03" PRId64, rel / 1000, rel % 1000);
    out_ += buf;
    out_ += ",\"pid\":1,\"tid\":";
    out_ += std::to_string(tid);
  }
  void field(std::string_view key, std::uint64_t v) {
    out_ += ",\"";
    out_ += key;
    out_ += "\":";
    out_ += std::to_string(v);
  }
  void raw(std::string_view s) { out_ += s; }
  void end() { out_ += '}'; }

 private:
  std::string& out_;
  std::int64_t origin_;
  bool first_ = true;
};

/// Indices of the begin and end events that pair up (`open` kind, `close` kind, matched
/// by `task`; nested pairs allowed, an unmatched begin or end left out).
std::vector<bool> matched(const std::vector<TraceEvent>& ev, TraceKind open, TraceKind close) {
  std::vector<bool> keep(ev.size(), false);
  std::vector<std::size_t> stack;
  for (std::size_t i = 0; i < ev.size(); ++i) {
    if (ev[i].kind == open) {
      stack.push_back(i);
    } else if (ev[i].kind == close) {
      // Pop to the begin of the same task; begins above it lost their ends.
      auto it = std::find_if(stack.rbegin(), stack.rend(),
                             [&](std::size_t b) { return ev[b].task == ev[i].task; });
      if (it == stack.rend()) continue;  // its begin was overwritten
      const std::size_t b = *it;
      stack.erase(std::next(it).base(), stack.end());
      keep[b] = true;
      keep[i] = true;
    }
  }
  return keep;
}

}  // namespace

std::string chrome_trace_json(const std::vector<WorkerTrace>& workers,
                              const std::function<std::string(std::uint64_t)>& task_name) {
  std::int64_t origin = std::numeric_limits<std::int64_t>::max();
  for (const WorkerTrace& w : workers) {
    for (const TraceEvent& e : w.events) origin = std::min(origin, e.ns);
  }
  if (origin == std::numeric_limits<std::int64_t>::max()) origin = 0;

  // Each worker's complete polls and parks; every task's polls (time, worker), for the
  // wake-ups' arrows.
  std::vector<std::vector<bool>> polls(workers.size()), parks(workers.size());
  std::unordered_map<std::uint64_t, std::vector<std::pair<std::int64_t, unsigned>>> polls_of;
  for (std::size_t w = 0; w < workers.size(); ++w) {
    const auto& ev = workers[w].events;
    polls[w] = matched(ev, TraceKind::kPollBegin, TraceKind::kPollEnd);
    parks[w] = matched(ev, TraceKind::kParkBegin, TraceKind::kParkEnd);
    for (std::size_t i = 0; i < ev.size(); ++i) {
      if (polls[w][i] && ev[i].kind == TraceKind::kPollBegin) {
        polls_of[ev[i].task].emplace_back(ev[i].ns, workers[w].worker);
      }
    }
  }
  for (auto& [task, v] : polls_of) std::sort(v.begin(), v.end());

  auto name_of = [&](std::uint64_t task) {
    std::string n = task_name ? task_name(task) : std::string();
    return n.empty() ? "task " + std::to_string(task) : n;
  };

  std::string out = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[";
  Writer wr(out, origin);
  for (const WorkerTrace& w : workers) {
    wr.begin("thread_name", "__metadata", 'M', origin, w.worker);
    wr.raw(",\"args\":{\"name\":\"worker " + std::to_string(w.worker) + "\"}");
    wr.end();
  }
  std::uint64_t flow = 0;
  for (std::size_t wi = 0; wi < workers.size(); ++wi) {
    const unsigned tid = workers[wi].worker;
    const auto& ev = workers[wi].events;
    for (std::size_t i = 0; i < ev.size(); ++i) {
      const TraceEvent& e = ev[i];
      switch (e.kind) {
        case TraceKind::kPollBegin:
        case TraceKind::kPollEnd: {
          if (!polls[wi][i]) break;
          const bool b = e.kind == TraceKind::kPollBegin;
          const std::string name = name_of(e.task);
          // On the worker's track...
          wr.begin(name, "poll", b ? 'B' : 'E', e.ns, tid);
          wr.raw(",\"args\":{\"task\":" + std::to_string(e.task));
          // A short poll timed as an even share of its group's span (tracing.cpp).
          if (b && e.aux != 0) wr.raw(",\"grouped\":" + std::to_string(e.aux));
          wr.raw("}");
          wr.end();
          // ...and on the task's own (an async track keyed by its id).
          wr.begin(name, "task", b ? 'b' : 'e', e.ns, tid);
          wr.field("id", e.task);
          wr.end();
          break;
        }
        case TraceKind::kParkBegin:
        case TraceKind::kParkEnd:
          if (!parks[wi][i]) break;
          wr.begin("park", "park", e.kind == TraceKind::kParkBegin ? 'B' : 'E', e.ns, tid);
          wr.end();
          break;
        case TraceKind::kWake:
        case TraceKind::kSpawn: {
          // An arrow to the first complete poll of the task at or after this moment.
          auto it = polls_of.find(e.task);
          if (it == polls_of.end()) break;
          const auto& v = it->second;
          auto p = std::lower_bound(v.begin(), v.end(), std::make_pair(e.ns, 0u));
          if (p == v.end()) break;
          const char* what = e.kind == TraceKind::kWake ? "wake" : "spawn";
          ++flow;
          wr.begin(what, what, 's', e.ns, tid);
          wr.field("id", flow);
          wr.raw(",\"args\":{\"task\":" + std::to_string(e.task) +
                 ",\"from\":" + std::to_string(e.other) + "}");
          wr.end();
          wr.begin(what, what, 'f', p->first, p->second);
          wr.field("id", flow);
          wr.raw(",\"bp\":\"e\"");
          wr.end();
          break;
        }
        case TraceKind::kSteal:
          wr.begin("steal", "steal", 'i', e.ns, tid);
          wr.raw(",\"s\":\"t\",\"args\":{\"tasks\":" + std::to_string(e.task) +
                 ",\"from_worker\":" + std::to_string(e.other) + "}");
          wr.end();
          break;
        case TraceKind::kIoEvents:
        case TraceKind::kTimers: {
          const bool io = e.kind == TraceKind::kIoEvents;
          wr.begin(io ? "io events" : "timers", io ? "io" : "timer", 'i', e.ns, tid);
          wr.raw(",\"s\":\"t\",\"args\":{\"count\":" + std::to_string(e.task) + "}");
          wr.end();
          break;
        }
        case TraceKind::kTaskStart:
        case TraceKind::kIdle:
          break;  // the task's name comes from task_name
      }
    }
  }
  out += "\n]}\n";
  return out;
}

}  // namespace weft::detail
