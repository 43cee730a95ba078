// weft::metrics::prometheus_text (prometheus.hpp) on RuntimeMetrics built by hand: the text
// obeys the exposition format 0.0.4, checked by a small parser of that grammar below (names,
// labels and their escapes, values; one HELP and one TYPE per family before its samples;
// contiguous families; cumulative histograms ending in +Inf that equals _count; non-negative
// counters), and carries the numbers it was given: counters per worker, durations in seconds
// with their fraction, cumulative bucket counts. The parser is tested on bad texts too, so a
// pass means something.
#include "weft/runtime/prometheus.hpp"

#include <gtest/gtest.h>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/runtime/metrics.hpp"

namespace {

// ---- A checker of the text exposition format -----------------------------------------------

/// The text breaks a rule of the format; what() says which, and where.
class GrammarError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  std::string text;  // the value as written
  double value = 0;
};

struct Family {
  bool has_help = false;
  std::string help;
  std::string type;  // empty until its TYPE line
  std::vector<Sample> samples;
};

struct Exposition {
  std::map<std::string, Family, std::less<>> families;
};

constexpr double kInf = std::numeric_limits<double>::infinity();

bool is_name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
bool is_name_char(char c, bool colon) {
  return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

/// A float as Go's strconv.ParseFloat reads it, or +Inf, -Inf, NaN spelled so.
double parse_value(std::string_view t) {
  if (t == "+Inf") return kInf;
  if (t == "-Inf") return -kInf;
  if (t == "NaN") return std::numeric_limits<double>::quiet_NaN();
  std::string_view digits = t;
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (t.empty() || t.find_first_not_of("0123456789.eE+-") != std::string_view::npos ||
      ec != std::errc{} || end != digits.data() + digits.size()) {
    throw GrammarError("not a value: \"" + std::string(t) + "\"");
  }
  return v;
}

/// Reads one line from left to right.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool done() const { return s_.empty(); }
  bool eat(char c) {
    if (s_.empty() || s_.front() != c) return false;
    s_.remove_prefix(1);
    return true;
  }
  void expect(char c, std::string_view what) {
    if (!eat(c))
      throw GrammarError("expected " + std::string(what) + " at \"" + std::string(s_) + "\"");
  }
  /// A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, without colons, a label name.
  std::string name(bool colons) {
    std::size_t n = 0;
    while (n < s_.size() && (n == 0 ? is_name_start(s_[n], colons) : is_name_char(s_[n], colons))) {
      ++n;
    }
    if (n == 0 || (n < s_.size() && is_name_char(s_[n], true))) {
      throw GrammarError("expected a name at \"" + std::string(s_) + "\"");
    }
    std::string out(s_.substr(0, n));
    s_.remove_prefix(n);
    return out;
  }
  /// A label value after its opening quote, through the closing one, unescaped (\\ \" \n).
  std::string quoted() {
    std::string out;
    for (;;) {
      if (s_.empty()) throw GrammarError("unterminated label value");
      char c = s_.front();
      s_.remove_prefix(1);
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (s_.empty()) throw GrammarError("unterminated label value");
      char e = s_.front();
      s_.remove_prefix(1);
      if (e != '\\' && e != '"' && e != 'n') throw GrammarError("bad escape in a label value");
      out += e == 'n' ? '\n' : e;
    }
  }
  /// Up to the next space or the end.
  std::string_view token() {
    std::string_view t = s_.substr(0, s_.find(' '));
    s_.remove_prefix(t.size());
    return t;
  }
  std::string_view rest() {
    std::string_view r = s_;
    s_ = {};
    return r;
  }

 private:
  std::string_view s_;
};

