// The soak program's shared state: options, the random source, the ledgers every operation
// reports to, and the list of failures. soak.cpp says what the program does; ops_*.cpp hold
// the operations.
//
// Accounting is exact, never statistical: every task spawned resolves exactly once in the
// task ledger, every queue item has a state word, every deliberately thrown error is either
// observed by an awaiter or reported unobserved, every byte sent over a socket is hashed on
// both sides. A mismatch is a failure with a message naming what was lost or doubled.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

namespace soak {

using namespace std::chrono_literals;
using Micros = std::chrono::microseconds;

/// The command line (soak.cpp parses it).
struct Options {
  double seconds = 20;            ///< how long new operations start
  std::uint64_t seed = 0;         ///< the seed of every driver's random source
  std::size_t workers = 4;        ///< runtime workers
  std::size_t drivers = 0;        ///< concurrent operation loops (0: 2 per worker)
  double drain_seconds = 60;      ///< after `seconds`, how long the drain and checks may take
  double stall_seconds = 30;      ///< one operation running longer than this is a hang
  std::vector<std::string> skip;  ///< operation kinds not to run
};

/// splitmix64: a small seedable random source; every driver and child has its own.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : s_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n) (0 for n == 0).
  std::uint64_t below(std::uint64_t n) noexcept { return n ? next() % n : 0; }
  /// Uniform in [lo, hi].
  std::uint64_t in(std::uint64_t lo, std::uint64_t hi) noexcept { return lo + below(hi - lo + 1); }
  bool one_in(std::uint64_t n) noexcept { return below(n) == 0; }
  /// A duration uniform in [lo, hi] microseconds.
  Micros micros(std::uint64_t lo, std::uint64_t hi) noexcept { return Micros(in(lo, hi)); }
  /// An independent source for a child.
  Rng fork() noexcept { return Rng(next()); }

 private:
  std::uint64_t s_;
};

/// A 64-bit mix of `x` (splitmix's finalizer): set checksums add mix(id), so a lost and a
/// doubled id do not cancel out the way plain sums of ids could.
inline std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

/// Which operation threw a deliberate error (the unobserved-error handler counts by it).
enum class Origin : unsigned { kDetached, kChild, kGather, kSettled, kWait, kAsCompleted, kGroup };
inline constexpr std::size_t kOrigins = 7;
const char* origin_name(Origin o) noexcept;

/// The error the soak throws on purpose. Any other exception type, where the operation did
/// not ask for it, is a failure.
class SoakError : public std::runtime_error {
 public:
  explicit SoakError(Origin o) : std::runtime_error("deliberate soak error"), origin_(o) {}
  Origin origin() const noexcept { return origin_; }

 private:
  Origin origin_;
};

/// Failures found while running; thread-safe. The first 20 distinct messages are kept
/// with how often each came, so one noisy failure does not hide another; the first few are
/// also printed at once, so a failure that is followed by a hang is still seen.
class Failures {
 public:
  void add(std::string what);
  std::size_t count() const noexcept { return count_.load(); }
  /// The kept messages, each with " (N times)" when it came more than once.
  std::vector<std::string> kept() const;

 private:
  static constexpr std::size_t kKept = 20;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::size_t>> kept_;  // guarded by mu_
  std::atomic<std::size_t> count_{0};
};

/// Every task the soak spawns, by how it ended. Each spawn holds a Token; the task's body
/// resolves it to one outcome, and a task destroyed without running (cancelled before it
/// started) resolves it in the Token's destructor.
struct TaskLedger {
  std::atomic<std::uint64_t> spawned{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> cancelled{0};      // ended with CancelledError
  std::atomic<std::uint64_t> never_started{0};  // destroyed before its body ran
  std::atomic<std::uint64_t> failed_expected{0};
  std::atomic<std::uint64_t> failed_unexpected{0};
  /// Spawned and not yet resolved.
  std::uint64_t outstanding() const noexcept;
};

/// One spawned task's entry in the TaskLedger; see TaskLedger. Move-only.
class Token {
 public:
  explicit Token(TaskLedger& l) noexcept : l_(&l) { l.spawned.fetch_add(1); }
  Token(Token&& o) noexcept : l_(o.l_) { o.l_ = nullptr; }
  Token& operator=(Token&&) = delete;
  ~Token() {
    if (l_) l_->never_started.fetch_add(1);
  }
  /// Counts the task's outcome in `which`.
  void resolve(std::atomic<std::uint64_t> TaskLedger::*which) noexcept;

