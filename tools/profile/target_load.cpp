// parse_runtime_sample, load_between and saturated_resource; see target_load.hpp.
#include "weft/profile/target_load.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <utility>

namespace weft::profile {
namespace {

// A busy share above this is a saturated CPU: a worker never finds its queue empty.
constexpr double kSaturated = 0.85;
// Tasks that wait longer than this p99 to be polled, on CPUs that are not saturated, wait
// for something the runtime does (a long poll ahead of them, a worker that sleeps).
constexpr double kLongDelay = 1e-3;

// A primitive's queue with at least this many tasks waiting on average limits the
// throughput: requests stand in it rather than run.
constexpr double kLongQueue = 1.0;

struct Sample {
  std::string_view name;
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped values
  double value = 0;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

double parse_value(std::string_view text, std::string_view line) {
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  const std::string copy(text);
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (copy.empty() || *end != '\0') {
    throw std::runtime_error("metrics: bad value in line \"" + std::string(line) + "\"");
  }
  return v;
}

// The labels of `line` from just after its '{': `key="value",...}`, values unescaped (\\,
// \", \n). Returns the position after the closing brace.
std::size_t parse_labels(std::string_view line, std::size_t at, Sample& s) {
  const auto bad = [&line](const char* what) {
    return std::runtime_error(std::string("metrics: ") + what + " in line \"" + std::string(line) +
                              "\"");
  };
  while (true) {
    if (at >= line.size()) throw bad("unclosed labels");
    if (line[at] == '}') return at + 1;
    const std::size_t eq = line.find("=\"", at);
    if (eq == std::string_view::npos) throw bad("a label without a quoted value");
    std::string key(line.substr(at, eq - at));
    std::string value;
    std::size_t i = eq + 2;
    for (;; ++i) {
      if (i >= line.size()) throw bad("an unclosed label value");
      const char c = line[i];
      if (c == '"') break;
      if (c == '\\') {
        if (++i >= line.size()) throw bad("an unclosed label value");
        value += line[i] == 'n' ? '\n' : line[i];
      } else {
        value += c;
      }
    }
    s.labels.emplace_back(std::move(key), std::move(value));
    at = i + 1;
    if (at < line.size() && line[at] == ',') ++at;
  }
}

// "name{labels} value" or "name value".
Sample parse_sample(std::string_view line) {
  Sample s;
  const std::size_t brace = line.find('{');
  const std::size_t space = line.find(' ');
  if (brace != std::string_view::npos && (space == std::string_view::npos || brace < space)) {
    s.name = line.substr(0, brace);
    const std::size_t after = parse_labels(line, brace + 1, s);
    s.value = parse_value(trim(line.substr(after)), line);
  } else {
    if (space == std::string_view::npos) {
      throw std::runtime_error("metrics: no value in line \"" + std::string(line) + "\"");
    }
    s.name = line.substr(0, space);
    s.value = parse_value(trim(line.substr(space + 1)), line);
  }
  return s;
}

// The value of label `key` of `s`, empty if absent.
std::string_view label(const Sample& s, std::string_view key) {
  for (const auto& [k, v] : s.labels) {
    if (k == key) return v;
  }
  return {};
}

// The page's entry for the primitive `s` is labelled with, made if new.
WaitSample& wait_sample(std::vector<WaitSample>& waits, const Sample& s) {
  const std::string_view name = label(s, "name");
  const std::string_view kind = label(s, "kind");
  for (WaitSample& w : waits) {
    if (w.name == name && w.kind == kind) return w;
  }
  waits.push_back(WaitSample{std::string(name), std::string(kind)});
  return waits.back();
}

// Sets per-worker `values[worker]` from a sample with a worker label.
void set_worker(std::vector<double>& values, const Sample& s) {
  const std::string w(label(s, "worker"));
  char* end = nullptr;
  const unsigned long i = std::strtoul(w.c_str(), &end, 10);
  if (w.empty() || *end != '\0' || i > 4096) {
    throw std::runtime_error("metrics: bad worker label in " + std::string(s.name));
  }
  if (values.size() <= i) values.resize(i + 1, 0.0);
  values[i] = s.value;
}

double quantile(const CumulativeHistogram& before, const CumulativeHistogram& after, double q,
                bool& any) {
  any = false;
  if (after.buckets.empty() || after.buckets.size() != before.buckets.size()) return 0;
  const std::uint64_t total = after.buckets.back().second - before.buckets.back().second;
  if (total == 0) return 0;
  any = true;
  const double want = q * static_cast<double>(total);
  for (std::size_t i = 0; i < after.buckets.size(); ++i) {
    const std::uint64_t n = after.buckets[i].second - before.buckets[i].second;
    if (static_cast<double>(n) >= want) return after.buckets[i].first;
  }
  return after.buckets.back().first;
}

std::string percent(double share) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.0f%%", 100 * share);
  return buffer;
}

}  // namespace

RuntimeSample parse_runtime_sample(std::string_view text) {
  RuntimeSample r;
  bool uptime = false;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    const Sample s = parse_sample(line);
    if (s.name == "weft_uptime_seconds") {
      r.uptime = s.value;
      uptime = true;
    } else if (s.name == "weft_worker_cpu_seconds_total") {
      set_worker(r.worker_cpu, s);
    } else if (s.name == "weft_worker_busy_seconds_total") {
      set_worker(r.worker_busy, s);
    } else if (s.name == "weft_worker_polls_total") {
      r.polls += static_cast<std::uint64_t>(s.value);
    } else if (s.name == "weft_worker_steals_total") {
      r.steals += static_cast<std::uint64_t>(s.value);
    } else if (s.name == "weft_worker_parks_total") {
      r.parks += static_cast<std::uint64_t>(s.value);
    } else if (s.name == "weft_scheduling_delay_seconds_bucket") {
      const std::string_view le = label(s, "le");
      r.scheduling_delay.buckets.emplace_back(parse_value(le, line),
                                              static_cast<std::uint64_t>(s.value));
    } else if (s.name == "weft_sync_waits_total") {
      wait_sample(r.waits, s).waits = static_cast<std::uint64_t>(s.value);
    } else if (s.name == "weft_sync_wait_seconds_total") {
      wait_sample(r.waits, s).wait_seconds = s.value;
    }
  }
  if (!uptime) {
    throw std::runtime_error("metrics: no weft_uptime_seconds (not a weft runtime's /metrics)");
  }
  return r;
}