/// Parses a whole text, checking the grammar and the order of HELP, TYPE and samples.
class Parser {
 public:
  Exposition run(std::string_view text) {
    if (!text.empty() && text.back() != '\n') {
      throw GrammarError("the last line does not end in a newline");
    }
    for (std::size_t no = 1; !text.empty(); ++no) {
      std::string_view l = text.substr(0, text.find('\n'));
      text.remove_prefix(l.size() + 1);
      try {
        line(l);
      } catch (const GrammarError& e) {
        throw GrammarError("line " + std::to_string(no) + " \"" + std::string(l) +
                           "\": " + e.what());
      }
    }
    for (const auto& [name, f] : e_.families) {
      if (!f.has_help || f.type.empty()) throw GrammarError(name + " lacks its HELP or TYPE line");
    }
    return std::move(e_);
  }

 private:
  void line(std::string_view l) {
    if (l.empty()) return;
    if (l.front() == '#') {
      comment(l.substr(1));
    } else {
      sample(l);
    }
  }

  void comment(std::string_view l) {
    Cursor c(l);
    if (!c.eat(' ')) return;
    std::string_view word = c.token();
    if (word != "HELP" && word != "TYPE") return;  // a plain comment
    c.expect(' ', "a space");
    std::string name = c.name(true);
    Family& f = e_.families[name];
    if (!f.samples.empty()) throw GrammarError(std::string(word) + " after the family's samples");
    current_ = name;
    if (word == "HELP") {
      if (f.has_help) throw GrammarError("a second HELP line for " + name);
      f.has_help = true;
      if (!c.done()) c.expect(' ', "a space");
      f.help = c.rest();
      for (std::size_t i = f.help.find('\\'); i != std::string::npos;
           i = f.help.find('\\', i + 2)) {
        if (i + 1 == f.help.size() || (f.help[i + 1] != '\\' && f.help[i + 1] != 'n')) {
          throw GrammarError("bad escape in HELP");
        }
      }
      return;
    }
    if (!f.type.empty()) throw GrammarError("a second TYPE line for " + name);
    c.expect(' ', "a space");
    f.type = c.rest();
    static const std::set<std::string, std::less<>> kTypes = {"counter", "gauge", "histogram",
                                                              "summary", "untyped"};
    if (!kTypes.contains(f.type)) throw GrammarError("unknown TYPE " + f.type);
  }

  void sample(std::string_view l) {
    Cursor c(l);
    Sample s;
    s.name = c.name(true);
    if (c.eat('{')) {
      while (!c.eat('}')) {
        std::string label = c.name(false);
        c.expect('=', "'='");
        c.expect('"', "a quoted label value");
        if (!s.labels.emplace(label, c.quoted()).second) {
          throw GrammarError("label " + label + " twice");
        }
        if (!c.eat(',')) {
          c.expect('}', "',' or '}'");
          break;
        }
      }
    }
    c.expect(' ', "a space before the value");
    s.text = c.token();
    s.value = parse_value(s.text);
    if (c.eat(' ')) {
      std::string_view ts = c.token();
      std::int64_t t = 0;
      auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
      if (ts.empty() || ec != std::errc{} || end != ts.data() + ts.size()) {
        throw GrammarError("not a timestamp");
      }
    }
    if (!c.done()) throw GrammarError("trailing text");

    std::string family = family_of(s.name);
    Family& f = e_.families.find(family)->second;
    if (!f.has_help || f.type.empty()) throw GrammarError("a sample before its HELP and TYPE");
    if (family != current_ && !f.samples.empty()) {
      throw GrammarError("the samples of " + family + " are not contiguous");
    }
    current_ = family;
    std::string key = s.name + "{";
    for (const auto& [k, v] : s.labels) key += k + "=" + v + ",";
    if (!series_.insert(key).second) throw GrammarError("a second sample of " + key + "}");
    f.samples.push_back(std::move(s));
  }

  /// The family a sample name belongs to: the same name, or a histogram's (summary's) name
  /// with _bucket, _sum or _count appended.
  std::string family_of(const std::string& name) const {
    if (auto it = e_.families.find(name); it != e_.families.end()) {
      if (it->second.type == "histogram" || it->second.type == "summary") {
        throw GrammarError("a " + it->second.type + " sample without a _bucket/_sum/_count suffix");
      }
      return name;
    }
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (!name.ends_with(suffix)) continue;
      auto it = e_.families.find(std::string_view(name).substr(0, name.size() - suffix.size()));
      if (it == e_.families.end()) continue;
      if (it->second.type == "histogram" || (it->second.type == "summary" && suffix != "_bucket")) {
        return it->first;
      }
    }
    throw GrammarError("sample " + name + " of no family declared before it");
  }

  Exposition e_;
  std::string current_;  // the family of the line before
  std::set<std::string> series_;
};

