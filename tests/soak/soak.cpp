// weft-soak: runs a random mix of weft's operations on a multi-worker runtime with the real
// clock for a given time, then checks exact accounting, so that races show up here before
// users meet them.
//
// `--drivers` loops (two per worker by default) each pick operation kinds at random, by
// weight, from their own random source seeded from `--seed`, until `--seconds` have passed:
// spawns and joins, cancellations, timeouts, gather, wait, as_completed, TaskGroup, shield,
// queues, Semaphore, Mutex, Event, Condition, oneshot and broadcast channels, Unix and TCP
// echo traffic, sleeps (ops_*.cpp). Each operation checks what it can see at once; the
// ledgers (world.hpp) are checked at the end: every task accounted for, every queue item
// received once or left in its queue, every deliberate error observed or reported
// unobserved exactly once, every permit back, the mutex free, every echoed byte matching.
//
// The seed fixes each driver's sequence of operations and their parameters, not the
// interleaving of the workers: a replay runs the same mix, and a race shows again with
// some probability, not for certain.
//
// Every wait in an operation is bounded or cancelled by the operation itself. A watchdog
// thread turns a hang into a report: an operation running longer than --stall-seconds, or
// the run not finished --drain-seconds after it stopped starting operations, prints what
// each driver is doing and the ledgers, and exits with status 1.
//
// Exit status: 0 when every check passed (last line "soak: ok (...)"), 1 on a failure
// ("soak: FAILED: ..."), 2 on a usage error.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "world.hpp"

namespace soak {
namespace {

constexpr const char* kUsage =
    "usage: weft-soak [--seconds N] [--seed S] [--workers W] [--drivers D]\n"
    "                 [--drain-seconds N] [--stall-seconds N] [--skip KIND[,KIND...]] [--list]\n"
    "  --seconds N        start operations for N seconds (default: $WEFT_SOAK_SECONDS, else 20)\n"
    "  --seed S           seed of the operation mix (default: random; printed for a replay)\n"
    "  --workers W        runtime workers (default 4)\n"
    "  --drivers D        concurrent operation loops (default 2 per worker)\n"
    "  --drain-seconds N  time allowed after the last operation started (default 60)\n"
    "  --stall-seconds N  one operation running longer is reported as a hang (default 30)\n"
    "  --skip KINDS       operation kinds not to run (see --list)\n"
    "  --list             print the operation kinds and their weights\n";

std::atomic<const char*> g_phase{"starting"};

/// The enabled operation kinds, with a run counter each.
struct Mix {
  std::vector<OpKind> kinds;
  std::unique_ptr<std::atomic<std::uint64_t>[]> runs;
  std::uint64_t total_weight = 0;