 private:
  TaskLedger* l_;
};

/// Every queue item's life: ids come from one counter; each has a state word that the
/// producer and the consumer move forward. A state that goes backwards, or an item left
/// put but not received at the end, is a failure naming the id.
class ItemLedger {
 public:
  enum State : std::uint8_t { kFree = 0, kInFlight = 1, kPut = 2, kGot = 3 };

  ItemLedger();
  ~ItemLedger();
  /// `n` fresh ids; returns the first.
  std::uint64_t allocate(std::uint64_t n);
  /// One past the last id handed out.
  std::uint64_t end() const noexcept { return next_.load(); }

  /// The producer is about to put `id`.
  void putting(std::uint64_t id) noexcept;
  /// The put of `id` returned normally.
  void put_done(std::uint64_t id) noexcept;
  /// The put of `id` raised `why` (so nothing was put).
  void put_failed(std::uint64_t id, const char* why, const char* where);
  /// A consumer got `id` out of a queue.
  void received(std::uint64_t id, const char* where);
  /// Every id in [lo, hi) is either free (never put) or received; failures name the others.
  /// Returns the number of ids in error.
  std::size_t check_settled(std::uint64_t lo, std::uint64_t hi, const char* where);

  std::atomic<std::uint64_t> put_count{0}, put_sum{0};  // successful puts, sum of mix(id)
  std::atomic<std::uint64_t> got_count{0}, got_sum{0};  // receptions, sum of mix(id)

 private:
  static constexpr std::size_t kChunkBits = 20;
  static constexpr std::size_t kChunks = 4096;  // 2^32 ids: far more than a run uses
  std::atomic<std::uint8_t>& state(std::uint64_t id);

  std::atomic<std::uint64_t> next_{0};
  std::array<std::atomic<std::atomic<std::uint8_t>*>, kChunks> chunks_{};
  std::mutex grow_mu_;
};

/// A queue item: its id, and a heap canary holding the id again, so an item moved twice or
/// torn shows as a mismatch (and a duplicated one as a double free under ASan).
struct Item {
  std::uint64_t id = 0;
  std::unique_ptr<std::uint64_t> canary;
  static Item make(std::uint64_t id) { return Item{id, std::make_unique<std::uint64_t>(~id)}; }
  bool intact() const noexcept { return canary && *canary == ~id; }
  friend bool operator<(const Item& a, const Item& b) noexcept { return a.id < b.id; }
};

/// Bytes moved over one direction of a connection: count and an order-dependent hash.
struct ByteTally {
  std::uint64_t bytes = 0;
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a 64
  void add(const std::byte* p, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
      hash = (hash ^ static_cast<std::uint8_t>(p[i])) * 0x100000001b3ULL;
    }
    bytes += n;
  }
};

/// Events counted for the summary (not checked: they say what the run exercised).
enum class Ev : unsigned {
  kTimeoutFired,
  kTimeoutMet,
  kCancelDelivered,
  kCancelTooLate,
  kQueueFull,
  kQueueEmpty,
  kQueueShutDown,
  kLagged,
  kChannelClosed,
  kReadTimedOut,
  kConnections,
};
inline constexpr std::size_t kEvents = 11;

/// What one driver is doing, for the watchdog.
struct DriverStatus {
  std::atomic<const char*> op{"starting"};
  std::atomic<std::int64_t> since_ns{0};  // steady clock, when `op` started
  std::atomic<std::uint64_t> ops{0};
};

/// Shared objects that many drivers use at once; checked at the end.
struct Shared {
  static constexpr std::ptrdiff_t kPermits = 3;
  static constexpr std::ptrdiff_t kBoundedPermits = 2;
  weft::Semaphore sem{kPermits};
  std::atomic<int> sem_holders{0};
  weft::BoundedSemaphore bsem{kBoundedPermits};
  std::atomic<int> bsem_holders{0};

  weft::Mutex mu;
  bool mu_inside = false;        // guarded by mu: a second holder would race on it (TSan)
  std::uint64_t mu_counter = 0;  // guarded by mu
  std::atomic<std::uint64_t> mu_locks{0};

  weft::Queue<Item> bounded{8};
  weft::Queue<Item> unbounded{0};

  weft::net::SocketAddress tcp_addr;  // the echo listener (ops_io.cpp)
};

/// Everything the operations share. One per run (world()).
struct World {
  Options opt;
  weft::Runtime* rt = nullptr;
  std::int64_t start_ns = 0;
  std::int64_t stop_ns = 0;  // no operation starts after this (steady clock)
  Failures failures;
  TaskLedger tasks;
  ItemLedger items;
  std::array<std::atomic<std::uint64_t>, kOrigins> thrown{};
  std::array<std::atomic<std::uint64_t>, kOrigins> observed{};
  std::array<std::atomic<std::uint64_t>, kOrigins> unobserved{};
  std::atomic<std::uint64_t> unobserved_other{0};
  std::array<std::atomic<std::uint64_t>, kEvents> events{};
  std::atomic<std::uint64_t> io_bytes{0};  // bytes echoed back and checked, all connections
  Shared shared;
};