/// A histogram's buckets (le, cumulative count), _count and _sum for one label set.
struct HistogramSeries {
  std::vector<std::pair<double, double>> buckets;
  std::optional<double> count;
  std::optional<double> sum;
};

void check_histogram(const std::string& name, const Family& f) {
  std::map<std::string, HistogramSeries> by_labels;
  for (const Sample& s : f.samples) {
    Labels rest = s.labels;
    std::string suffix = s.name.substr(name.size());
    std::optional<double> le;
    if (auto it = rest.find("le"); it != rest.end()) {
      le = parse_value(it->second);
      rest.erase(it);
    }
    std::string key;
    for (const auto& [k, v] : rest) key += k + "=" + v + ",";
    HistogramSeries& h = by_labels[key];
    if (suffix == "_bucket") {
      if (!le) throw GrammarError(s.name + " without an le label");
      h.buckets.emplace_back(*le, s.value);
    } else if (suffix == "_count") {
      h.count = s.value;
    } else {
      h.sum = s.value;
    }
  }
  for (const auto& [key, h] : by_labels) {
    std::string where = name + "{" + key + "}";
    if (h.buckets.empty() || h.buckets.back().first != kInf) {
      throw GrammarError(where + " does not end with an le=\"+Inf\" bucket");
    }
    for (std::size_t i = 1; i < h.buckets.size(); ++i) {
      if (!(h.buckets[i].first > h.buckets[i - 1].first)) {
        throw GrammarError(where + ": le bounds not increasing");
      }
      if (h.buckets[i].second < h.buckets[i - 1].second) {
        throw GrammarError(where + ": buckets not cumulative");
      }
    }
    if (!h.count || *h.count != h.buckets.back().second) {
      throw GrammarError(where + ": _count missing or not the +Inf bucket's count");
    }
    if (!h.sum) throw GrammarError(where + ": _sum missing");
  }
}

/// The rules beyond the grammar: weft_ names, counters named _total and never negative,
/// histograms whose buckets are cumulative and end in +Inf with _count's value.
void check_rules(const Exposition& e) {
  for (const auto& [name, f] : e.families) {
    if (!name.starts_with("weft_")) throw GrammarError(name + " is not named weft_...");
    if (f.type == "counter") {
      if (!name.ends_with("_total")) throw GrammarError("counter " + name + " lacks _total");
      for (const Sample& s : f.samples) {
        if (!(s.value >= 0)) throw GrammarError("counter " + name + " is " + s.text);
      }
    }
    if (f.type == "histogram") check_histogram(name, f);
  }
}

/// `text` parsed and checked; an empty Exposition (and a test failure) if it breaks a rule.
Exposition valid(const std::string& text) {
  try {
    Exposition e = Parser().run(text);
    check_rules(e);
    return e;
  } catch (const GrammarError& err) {
    ADD_FAILURE() << err.what() << "\nin:\n" << text;
    return {};
  }
}

/// The error `text` is rejected with, or "" if it passes.
std::string rejection(const std::string& text) {
  try {
    check_rules(Parser().run(text));
    return "";
  } catch (const GrammarError& err) {
    return err.what();
  }
}

/// The sample `name{labels}`; a test failure and nullptr if there is none.
const Sample* find(const Exposition& e, std::string_view name, const Labels& labels = {}) {
  for (const auto& [family, f] : e.families) {
    for (const Sample& s : f.samples) {
      if (s.name == name && s.labels == labels) return &s;
    }
  }
  ADD_FAILURE() << "no sample " << name;
  return nullptr;
}