  const OpKind& pick(Rng& rng, std::size_t& index) const {
    std::uint64_t r = rng.below(total_weight);
    for (index = 0; index + 1 < kinds.size() && r >= kinds[index].weight; ++index) {
      r -= kinds[index].weight;
    }
    return kinds[index];
  }
};

std::vector<OpKind> all_kinds() {
  std::vector<OpKind> k = task_ops();
  for (auto& v : {sync_ops(), io_ops()}) k.insert(k.end(), v.begin(), v.end());
  return k;
}

std::unique_ptr<DriverStatus[]> g_drivers;
std::size_t g_ndrivers = 0;

/// One operation loop; stops starting operations at world().stop_ns.
weft::Task<void> driver(std::size_t index, const Mix* mix_of) {
  // Seeded with a mixed value, not seed + index: splitmix states a multiple of its step
  // apart give the same stream, shifted.
  Rng rng(mix(world().opt.seed ^ mix(index + 1)));
  DriverStatus& st = g_drivers[index];
  while (steady_ns() < world().stop_ns) {
    std::size_t i = 0;
    const OpKind& k = mix_of->pick(rng, i);
    // since_ns before op: the watchdog reads op first, so it never pairs a new op with an
    // old start time.
    st.since_ns.store(steady_ns());
    st.op.store(k.name);
    try {
      co_await k.run(rng);
    } catch (...) {
      fail(std::string(k.name) + ": raised " + describe_current());
    }
    mix_of->runs[i].fetch_add(1, std::memory_order_relaxed);
    st.ops.fetch_add(1, std::memory_order_relaxed);
  }
  st.op.store("done");
}

/// Takes every item left in a shared queue at the end: they count as received.
std::uint64_t drain(weft::Queue<Item>& q) {
  std::uint64_t n = 0;
  for (;;) {
    try {
      Item it = q.get_nowait();
      if (!it.intact()) fail("shared queue: item " + std::to_string(it.id) + " is torn");
      world().items.received(it.id, "the final drain");
      ++n;
    } catch (const weft::QueueEmpty&) {
      return n;
    }
  }
}

std::atomic<std::uint64_t> g_left_in_queues{0};

weft::Task<void> soak_main(const Mix* mix_of) {
  World& w = world();
  g_phase.store("starting the TCP listener");
  co_await start_io();
  g_phase.store("running");
  std::vector<weft::JoinHandle<void>> ds;
  for (std::size_t i = 0; i < g_ndrivers; ++i) ds.push_back(go(driver(i, mix_of), "driver"));
  for (auto& h : ds) {
    Ended e = co_await settle(h, "driver");
    if (e != Ended::kValue) fail("a driver did not end normally");
  }
  g_phase.store("stopping the TCP listener");
  co_await stop_io();
  g_phase.store("draining the shared queues");
  g_left_in_queues.store(drain(w.shared.bounded) + drain(w.shared.unbounded));
  g_phase.store("waiting for detached tasks");
  // Tasks whose handles were dropped end by themselves, in bounded time; this task is the
  // one live task left then.
  const std::int64_t give_up = steady_ns() + static_cast<std::int64_t>(w.opt.drain_seconds * 0.8e9);
  while (w.tasks.outstanding() > 0 || w.rt->live_tasks() > 1) {
    if (steady_ns() > give_up) {
      fail(std::to_string(w.tasks.outstanding()) + " spawned task(s) never ended (" +
           std::to_string(w.rt->live_tasks() - 1) + " live in the runtime)");
      break;
    }
    co_await weft::sleep(1ms);
  }
}

void on_unobserved(const weft::TaskInfo& info, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const SoakError& s) {
    world().unobserved[static_cast<unsigned>(s.origin())].fetch_add(1);
  } catch (...) {
    world().unobserved_other.fetch_add(1);
    fail("task '" + std::string(info.name) +
         "' failed and nobody awaited it: " + describe_current());
  }
}

std::string ledger_line() {
  const World& w = world();
  const TaskLedger& t = w.tasks;
  std::ostringstream s;
  s << "tasks: " << t.spawned << " spawned = " << t.completed << " completed + " << t.cancelled
    << " cancelled + " << t.never_started << " never started + " << t.failed_expected
    << " failed as planned + " << t.failed_unexpected << " failed otherwise";
  if (t.outstanding()) s << " (" << t.outstanding() << " unaccounted for)";
  return s.str();
}

/// Prints what is going on and exits: called by the watchdog on a hang.
[[noreturn]] void report_hang(const std::string& why) {
  std::ostringstream s;
  const std::int64_t now = steady_ns();
  s << "soak: HANG: " << why << "\n";
  s << "soak: phase: " << g_phase.load() << "\n";
  for (std::size_t i = 0; i < g_ndrivers; ++i) {
    const DriverStatus& d = g_drivers[i];
    const char* op = d.op.load();
    s << "soak:   driver " << i << ": " << op;
    if (std::strcmp(op, "done") != 0) {
      s << " for " << (now - d.since_ns.load()) / 1'000'000 << " ms";
    }
    s << " (" << d.ops.load() << " ops done)\n";
  }
  s << "soak: " << ledger_line() << "\n";
  s << "soak: live tasks in the runtime: " << world().rt->live_tasks() << "\n";
  s << "soak: seed " << world().opt.seed << "\n";
  std::fputs(s.str().c_str(), stderr);
  for (const std::string& f : world().failures.kept())
    std::fprintf(stderr, "soak: failure: %s\n", f.c_str());
  std::fprintf(stderr, "soak: FAILED: hang: %s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

/// Watches for an operation that runs too long and for a drain that does not finish.
class Watchdog {
 public:
  explicit Watchdog(std::int64_t hard_deadline_ns)
      : thread_([this, hard_deadline_ns] { watch(hard_deadline_ns); }) {}
  ~Watchdog() { stop(); }
  void stop() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void watch(std::int64_t hard_deadline_ns) {
    const auto stall_ns = static_cast<std::int64_t>(world().opt.stall_seconds * 1e9);
    std::unique_lock lk(mu_);
    while (!done_) {
      cv_.wait_for(lk, 100ms);
      if (done_) return;
      const std::int64_t now = steady_ns();
      for (std::size_t i = 0; i < g_ndrivers; ++i) {
        const char* op = g_drivers[i].op.load();
        const std::int64_t since = g_drivers[i].since_ns.load();
        if (std::strcmp(op, "done") == 0 || std::strcmp(op, "starting") == 0) continue;
        if (now - since > stall_ns) {
          report_hang("driver " + std::to_string(i) + "'s operation '" + op + "' has run for " +
                      std::to_string((now - since) / 1'000'000'000) + " s");
        }
      }
      if (now > hard_deadline_ns) {
        report_hang(std::string("the run did not finish within --drain-seconds after its last "
                                "operation began (phase: ") +
                    g_phase.load() + ")");
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  std::thread thread_;
};

/// The end-of-run checks over the ledgers and the shared objects (the runtime is shut down).
void final_checks() {
  World& w = world();
  if (std::uint64_t n = w.tasks.outstanding()) {
    fail(std::to_string(n) + " spawned task(s) unaccounted for: " + ledger_line());
  }
  for (unsigned o = 0; o < kOrigins; ++o) {
    const std::uint64_t thrown = w.thrown[o], seen = w.observed[o], unseen = w.unobserved[o];
    if (thrown != seen + unseen) {
      fail(std::string("deliberate errors of ") + origin_name(static_cast<Origin>(o)) +
           "s: " + std::to_string(thrown) + " thrown, " + std::to_string(seen) +
           " observed by an awaiter, " + std::to_string(unseen) + " reported unobserved" +
           (thrown > seen + unseen ? ": lost" : ": reported more than once"));
    }
  }
  if (w.observed[static_cast<unsigned>(Origin::kDetached)] != 0) {
    fail("a detached task's error reached an awaiter");
  }
  ItemLedger& it = w.items;
  it.check_settled(0, it.end(), "end of run");
  if (it.put_count != it.got_count || it.put_sum != it.got_sum) {
    fail("queue items: " + std::to_string(it.put_count.load()) + " put, " +
         std::to_string(it.got_count.load()) + " received or left in a queue" +
         (it.put_count == it.got_count ? " (different ids: checksums differ)" : ""));
  }
  Shared& s = w.shared;
  if (s.sem.value() != Shared::kPermits || s.sem_holders != 0) {
    fail("semaphore: " + std::to_string(s.sem.value()) + " of " + std::to_string(Shared::kPermits) +
         " permits back at the end");
  }
  if (s.bsem.value() != Shared::kBoundedPermits || s.bsem_holders != 0) {
    fail("bounded semaphore: " + std::to_string(s.bsem.value()) + " of " +
         std::to_string(Shared::kBoundedPermits) + " permits back at the end");
  }
  if (s.mu.locked()) fail("mutex: still locked at the end");
  if (s.mu_counter != s.mu_locks) {
    fail("mutex: " + std::to_string(s.mu_locks.load()) + " locks counted outside, " +
         std::to_string(s.mu_counter) + " inside");
  }
  if (s.bounded.qsize() + s.unbounded.qsize() != 0)
    fail("shared queues: not empty after the drain");
  check_io_totals();
}

void print_summary(const Mix& m, double seconds) {
  World& w = world();
  std::ostringstream ops;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < m.kinds.size(); ++i) {
    const std::uint64_t n = m.runs[i].load();
    total += n;
    ops << (i ? ", " : "") << m.kinds[i].name << " " << n;
  }
  std::printf("soak: ops: %s\n", ops.str().c_str());
  std::printf("soak: %s\n", ledger_line().c_str());
  std::uint64_t thrown = 0, seen = 0, unseen = 0;
  for (unsigned o = 0; o < kOrigins; ++o) {
    thrown += w.thrown[o];
    seen += w.observed[o];
    unseen += w.unobserved[o];
  }
  const ItemLedger& it = w.items;
  std::printf(
      "soak: queue items: %llu put = %llu received (%llu of them left in a shared queue at the "
      "end); deliberate errors: %llu thrown = %llu observed + %llu unobserved; io: %llu bytes "
      "echoed, %llu TCP connections\n",
      static_cast<unsigned long long>(it.put_count.load()),
      static_cast<unsigned long long>(it.got_count.load()),
      static_cast<unsigned long long>(g_left_in_queues.load()),
      static_cast<unsigned long long>(thrown), static_cast<unsigned long long>(seen),
      static_cast<unsigned long long>(unseen), static_cast<unsigned long long>(w.io_bytes.load()),
      static_cast<unsigned long long>(tcp_connections()));
  static constexpr const char* kEventNames[kEvents] = {
      "timeouts fired",         "deadlines met", "cancellations delivered",
      "cancellations too late", "QueueFull",     "QueueEmpty",
      "QueueShutDown",          "Lagged",        "ChannelClosed",
      "reads timed out",        "TCP accepts"};
  std::ostringstream ev;
  for (std::size_t i = 0; i < kEvents; ++i) {
    ev << (i ? ", " : "") << kEventNames[i] << " " << w.events[i].load();
  }
  std::printf("soak: events: %s\n", ev.str().c_str());
  if (w.failures.count() == 0) {
    std::printf("soak: ok (%llu ops in %.1f s, seed %llu)\n",
                static_cast<unsigned long long>(total), seconds,
                static_cast<unsigned long long>(w.opt.seed));
    return;
  }
  for (const std::string& f : w.failures.kept()) std::printf("soak: failure: %s\n", f.c_str());
  std::vector<std::string> kept = w.failures.kept();
  std::printf("soak: FAILED: %s%s (seed %llu)\n", kept.empty() ? "?" : kept.front().c_str(),
              w.failures.count() > 1
                  ? (" (+" + std::to_string(w.failures.count() - 1) + " more)").c_str()
                  : "",
              static_cast<unsigned long long>(w.opt.seed));
}

bool parse_number(const char* s, double& out) {
  char* end = nullptr;
  out = std::strtod(s, &end);
  return end != s && *end == '\0' && out >= 0;
}

/// Parses the command line into `o`; false (with a message) on a usage error.
bool parse(int argc, char** argv, Options& o, bool& list) {
  if (const char* env = std::getenv("WEFT_SOAK_SECONDS")) {
    if (!parse_number(env, o.seconds)) {
      std::fprintf(stderr, "weft-soak: WEFT_SOAK_SECONDS is not a number: %s\n", env);
      return false;
    }
  }
  o.seed = std::random_device{}() ^ (static_cast<std::uint64_t>(steady_ns()) << 20);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--list") {
      list = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "weft-soak: %s needs a value\n%s", a.c_str(), kUsage);
      return false;
    }
    const char* v = argv[++i];
    double x = 0;
    bool ok = true;
    if (a == "--seconds") {
      ok = parse_number(v, o.seconds);
    } else if (a == "--seed") {
      char* end = nullptr;
      o.seed = std::strtoull(v, &end, 0);
      ok = end != v && *end == '\0';
    } else if (a == "--workers") {
      ok = parse_number(v, x) && x >= 1;
      o.workers = static_cast<std::size_t>(x);
    } else if (a == "--drivers") {
      ok = parse_number(v, x) && x >= 1;
      o.drivers = static_cast<std::size_t>(x);
    } else if (a == "--drain-seconds") {
      ok = parse_number(v, o.drain_seconds);
    } else if (a == "--stall-seconds") {
      ok = parse_number(v, o.stall_seconds);
    } else if (a == "--skip") {
      std::stringstream ss(v);
      for (std::string k; std::getline(ss, k, ',');) {
        if (!k.empty()) o.skip.push_back(k);
      }
    } else {
      std::fprintf(stderr, "weft-soak: unknown option %s\n%s", a.c_str(), kUsage);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "weft-soak: bad value for %s: %s\n", a.c_str(), v);
      return false;
    }
  }
  if (o.drivers == 0) o.drivers = 2 * o.workers;
  return true;
}

int run(int argc, char** argv) {
  Options opt;
  bool list = false;
  if (!parse(argc, argv, opt, list)) return 2;
  std::vector<OpKind> kinds = all_kinds();
  if (list) {
    for (const OpKind& k : kinds) std::printf("%s %u\n", k.name, k.weight);
    return 0;
  }
  Mix mix_of;
  for (const std::string& s : opt.skip) {
    if (std::none_of(kinds.begin(), kinds.end(), [&](const OpKind& k) { return s == k.name; })) {
      std::fprintf(stderr, "weft-soak: --skip: no operation kind '%s' (see --list)\n", s.c_str());
      return 2;
    }
  }
  for (const OpKind& k : kinds) {
    if (std::find(opt.skip.begin(), opt.skip.end(), k.name) != opt.skip.end()) continue;
    mix_of.kinds.push_back(k);
    mix_of.total_weight += k.weight;
  }
  if (mix_of.kinds.empty()) {
    std::fputs("weft-soak: every operation kind is skipped\n", stderr);
    return 2;
  }
  mix_of.runs.reset(new std::atomic<std::uint64_t>[mix_of.kinds.size()]());

  World& w = world();
  w.opt = opt;
  std::string skip;
  for (const std::string& s : opt.skip) skip += (skip.empty() ? "" : ",") + s;
  // Schedule fuzzing (runtime/include/weft/runtime/detail/hooks.hpp, sanitizer presets)
  // changes the interleavings, so a replay sets it again.
  std::string fuzz;
  if (const char* f = std::getenv("WEFT_SCHEDULE_FUZZ"); f && *f) {
    fuzz = std::string("WEFT_SCHEDULE_FUZZ=") + f + " ";
  }
  std::printf(
      "soak: seed %llu, %zu workers, %zu drivers, %g s (replay: %stools/soak --seed %llu "
      "--workers %zu --drivers %zu --seconds %g%s%s)\n",
      static_cast<unsigned long long>(opt.seed), opt.workers, opt.drivers, opt.seconds,
      fuzz.c_str(), static_cast<unsigned long long>(opt.seed), opt.workers, opt.drivers,
      opt.seconds, skip.empty() ? "" : " --skip ", skip.c_str());
  std::fflush(stdout);

  g_ndrivers = opt.drivers;
  g_drivers.reset(new DriverStatus[g_ndrivers]);
  weft::Runtime rt({.workers = opt.workers,
                    .clock = weft::ClockKind::Real,
                    .on_unobserved_error = &on_unobserved});
  w.rt = &rt;
  w.start_ns = steady_ns();
  w.stop_ns = w.start_ns + static_cast<std::int64_t>(opt.seconds * 1e9);
  Watchdog watchdog(w.stop_ns + static_cast<std::int64_t>(opt.drain_seconds * 1e9));
  try {
    rt.block_on(soak_main(&mix_of), "soak main");
  } catch (...) {
    fail("the main task raised " + describe_current());
  }
  g_phase.store("waiting for the runtime's last tasks");
  for (int i = 0; i < 5000 && rt.live_tasks() != 0; ++i) std::this_thread::sleep_for(1ms);
  if (std::size_t n = rt.live_tasks()) {
    fail("Runtime::live_tasks() is " + std::to_string(n) + " after every task was accounted for");
  }
  g_phase.store("shutting the runtime down");
  rt.shutdown();
  watchdog.stop();
  w.rt = nullptr;
  const double elapsed = static_cast<double>(steady_ns() - w.start_ns) / 1e9;
  final_checks();
  print_summary(mix_of, elapsed);
  return w.failures.count() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace soak

int main(int argc, char** argv) {
  return soak::run(argc, argv);
}