TargetLoad load_between(const RuntimeSample& before, const RuntimeSample& after) {
  TargetLoad load;
  load.seconds = after.uptime - before.uptime;
  if (!(load.seconds > 0)) {
    throw std::runtime_error("metrics: the target's uptime did not advance (restarted?)");
  }
  if (after.worker_cpu.size() != before.worker_cpu.size() ||
      after.worker_busy.size() != after.worker_cpu.size() ||
      before.worker_busy.size() != before.worker_cpu.size()) {
    throw std::runtime_error("metrics: the target's workers changed between two samples");
  }
  load.workers = static_cast<int>(after.worker_cpu.size());
  for (int i = 0; i < load.workers; ++i) {
    const auto w = static_cast<std::size_t>(i);
    const double cpu =
        std::clamp((after.worker_cpu[w] - before.worker_cpu[w]) / load.seconds, 0.0, 1.0);
    const double busy =
        std::clamp((after.worker_busy[w] - before.worker_busy[w]) / load.seconds, 0.0, 1.0);
    load.cpu += cpu / load.workers;
    load.busy += busy / load.workers;
    if (cpu > load.max_cpu) {
      load.max_cpu = cpu;
      load.busiest_worker = i;
    }
  }
  load.polls_per_second = static_cast<double>(after.polls - before.polls) / load.seconds;
  load.steals_per_second = static_cast<double>(after.steals - before.steals) / load.seconds;
  load.parks_per_second = static_cast<double>(after.parks - before.parks) / load.seconds;
  bool any = false;
  const double p99 = quantile(before.scheduling_delay, after.scheduling_delay, 0.99, any);
  if (any) load.scheduling_delay_p99 = p99;
  for (const WaitSample& a : after.waits) {
    for (const WaitSample& b : before.waits) {
      if (a.name != b.name || a.kind != b.kind) continue;
      const double waited = std::max(a.wait_seconds - b.wait_seconds, 0.0);
      const double waits = a.waits >= b.waits ? static_cast<double>(a.waits - b.waits) : 0.0;
      load.queues.push_back(QueueLoad{a.name, a.kind, waited / load.seconds, waits / load.seconds,
                                      waits > 0 ? waited / waits : 0.0});
    }
  }
  return load;
}