/// The value text of `name{labels}`, "" if there is none.
std::string text_of(const Exposition& e, std::string_view name, const Labels& labels = {}) {
  const Sample* s = find(e, name, labels);
  return s ? s->text : "";
}

/// The value of `name{labels}`, NaN if there is none.
double value_of(const Exposition& e, std::string_view name, const Labels& labels = {}) {
  const Sample* s = find(e, name, labels);
  return s ? s->value : std::numeric_limits<double>::quiet_NaN();
}

// ---- The metrics ---------------------------------------------------------------------------

using weft::DurationHistogram;
using weft::RuntimeMetrics;
using weft::WorkerMetrics;
using weft::metrics::prometheus_text;

static_assert(DurationHistogram::bucket_of(100) == 0);  // [0, 256) ns
static_assert(DurationHistogram::bucket_of(300) == 1);  // [256, 512) ns
static_assert(DurationHistogram::bucket_of(700) == 2);  // [512, 1024) ns
static_assert(DurationHistogram::bucket_of(2'000'000'000) == DurationHistogram::kBuckets - 1);

/// Two workers with known numbers. Poll durations: 3 × 100 ns, 5 × 700 ns, 1 × 2 s;
/// scheduling delays: 2 × 300 ns.
RuntimeMetrics two_workers() {
  RuntimeMetrics m;
  m.workers.push_back(WorkerMetrics{.polls = 1234,
                                    .lifo_polls = 200,
                                    .steals = 3,
                                    .steal_attempts = 10,
                                    .budget_yields = 7,
                                    .parks = 40,
                                    .parked_ns = 250'000'000,
                                    .busy_ns = 1'500'000'250,
                                    .cpu_ns = 1'400'000'000,
                                    .timers_fired = 11,
                                    .io_events = 99,
                                    .queue_depth = 5});
  m.workers.push_back(WorkerMetrics{.polls = 17, .busy_ns = 2'000'000'000, .queue_depth = 0});
  m.uptime_ns = 3'000'000'000;
  m.spawned_tasks = 100;
  m.completed_tasks = 90;
  m.live_tasks = 10;
  m.injection_queue_depth = 2;
  m.blocking_threads = 4;
  m.blocking_idle_threads = 3;
  m.blocking_queue_depth = 1;
  m.blocking_jobs = 50;
  m.offload_jobs = 6;
  m.sample_every = 64;
  m.poll_duration.buckets[DurationHistogram::bucket_of(100)] += 3;
  m.poll_duration.buckets[DurationHistogram::bucket_of(700)] += 5;
  m.poll_duration.buckets[DurationHistogram::bucket_of(2'000'000'000)] += 1;
  m.poll_duration.count = 9;
  m.poll_duration.sum_ns = 3 * 100 + 5 * 700 + 2'000'000'000;
  m.scheduling_delay.buckets[DurationHistogram::bucket_of(300)] += 2;
  m.scheduling_delay.count = 2;
  m.scheduling_delay.sum_ns = 600;
  return m;
}

TEST(PrometheusText, FollowsTheExpositionGrammarWithEachFamilyTypedAsItsKind) {
  Exposition e = valid(prometheus_text(two_workers()));
  const std::map<std::string, std::string> kinds = {
      {"weft_workers", "gauge"},
      {"weft_uptime_seconds", "gauge"},
      {"weft_tasks_spawned_total", "counter"},
      {"weft_live_tasks", "gauge"},
      {"weft_injection_queue_depth", "gauge"},
      {"weft_blocking_threads", "gauge"},
      {"weft_blocking_queue_depth", "gauge"},
      {"weft_blocking_jobs_total", "counter"},
      {"weft_worker_polls_total", "counter"},
      {"weft_worker_busy_seconds_total", "counter"},
      {"weft_worker_queue_depth", "gauge"},
      {"weft_poll_duration_seconds", "histogram"},
      {"weft_scheduling_delay_seconds", "histogram"},
  };
  for (const auto& [name, kind] : kinds) {
    auto it = e.families.find(name);
    ASSERT_NE(it, e.families.end()) << name;
    EXPECT_EQ(it->second.type, kind) << name;
    EXPECT_FALSE(it->second.help.empty()) << name;
  }
}

TEST(PrometheusText, ExposedPrimitivesAreSeriesLabelledWithTheirEscapedNameAndKind) {
  RuntimeMetrics m = two_workers();
  weft::WaitStats db{.tracked = true,
                     .waits = 12,
                     .ended = 10,
                     .cancelled = 1,
                     .waiting = 2,
                     .max_waiting = 5,
                     .wait_time = std::chrono::milliseconds(1500),
                     .max_wait = std::chrono::milliseconds(250)};
  m.waits.push_back({"db", "semaphore", db});
  m.waits.push_back({"a \"quoted\"\\name\nover two lines", "queue get", weft::WaitStats{}});
  Exposition e = valid(prometheus_text(m));
  const Labels labels{{"name", "db"}, {"kind", "semaphore"}};
  EXPECT_EQ(text_of(e, "weft_sync_waits_total", labels), "12");
  EXPECT_EQ(text_of(e, "weft_sync_waits_cancelled_total", labels), "1");
  EXPECT_EQ(text_of(e, "weft_sync_waiting", labels), "2");
  EXPECT_EQ(text_of(e, "weft_sync_waiting_max", labels), "5");
  EXPECT_EQ(text_of(e, "weft_sync_wait_seconds_total", labels), "1.5");
  EXPECT_EQ(text_of(e, "weft_sync_wait_max_seconds", labels), "0.25");
  EXPECT_EQ(e.families.at("weft_sync_waits_total").type, "counter");
  EXPECT_EQ(e.families.at("weft_sync_waiting").type, "gauge");
  EXPECT_EQ(text_of(e, "weft_sync_waiting",
                    {{"name", "a \"quoted\"\\name\nover two lines"}, {"kind", "queue get"}}),
            "0");
  EXPECT_EQ(prometheus_text(two_workers()).find("weft_sync_"), std::string::npos)
      << "no family without an exposed primitive";
}

TEST(PrometheusText, EveryWorkerFamilyHasOneSampleLabelledWithEachWorkersIndex) {
  Exposition e = valid(prometheus_text(two_workers()));
  std::size_t worker_families = 0;
  for (const auto& [name, f] : e.families) {
    if (!name.starts_with("weft_worker_")) continue;
    ++worker_families;
    ASSERT_EQ(f.samples.size(), 2u) << name;
    EXPECT_EQ(f.samples[0].labels, (Labels{{"worker", "0"}})) << name;
    EXPECT_EQ(f.samples[1].labels, (Labels{{"worker", "1"}})) << name;
  }
  EXPECT_EQ(worker_families, 13u);
  EXPECT_EQ(text_of(e, "weft_workers"), "2");
}

TEST(PrometheusText, CountersAndGaugesCarryTheSnapshotsNumbers) {
  Exposition e = valid(prometheus_text(two_workers()));
  EXPECT_EQ(text_of(e, "weft_worker_polls_total", {{"worker", "0"}}), "1234");
  EXPECT_EQ(text_of(e, "weft_worker_polls_total", {{"worker", "1"}}), "17");
  EXPECT_EQ(text_of(e, "weft_worker_steal_attempts_total", {{"worker", "0"}}), "10");
  EXPECT_EQ(text_of(e, "weft_worker_io_events_total", {{"worker", "0"}}), "99");
  EXPECT_EQ(text_of(e, "weft_worker_queue_depth", {{"worker", "0"}}), "5");
  EXPECT_EQ(text_of(e, "weft_worker_queue_depth", {{"worker", "1"}}), "0");
  EXPECT_EQ(text_of(e, "weft_tasks_spawned_total"), "100");
  EXPECT_EQ(text_of(e, "weft_tasks_completed_total"), "90");
  EXPECT_EQ(text_of(e, "weft_live_tasks"), "10");
  EXPECT_EQ(text_of(e, "weft_blocking_idle_threads"), "3");
  EXPECT_EQ(text_of(e, "weft_offload_jobs_total"), "6");
  EXPECT_EQ(text_of(e, "weft_metrics_sample_every"), "64");
}

TEST(PrometheusText, DurationsAreSecondsWithTheirFraction) {
  Exposition e = valid(prometheus_text(two_workers()));
  EXPECT_EQ(text_of(e, "weft_worker_busy_seconds_total", {{"worker", "0"}}), "1.50000025");
  EXPECT_EQ(value_of(e, "weft_worker_busy_seconds_total", {{"worker", "0"}}), 1.50000025);
  EXPECT_EQ(text_of(e, "weft_worker_busy_seconds_total", {{"worker", "1"}}), "2");
  EXPECT_EQ(text_of(e, "weft_worker_parked_seconds_total", {{"worker", "0"}}), "0.25");
  EXPECT_EQ(text_of(e, "weft_worker_cpu_seconds_total", {{"worker", "0"}}), "1.4");
  EXPECT_EQ(text_of(e, "weft_uptime_seconds"), "3");
}

TEST(PrometheusText, HistogramBucketsAreCumulativeWithTheirBoundsInSeconds) {
  Exposition e = valid(prometheus_text(two_workers()));
  const std::string bucket = "weft_poll_duration_seconds_bucket";
  EXPECT_EQ(e.families["weft_poll_duration_seconds"].samples.size(),
            DurationHistogram::kBuckets + 2);  // the buckets (the last one +Inf), _sum, _count
  EXPECT_EQ(value_of(e, bucket, {{"le", "2.56e-07"}}), 3);   // 100 ns
  EXPECT_EQ(value_of(e, bucket, {{"le", "5.12e-07"}}), 3);   // nothing in [256, 512) ns
  EXPECT_EQ(value_of(e, bucket, {{"le", "1.024e-06"}}), 8);  // and 700 ns
  EXPECT_EQ(value_of(e, bucket, {{"le", "0.536870912"}}), 8);
  EXPECT_EQ(value_of(e, bucket, {{"le", "+Inf"}}), 9);  // and 2 s
  EXPECT_EQ(text_of(e, "weft_poll_duration_seconds_count"), "9");
  EXPECT_EQ(value_of(e, "weft_poll_duration_seconds_sum"), 2.0000038);

  EXPECT_EQ(value_of(e, "weft_scheduling_delay_seconds_bucket", {{"le", "2.56e-07"}}), 0);
  EXPECT_EQ(value_of(e, "weft_scheduling_delay_seconds_bucket", {{"le", "5.12e-07"}}), 2);
  EXPECT_EQ(value_of(e, "weft_scheduling_delay_seconds_bucket", {{"le", "+Inf"}}), 2);
  EXPECT_EQ(value_of(e, "weft_scheduling_delay_seconds_sum"), 6e-07);
}

TEST(PrometheusText, TheCountIsTheBucketsSumEvenIfTheSnapshotReadThemApart) {
  RuntimeMetrics m = two_workers();
  m.poll_duration.count = 5;  // a sample counted in a bucket but not yet in count
  Exposition e = valid(prometheus_text(m));
  EXPECT_EQ(text_of(e, "weft_poll_duration_seconds_count"), "9");
}

TEST(PrometheusText, EveryNumberReadsBackAsTheValueItStandsFor) {
  RuntimeMetrics m;
  m.workers.push_back(WorkerMetrics{.polls = std::numeric_limits<std::uint64_t>::max(),
                                    .busy_ns = 123'456'789'012'345'678});
  m.uptime_ns = 1;
  Exposition e = valid(prometheus_text(m));
  EXPECT_EQ(text_of(e, "weft_worker_polls_total", {{"worker", "0"}}), "18446744073709551615");
  EXPECT_EQ(value_of(e, "weft_worker_busy_seconds_total", {{"worker", "0"}}),
            static_cast<double>(123'456'789'012'345'678) / 1e9);
  EXPECT_EQ(value_of(e, "weft_uptime_seconds"), 1e-9);
}

TEST(PrometheusText, ARuntimeWithoutWorkersGivesValidTextWithEmptyWorkerFamilies) {
  Exposition e = valid(prometheus_text(RuntimeMetrics{}));
  EXPECT_EQ(text_of(e, "weft_workers"), "0");
  EXPECT_EQ(text_of(e, "weft_live_tasks"), "0");
  ASSERT_TRUE(e.families.contains("weft_worker_polls_total"));
  EXPECT_EQ(e.families["weft_worker_polls_total"].type, "counter");
  EXPECT_TRUE(e.families["weft_worker_polls_total"].samples.empty());
  EXPECT_EQ(text_of(e, "weft_poll_duration_seconds_bucket", {{"le", "+Inf"}}), "0");
  EXPECT_EQ(text_of(e, "weft_poll_duration_seconds_sum"), "0");
  EXPECT_EQ(text_of(e, "weft_poll_duration_seconds_count"), "0");
}

// ---- The checker itself --------------------------------------------------------------------

TEST(ExpositionCheck, AcceptsTimestampsTrailingCommasAndEscapedLabelValues) {
  EXPECT_EQ(rejection("# a comment\n"
                      "# HELP weft_a A back\\\\slash and a\\nnewline.\n"
                      "# TYPE weft_a gauge\n"
                      "weft_a{path=\"C:\\\\x \\\"q\\\"\\n\",} -1.5e3 1700000000000\n"
                      "weft_a NaN\n"),
            "");
}

TEST(ExpositionCheck, RejectsWhatTheFormatForbids) {
  const std::string gauge_a = "# HELP weft_a A.\n# TYPE weft_a gauge\n";
  const std::string hist_h = "# HELP weft_h H.\n# TYPE weft_h histogram\n";
  const std::pair<std::string, std::string> cases[] = {
      {"weft_a 1\n", "no family declared"},
      {"# HELP weft_a A.\nweft_a 1\n", "before its HELP and TYPE"},
      {gauge_a + "# HELP weft_a again\n", "second HELP"},
      {gauge_a + "weft_a 1\n# TYPE weft_a gauge\n", "after the family's samples"},
      {gauge_a + "# HELP weft_b B.\n# TYPE weft_b gauge\nweft_a 1\nweft_b 1\nweft_a{k=\"v\"} 1\n",
       "not contiguous"},
      {gauge_a + "weft_a 1\nweft_a 2\n", "second sample"},
      {gauge_a + "weft_a{k=v} 1\n", "quoted label value"},
      {gauge_a + "weft_a{1k=\"v\"} 1\n", "expected a name"},
      {gauge_a + "weft_a{k=\"\\q\"} 1\n", "bad escape"},
      {gauge_a + "weft_a inf\n", "not a value"},
      {gauge_a + "weft_a 1", "newline"},
      {"# HELP 1weft A.\n", "expected a name"},
      {"# HELP weft_c C.\n# TYPE weft_c counter\nweft_c 1\n", "lacks _total"},
      {"# HELP weft_c_total C.\n# TYPE weft_c_total counter\nweft_c_total -1\n", "counter"},
      {hist_h + "weft_h_bucket{le=\"1\"} 5\nweft_h_bucket{le=\"+Inf\"} 3\nweft_h_sum 1\n"
                "weft_h_count 3\n",
       "not cumulative"},
      {hist_h + "weft_h_bucket{le=\"1\"} 3\nweft_h_sum 1\nweft_h_count 3\n", "+Inf"},
      {hist_h + "weft_h_bucket{le=\"+Inf\"} 3\nweft_h_sum 1\nweft_h_count 4\n", "_count"},
      {hist_h + "weft_h 3\n", "suffix"},
  };
  for (const auto& [text, why] : cases) {
    std::string error = rejection(text);
    EXPECT_NE(error.find(why), std::string::npos) << "text:\n" << text << "error: " << error;
  }
}

}  // namespace
