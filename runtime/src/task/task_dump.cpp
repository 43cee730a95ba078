// The task dump (task_dump.hpp): reading every live task, and its text and JSON.
//
// The rule: a task is read only while the dump holds a reference to it (the registry's
// snapshot takes one per task), and only the fields that are fixed at spawn or written as
// relaxed atomics (the wait word, the last wait, the start state; task_header.hpp); a
// worker's current task is compared, never dereferenced. So a dump never blocks a task and
// never reads freed memory, whatever the tasks do meanwhile.
#include "weft/runtime/task_dump.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <utility>
#include <vector>

#include "json_string.hpp"
#include "scheduler/scheduler.hpp"

namespace weft {

namespace detail {

TaskDump Scheduler::dump_tasks() {
  TaskDump d;
  auto& workers = workers_;
  d.workers = workers.size();
  // Each worker's task in its poll now (null between polls).
  std::vector<const TaskHeader*> running(workers.size(), nullptr);
  for (std::size_t i = 0; i < workers.size(); ++i) {
    // Acquire: pairs with the worker's publication of its tls_task (Worker::main).
    const std::atomic<TaskHeader*>* slot =
        workers[i]->remote().running.load(std::memory_order_acquire);
    running[i] = slot ? slot->load(std::memory_order_relaxed) : nullptr;
  }
  const std::uint64_t now = clock_.now_tick();
  std::vector<TaskHeader*> live = registry_.snapshot();
  d.tasks.reserve(live.size());
  for (TaskHeader* t : live) {
    LiveTask& x = d.tasks.emplace_back();
    x.id = t->id();
    x.name = std::string(t->name());
    x.spawned_at = t->where();
    x.started = t->started();
    x.awaited_by = t->awaited_by();
    const auto on = std::find(running.begin(), running.end(), t);
    if (on != running.end()) {
      x.state = LiveTask::State::kRunning;
      x.worker = static_cast<int>(on - running.begin());
    } else if (t->is_waiting()) {
      const TaskHeader::LastWait w = t->last_wait();
      x.state = LiveTask::State::kWaiting;
      x.wait_kind = w.kind ? std::string_view(w.kind) : std::string_view("unknown");
      x.waiting_at = w.where;
      x.awaited_task = w.awaited_task;
      x.waiting_for = std::chrono::milliseconds(now > w.since_tick ? now - w.since_tick : 0);
    }
  }
  for (TaskHeader* t : live) t->release();
  std::sort(d.tasks.begin(), d.tasks.end(),
            [](const LiveTask& a, const LiveTask& b) { return a.id < b.id; });
  return d;
}

}  // namespace detail

using detail::append_json_string;

namespace {

const char* state_name(LiveTask::State s) {
  switch (s) {
    case LiveTask::State::kRunning:
      return "running";
    case LiveTask::State::kRunnable:
      return "runnable";
    case LiveTask::State::kWaiting:
      return "waiting";
  }
  return "?";
}

void append_place(std::string& out, const std::source_location& where) {
  if (where.file_name() == nullptr || where.file_name()[0] == '\0') {
    out += "an unknown place";
    return;
  }
  out += where.file_name();
  out += ':';
  out += std::to_string(where.line());
}

std::string duration_text(std::chrono::milliseconds d) {
  char buf[32];
  if (d < std::chrono::seconds(1)) {
    std::snprintf(buf, sizeof buf, "%" PRId64 " ms", static_cast<std::int64_t>(d.count()));
  } else {
    std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(d.count()) / 1000.0);
  }
  return buf;
}

void append_line(std::string& out, const LiveTask& t, int depth) {
  out.append(static_cast<std::size_t>(2 * depth), ' ');
  out += "task ";
  out += std::to_string(t.id);
  if (!t.name.empty()) {
    out += " '";
    out += t.name;
    out += '\'';
  }
  out += " (spawned at ";
  append_place(out, t.spawned_at);
  out += "): ";
  switch (t.state) {
    case LiveTask::State::kRunning:
      out += "running on worker ";
      out += std::to_string(t.worker);
      break;
    case LiveTask::State::kRunnable:
      out += t.started ? "runnable" : "runnable, not started";
      break;
    case LiveTask::State::kWaiting:
      out += "waiting ";
      out += duration_text(t.waiting_for);
      out += " on ";
      out += t.wait_kind;
      if (t.awaited_task != 0) {
        out += " of task ";
        out += std::to_string(t.awaited_task);
      }
      out += " at ";
      append_place(out, t.waiting_at);
      break;
  }
  out += '\n';
}

void append_json_place(std::string& out, const std::source_location& where) {
  out += "\"file\":";
  append_json_string(out, where.file_name() ? where.file_name() : "");
  out += ",\"line\":";
  out += std::to_string(where.line());
  out += ",\"function\":";
  append_json_string(out, where.function_name() ? where.function_name() : "");
}

}  // namespace

