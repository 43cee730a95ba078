// markdown_report and json_report; see report.hpp.
#include "weft/profile/report.hpp"

#include <cstdio>
#include <string_view>
#include <vector>

namespace weft::profile {
namespace {

constexpr double kNanosecondsPerMicrosecond = 1e3;

struct Quantile {
  const char* name;
  double q;
};
constexpr Quantile kQuantiles[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}};

double micros(std::uint64_t ns) {
  return static_cast<double>(ns) / kNanosecondsPerMicrosecond;
}

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), pattern, value);
  return buffer;
}

bool has_target(const Profile& p) {
  for (const StepResult& s : p.steps) {
    if (s.target) return true;
  }
  return false;
}

// The target's columns: its workers' mean CPU share and its scheduling delay's p99.
std::string target_cells(const StepResult& s) {
  if (!s.target) return " | – | –";
  const TargetLoad& t = *s.target;
  return " | " + format("%.0f%%", 100 * t.cpu) + " | " +
         (t.scheduling_delay_p99 ? format("%.1f", *t.scheduling_delay_p99 * 1e6) : "–");
}

std::string table_row(const StepResult& s, bool target) {
  std::string row =
      "| " + (s.offered_rate > 0 ? format("%.0f", s.offered_rate) : std::to_string(s.concurrency)) +
      " | " + format("%.0f", s.throughput());
  for (const Quantile& q : kQuantiles)
    row += " | " + format("%.1f", micros(s.latency.percentile(q.q)));
  row += " | " + format("%.1f", micros(s.latency.max()));
  if (s.offered_rate > 0) row += " | " + std::to_string(s.late);
  row += " | " + std::to_string(s.errors);
  if (target) row += target_cells(s);
  return row + " |\n";
}

std::string sustained_line(const Profile& p) {
  if (!p.sustained_rate) {
    return "Sustained: none (the lowest rate was not served whole: late requests, errors or "
           "under " +
           format("%.0f", Profile::kSustained * 100) + "% achieved)\n";
  }
  return "Sustained: " + format("%.0f", *p.sustained_rate) + " req/s (the highest rate served " +
         "whole, from the lowest up: " + format("%.0f", Profile::kSustained * 100) +
         "% achieved, nothing late, no errors)\n";
}

std::string usl_line(const Profile& p) {
  if (!p.usl) return "USL fit: needs at least 3 steps\n";
  const UslFit& f = *p.usl;
  std::string line = "USL fit: lambda " + format("%.1f", f.lambda) + " req/s, sigma " +
                     format("%.4g", f.sigma) + ", kappa " + format("%.4g", f.kappa) + ", R² " +
                     format("%.4f", f.r2);
  if (f.peak_concurrency) {
    line += "; peak at N* = " + format("%.1f", *f.peak_concurrency) + " (" +
            format("%.0f", f.throughput_at(*f.peak_concurrency)) + " req/s)";
  } else {
    line += "; no peak (kappa = 0)";
  }
  return line + "\n";
}

std::string knee_line(const Knee& k) {
  if (!k.concurrency) return "Knee: none (" + k.reason + ")\n";
  return "Knee: concurrency " + std::to_string(*k.concurrency) + " (" + k.reason +
         (k.latency_rises ? "; p50 rises ≥ 1.5× after it" : "; p50 does NOT rise after it") + ")\n";
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned>(c));
      out += escape;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// The exposed primitives' queues of a step: [{"name": …, "kind": …, "waiting": …}, …].
std::string json_queues(const std::vector<QueueLoad>& queues) {
  std::string out = "[";
  for (const QueueLoad& q : queues) {
    if (out.size() > 1) out += ", ";
    out += "{\"name\": " + json_string(q.name) + ", \"kind\": " + json_string(q.kind) +
           ", \"waiting\": " + format("%.3f", q.waiting) +
           ", \"waits_per_second\": " + format("%.1f", q.waits_per_second) +
           ", \"mean_wait_us\": " + format("%.3f", q.mean_wait * 1e6) + "}";
  }
  return out + "]";
}