World& world();

/// The steady clock in nanoseconds (the watchdog's and the drivers' time).
std::int64_t steady_ns() noexcept;

/// Counts an event for the summary.
inline void count(Ev e) noexcept {
  world().events[static_cast<unsigned>(e)].fetch_add(1, std::memory_order_relaxed);
}
/// Records a failure.
void fail(std::string what);
/// The what() of the exception being handled, with its type where weft's are recognised.
std::string describe_current();

/// Ends the calling task with a deliberate error from `o` (counted as thrown).
[[noreturn]] void throw_deliberate(Origin o);
/// Counts a deliberate error that an awaiter caught; fails on anything else. Call in a catch.
void observe_current(const char* where);

/// True if every exception of `g` is a SoakError.
bool only_deliberate(const weft::ExceptionGroup& g) noexcept;

/// Wraps `body` so its outcome lands in the task ledger (see TaskLedger).
template <class T>
weft::Task<T> tracked(weft::Task<T> body, Token token, const char* what) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
      token.resolve(&TaskLedger::completed);
      co_return;
    } else {
      T v = co_await std::move(body);
      token.resolve(&TaskLedger::completed);
      co_return v;
    }
  } catch (const weft::CancelledError&) {
    token.resolve(&TaskLedger::cancelled);
    throw;
  } catch (const SoakError&) {
    token.resolve(&TaskLedger::failed_expected);
    throw;
  } catch (const weft::ExceptionGroup& g) {
    // A task group's owner: planned when every error in the group is.
    token.resolve(only_deliberate(g) ? &TaskLedger::failed_expected
                                     : &TaskLedger::failed_unexpected);
    if (!only_deliberate(g))
      fail(std::string("task '") + what + "' failed with " + describe_current());
    throw;
  } catch (...) {
    token.resolve(&TaskLedger::failed_unexpected);
    fail(std::string("task '") + what + "' failed with an unexpected " + describe_current());
    throw;
  }
}

/// Spawns `body` as a tracked task named `what`.
template <class T>
weft::JoinHandle<T> go(weft::Task<T> body, const char* what) {
  return weft::spawn(tracked(std::move(body), Token(world().tasks), what), what);
}

/// Spawns `body` into `tg` as a tracked task named `what`.
template <class T>
weft::JoinHandle<T> go_in(weft::TaskGroup& tg, weft::Task<T> body, const char* what) {
  return tg.spawn(tracked(std::move(body), Token(world().tasks), what), what);
}

/// weft::sleep(d) as a Task, for the combinators that take an awaitable by value (a
/// SleepAwaiter cannot move: its timer entry is linked by address).
weft::Task<void> nap(weft::Duration d);

/// How an awaited task ended.
enum class Ended { kValue, kDeliberate, kCancelled, kOther };
struct Outcome {
  Ended how;
  std::uint64_t value;
};
/// Awaits `h` and says how the task ended: a deliberate error is counted as observed; any
/// error other than SoakError and CancelledError is a failure (kOther).
weft::Task<Outcome> settle(weft::JoinHandle<std::uint64_t>& h, const char* where);
weft::Task<Ended> settle(weft::JoinHandle<void>& h, const char* where);

/// Counts up while a task body runs (a local, so it is down again before the task's
/// completion is published): a structured combinator returning while it is up has left a
/// child running.
class Running {
 public:
  explicit Running(std::atomic<int>& n) noexcept : n_(n) { n_.fetch_add(1); }
  ~Running() { n_.fetch_sub(1); }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

 private:
  std::atomic<int>& n_;
};

/// An operation kind: its name (for --skip and the summary), weight and body.
struct OpKind {
  const char* name;
  unsigned weight;
  weft::Task<void> (*run)(Rng& rng);
};

/// The kinds each ops_*.cpp file contributes.
std::vector<OpKind> task_ops();
std::vector<OpKind> sync_ops();
std::vector<OpKind> io_ops();

/// Set up and tear down what the I/O operations share (the TCP listener and its acceptor).
weft::Task<void> start_io();
weft::Task<void> stop_io();
/// Fails unless the TCP echo handlers read exactly what the clients sent (after stop_io and
/// once every task has ended).
void check_io_totals();
/// TCP connections the clients completed.
std::uint64_t tcp_connections();

}  // namespace soak