namespace {

// Whether waits of `kind` stand in front of a capacity. Those that wait for something to
// happen — an item (a queue's getters: a starved consumer), a flag, a notification, a peer's
// data — are idle, not saturated.
bool waits_for_capacity(const std::string& kind) {
  return kind != "queue get" && kind != "event" && kind != "condition" && kind != "socket read";
}

// The exposed primitive with the longest queue on average, if it is long enough to be the
// limit.
const QueueLoad* longest_queue(const TargetLoad& l) {
  const QueueLoad* longest = nullptr;
  for (const QueueLoad& q : l.queues) {
    if (!waits_for_capacity(q.kind)) continue;
    if (!longest || q.waiting > longest->waiting) longest = &q;
  }
  return longest && longest->waiting >= kLongQueue ? longest : nullptr;
}

std::string queue_verdict(const QueueLoad& q, double cpu) {
  char numbers[96];
  std::snprintf(numbers, sizeof(numbers), "%.1f %s waited on average, %.2f ms each", q.waiting,
                q.kind == "queue put" ? "producers" : "tasks", q.mean_wait * 1e3);
  const std::string what = q.kind == "queue put"      ? "the queue \"" + q.name + "\"'s consumers"
                           : q.kind == "socket write" ? "the socket \"" + q.name + "\"'s writes"
                                                      : "the " + q.kind + " \"" + q.name + "\"";
  std::string fix;
  if (q.kind == "semaphore") {
    fix = "more permits, or less time holding one";
  } else if (q.kind == "mutex") {
    fix = "hold the lock shorter, or split what it guards";
  } else if (q.kind == "pool") {
    fix = "a larger pool, or less time holding an object";
  } else if (q.kind == "queue put") {
    fix = "more consumers, or faster ones (the queue is full)";
  } else if (q.kind == "socket write") {
    fix = "the peer or the network takes the bytes slower than they are sent";
  } else {
    fix = "more of it, or less time holding it";
  }
  return what + ": " + numbers + " while the CPUs computed " + percent(cpu) + " — " + fix;
}

}  // namespace

std::string saturated_resource(const TargetLoad& l) {
  const std::string workers = std::to_string(l.workers) + (l.workers == 1 ? " worker" : " workers");
  if (l.cpu >= kSaturated) {
    return "the target's CPUs: its " + workers + " computed " + percent(l.cpu) +
           " of the time — more workers (and CPUs) or less CPU per request";
  }
  if (l.workers > 1 && l.max_cpu >= kSaturated) {
    return "one worker's CPU: worker " + std::to_string(l.busiest_worker) + " computed " +
           percent(l.max_cpu) + " of the time, the mean " + percent(l.cpu) +
           " — the load is not spread (connections on one reactor; see steals)";
  }
  if (const QueueLoad* q = longest_queue(l)) return queue_verdict(*q, l.cpu);
  if (l.scheduling_delay_p99 && *l.scheduling_delay_p99 >= kLongDelay) {
    char ms[32];
    std::snprintf(ms, sizeof(ms), "%.1f ms", *l.scheduling_delay_p99 * 1e3);
    return std::string("the run queues: tasks waited up to ") + ms +
           " (p99) to be polled while the CPUs computed " + percent(l.cpu) +
           " — long polls ahead of them, or workers slow to wake";
  }
  return "not the target's runtime: its " + workers + " computed " + percent(l.cpu) +
         " of the time — the limit is outside it (a lock, semaphore or pool the requests wait "
         "on that is not exposed with weft::metrics::expose, the network, the load generator, or "
         "another process on the same CPUs)";
}

}  // namespace weft::profile
