// parse_runtime_sample, load_between and saturated_resource; see target_load.hpp.
#include "target_load.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace weft::profile {
namespace {

// A busy share above this is a saturated CPU: a worker never finds its queue empty.
constexpr double kSaturated = 0.85;
// Tasks that wait longer than this p99 to be polled, on CPUs that are not saturated, wait
// for something the runtime does (a long poll ahead of them, a worker that sleeps).
constexpr double kLongDelay = 1e-3;

struct Sample {
  std::string_view name;
  std::string_view labels;  // between the braces, empty without
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

// "name{labels} value" or "name value".
Sample parse_sample(std::string_view line) {
  Sample s;
  const std::size_t brace = line.find('{');
  const std::size_t space = line.find(' ');
  if (brace != std::string_view::npos && (space == std::string_view::npos || brace < space)) {
    const std::size_t close = line.find('}', brace);
    if (close == std::string_view::npos) {
      throw std::runtime_error("metrics: unclosed labels in line \"" + std::string(line) + "\"");
    }
    s.name = line.substr(0, brace);
    s.labels = line.substr(brace + 1, close - brace - 1);
    s.value = parse_value(trim(line.substr(close + 1)), line);
  } else {
    if (space == std::string_view::npos) {
      throw std::runtime_error("metrics: no value in line \"" + std::string(line) + "\"");
    }
    s.name = line.substr(0, space);
    s.value = parse_value(trim(line.substr(space + 1)), line);
  }
  return s;
}

// The value of label `key` in `labels` (`worker="3",le="0.5"`), empty if absent.
std::string_view label(std::string_view labels, std::string_view key) {
  const std::string pattern = std::string(key) + "=\"";
  const std::size_t at = labels.find(pattern);
  if (at == std::string_view::npos) return {};
  const std::size_t from = at + pattern.size();
  const std::size_t to = labels.find('"', from);
  return to == std::string_view::npos ? std::string_view() : labels.substr(from, to - from);
}

// Sets per-worker `values[worker]` from a sample with a worker label.
void set_worker(std::vector<double>& values, const Sample& s) {
  const std::string w(label(s.labels, "worker"));
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
      const std::string_view le = label(s.labels, "le");
      r.scheduling_delay.buckets.emplace_back(parse_value(le, line),
                                              static_cast<std::uint64_t>(s.value));
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
  return load;
}

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
  if (l.scheduling_delay_p99 && *l.scheduling_delay_p99 >= kLongDelay) {
    char ms[32];
    std::snprintf(ms, sizeof(ms), "%.1f ms", *l.scheduling_delay_p99 * 1e3);
    return std::string("the run queues: tasks waited up to ") + ms +
           " (p99) to be polled while the CPUs computed " + percent(l.cpu) +
           " — long polls ahead of them, or workers slow to wake";
  }
  return "not the target's runtime: its " + workers + " computed " + percent(l.cpu) +
         " of the time — the limit is outside it (a lock, semaphore or pool the requests wait "
         "on, the network, the load generator, or another process on the same CPUs)";
}

}  // namespace weft::profile