const LiveTask* TaskDump::find(std::uint64_t id) const noexcept {
  const auto it = std::lower_bound(tasks.begin(), tasks.end(), id,
                                   [](const LiveTask& t, std::uint64_t v) { return t.id < v; });
  return it != tasks.end() && it->id == id ? &*it : nullptr;
}

std::string TaskDump::text() const {
  std::size_t counts[3] = {0, 0, 0};
  for (const LiveTask& t : tasks) ++counts[static_cast<int>(t.state)];
  std::string out = "weft: " + std::to_string(tasks.size()) + " live tasks on " +
                    std::to_string(workers) + " workers: " + std::to_string(counts[0]) +
                    " running, " + std::to_string(counts[1]) + " runnable, " +
                    std::to_string(counts[2]) + " waiting\n";
  out.reserve(out.size() + tasks.size() * 120);
  // The edges, by index: a join's awaited task below the joiner, a gather's (a wait's, an
  // as_completed's) children below the task that awaits them. One parent each (a task has
  // one observer); a task is a root unless a live task awaits it.
  std::vector<std::vector<std::size_t>> below(tasks.size());
  std::vector<bool> awaited(tasks.size(), false);
  auto link = [&](std::size_t parent, const LiveTask* child) {
    if (child == nullptr) return;  // not live any more
    const auto c = static_cast<std::size_t>(child - tasks.data());
    if (c == parent || awaited[c]) return;
    awaited[c] = true;
    below[parent].push_back(c);
  };
  for (std::size_t i = 0; i < tasks.size(); ++i) {  // `tasks` is sorted by id: find works
    if (tasks[i].state == LiveTask::State::kWaiting && tasks[i].awaited_task != 0) {
      link(i, find(tasks[i].awaited_task));
    }
  }
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].awaited_by == 0) continue;
    if (const LiveTask* p = find(tasks[i].awaited_by)) {
      link(static_cast<std::size_t>(p - tasks.data()), &tasks[i]);
    }
  }
  for (auto& v : below) std::sort(v.begin(), v.end());  // children in the order spawned
  // Depth first with a stack of its own (a chain may be 100,000 joins deep); `printed` ends
  // a cycle (two tasks that await each other never finish, and the dump shows them once).
  std::vector<bool> printed(tasks.size(), false);
  std::vector<std::pair<std::size_t, int>> stack;
  auto print_tree = [&](std::size_t root) {
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      const auto [i, depth] = stack.back();
      stack.pop_back();
      if (printed[i]) continue;
      printed[i] = true;
      append_line(out, tasks[i], depth);
      for (auto it = below[i].rbegin(); it != below[i].rend(); ++it) {
        stack.emplace_back(*it, depth + 1);
      }
    }
  };
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (!awaited[i]) print_tree(i);
  }
  for (std::size_t i = 0; i < tasks.size(); ++i) print_tree(i);  // cycles
  return out;
}

std::string TaskDump::json() const {
  std::string out = "{\"workers\":" + std::to_string(workers) + ",\"tasks\":[";
  out.reserve(out.size() + tasks.size() * 240);
  bool first = true;
  for (const LiveTask& t : tasks) {
    if (!first) out += ',';
    first = false;
    out += "{\"id\":";
    out += std::to_string(t.id);
    out += ",\"name\":";
    append_json_string(out, t.name);
    out += ",\"spawned_at\":{";
    append_json_place(out, t.spawned_at);
    out += "},\"state\":\"";
    out += state_name(t.state);
    out += "\",\"started\":";
    out += t.started ? "true" : "false";
    if (t.awaited_by != 0) {
      out += ",\"awaited_by\":";
      out += std::to_string(t.awaited_by);
    }
    if (t.state == LiveTask::State::kRunning) {
      out += ",\"worker\":";
      out += std::to_string(t.worker);
    }
    if (t.state == LiveTask::State::kWaiting) {
      out += ",\"wait\":{\"kind\":";
      append_json_string(out, t.wait_kind);
      out += ',';
      append_json_place(out, t.waiting_at);
      out += ",\"awaited_task\":";
      out += std::to_string(t.awaited_task);
      out += ",\"for_ms\":";
      out += std::to_string(t.waiting_for.count());
      out += '}';
    }
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace weft