std::string json_step(const StepResult& s) {
  std::string out =
      "{\"concurrency\": " + std::to_string(s.concurrency) +
      ", \"requests\": " + std::to_string(s.requests) +
      ", \"errors\": " + std::to_string(s.errors) +
      ", \"offered_rate\": " + format("%.6g", s.offered_rate) +
      ", \"late\": " + std::to_string(s.late) + ", \"seconds\": " + format("%.6g", s.seconds) +
      ", \"throughput\": " + format("%.3f", s.throughput()) +
      ", \"mean_us\": " + format("%.3f", s.latency.mean() / kNanosecondsPerMicrosecond);
  for (const Quantile& q : kQuantiles) {
    out += ", \"" + std::string(q.name) +
           "_us\": " + format("%.3f", micros(s.latency.percentile(q.q)));
  }
  out += ", \"max_us\": " + format("%.3f", micros(s.latency.max()));
  if (!s.target) return out + ", \"target\": null}";
  const TargetLoad& t = *s.target;
  return out + ", \"target\": {\"workers\": " + std::to_string(t.workers) +
         ", \"cpu\": " + format("%.4f", t.cpu) + ", \"max_cpu\": " + format("%.4f", t.max_cpu) +
         ", \"busy\": " + format("%.4f", t.busy) +
         ", \"polls_per_second\": " + format("%.1f", t.polls_per_second) +
         ", \"steals_per_second\": " + format("%.1f", t.steals_per_second) +
         ", \"parks_per_second\": " + format("%.1f", t.parks_per_second) +
         ", \"scheduling_delay_p99_us\": " +
         (t.scheduling_delay_p99 ? format("%.3f", *t.scheduling_delay_p99 * 1e6) : "null") +
         ", \"queues\": " + json_queues(t.queues) + "}}";
}

std::string json_usl(const std::optional<UslFit>& fit) {
  if (!fit) return "null";
  const std::string peak =
      fit->peak_concurrency ? format("%.6g", *fit->peak_concurrency) : std::string("null");
  return "{\"lambda\": " + format("%.6g", fit->lambda) +
         ", \"sigma\": " + format("%.6g", fit->sigma) +
         ", \"kappa\": " + format("%.6g", fit->kappa) + ", \"r2\": " + format("%.6g", fit->r2) +
         ", \"peak_concurrency\": " + peak + "}";
}

std::string json_knee(const Knee& k) {
  const std::string concurrency = k.concurrency ? std::to_string(*k.concurrency) : "null";
  return "{\"concurrency\": " + concurrency +
         ", \"latency_rises\": " + (k.latency_rises ? "true" : "false") +
         ", \"reason\": " + json_string(k.reason) + "}";
}

std::string saturated_line(const Profile& p) {
  return p.saturated ? "Saturated: " + *p.saturated + "\n" : std::string();
}

}  // namespace

std::string markdown_report(const Profile& p) {
  std::string out = "Target: " + p.target + "\n\n";
  const bool target = has_target(p);
  const std::string target_head = target ? " target CPU | target sched p99 µs |" : "";
  const std::string target_rule = target ? "---:|---:|" : "";
  if (p.open_loop()) {
    out +=
        "| offered req/s | req/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | late | "
        "errors |" +
        target_head + "\n";
    out += "|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + target_rule + "\n";
    for (const StepResult& s : p.steps) out += table_row(s, target);
    return out + "\nLatency counts from when each request was due (open loop, " +
           std::to_string(p.steps.front().concurrency) + " connections).\n" + sustained_line(p) +
           saturated_line(p);
  }
  out += "| concurrency | req/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | errors |" +
         target_head + "\n";
  out += "|---:|---:|---:|---:|---:|---:|---:|---:|" + target_rule + "\n";
  for (const StepResult& s : p.steps) out += table_row(s, target);
  return out + "\n" + usl_line(p) + knee_line(p.knee) + saturated_line(p);
}

std::string json_report(const Profile& p) {
  std::string out = "{\n  \"target\": " + json_string(p.target) + ",\n  \"steps\": [";
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    out += (i == 0 ? "\n    " : ",\n    ") + json_step(p.steps[i]);
  }
  out += "\n  ],\n  \"usl\": " + json_usl(p.usl) + ",\n  \"knee\": " + json_knee(p.knee);
  out += ",\n  \"sustained_rate\": " +
         (p.sustained_rate ? format("%.6g", *p.sustained_rate) : std::string("null"));
  out += ",\n  \"saturated\": " + (p.saturated ? json_string(*p.saturated) : "null");
  return out + "\n}\n";
}

}  // namespace weft::profile
