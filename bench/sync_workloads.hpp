// The sync workloads (issue: sync primitives) shared by weft-bench-peer and sync_bench: each
// mirrors the Tokio peer's workload of the same name (bench/peers/tokio/src/main.rs) and is
// written three more ways for comparison:
//
//   weft        tasks on a weft::Runtime, with weft::Mutex / Semaphore / Queue / oneshot;
//   threads     one plain thread per task, with std::mutex and std::condition_variable (what
//               the workload looks like without an async runtime);
//   moodycamel  (mpsc only) the same producers and consumer as threads on
//               moodycamel::BlockingConcurrentQueue.
//
// The thread versions run on however many CPUs the caller allows (weft-bench-peer pins the
// process to `workers` CPUs). Every workload checks its own result (bench::check).
#pragma once

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <concurrentqueue/blockingconcurrentqueue.h>

#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include "workloads.hpp"

namespace bench {

// The Tokio peer's sizes.
inline constexpr std::uint64_t kPingPongPairs = 1'000;
inline constexpr std::uint64_t kPingPongRounds = 100;
inline constexpr std::uint64_t kMpscProducers = 4;
inline constexpr std::uint64_t kMpscPerProducer = 250'000;
inline constexpr std::size_t kMpscCapacity = 1'024;
inline constexpr std::uint64_t kMutexTasks = 100;
inline constexpr std::uint64_t kMutexPerTask = 10'000;
inline constexpr std::ptrdiff_t kSemPermits = 8;
inline constexpr std::uint64_t kSemTasks = 1'000;
inline constexpr std::uint64_t kSemPerTask = 100;

/// While it lives, threads the calling thread starts run on its first `n` allowed CPUs (Linux
/// threads inherit their creator's affinity), so the plain-thread implementations get as
/// many cores as the runtime has workers.
class CpuLimit {
 public:
  explicit CpuLimit(std::size_t n) {
    if (sched_getaffinity(0, sizeof saved_, &saved_) != 0) return;
    cpu_set_t use;
    CPU_ZERO(&use);
    std::size_t taken = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && taken < n; ++cpu) {
      if (CPU_ISSET(cpu, &saved_)) {
        CPU_SET(cpu, &use);
        ++taken;
      }
    }
    active_ = taken > 0 && sched_setaffinity(0, sizeof use, &use) == 0;
  }
  ~CpuLimit() {
    if (active_) sched_setaffinity(0, sizeof saved_, &saved_);
  }
  CpuLimit(const CpuLimit&) = delete;
  CpuLimit& operator=(const CpuLimit&) = delete;

 private:
  cpu_set_t saved_{};
  bool active_ = false;
};

// pingpong ---------------------------------------------------------------------------------
//
// Pairs of tasks trade a value back and forth over fresh oneshot channels, as the Tokio
// peer does: each ping carries the value, the sender for the reply, and the receiver on
// which the next ping will arrive (none on the last round).

struct Ping {
  std::uint64_t val = 0;
  weft::OneshotSender<std::uint64_t> reply;
  std::optional<weft::OneshotReceiver<Ping>> next;
};

inline weft::Task<std::uint64_t> pong_side(weft::OneshotReceiver<Ping> inbox) {
  std::uint64_t rounds = 0;
  for (;;) {
    Ping p = co_await inbox.recv();
    p.reply.send(p.val + 1);
    ++rounds;
    if (!p.next) co_return rounds;
    inbox = std::move(*p.next);
  }
}

inline weft::Task<std::uint64_t> ping_side(weft::OneshotSender<Ping> first, std::uint64_t rounds) {
  std::optional<weft::OneshotSender<Ping>> outbox(std::move(first));
  std::uint64_t val = 0;
  for (std::uint64_t r = 0; r < rounds; ++r) {
    auto [reply_tx, reply_rx] = weft::oneshot<std::uint64_t>();
    Ping p{val, std::move(reply_tx), std::nullopt};
    std::optional<weft::OneshotSender<Ping>> next_tx;
    if (r + 1 < rounds) {
      auto [tx, rx] = weft::oneshot<Ping>();
      next_tx.emplace(std::move(tx));
      p.next.emplace(std::move(rx));
    }
    outbox->send(std::move(p));
    val = co_await reply_rx.recv();
    outbox = std::move(next_tx);
  }
  check(!outbox.has_value(), "pingpong: outbox left over");
  co_return val;
}

/// `pairs` ping/pong task pairs doing `rounds` round trips each. Returns the round trips.
inline weft::Task<std::uint64_t> pingpong(std::uint64_t pairs, std::uint64_t rounds) {
  std::vector<weft::JoinHandle<std::uint64_t>> pings, pongs;
  pings.reserve(pairs);
  pongs.reserve(pairs);
  for (std::uint64_t i = 0; i < pairs; ++i) {
    auto [tx, rx] = weft::oneshot<Ping>();
    pongs.push_back(weft::spawn(pong_side(std::move(rx))));
    pings.push_back(weft::spawn(ping_side(std::move(tx), rounds)));
  }
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < pairs; ++i) {
    check(co_await pings[i] == rounds, "pingpong: wrong final value");
    total += co_await pongs[i];
  }
  check(total == pairs * rounds, "pingpong: lost round trips");
  co_return total;
}

/// A one-value channel on std::mutex and std::condition_variable.
template <class T>
class CvOneshot {
 public:
  void send(T v) {
    {
      std::lock_guard lk(m_);
      value_.emplace(std::move(v));
    }
    cv_.notify_one();
  }
  T recv() {
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return value_.has_value(); });
    return std::move(*value_);
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

struct ThreadPing {
  std::uint64_t val = 0;
  std::shared_ptr<CvOneshot<std::uint64_t>> reply;
  std::shared_ptr<CvOneshot<ThreadPing>> next;  // null on the last round
};

/// pingpong with a thread per side (2 × `pairs` threads).
inline std::uint64_t threads_pingpong(std::uint64_t pairs, std::uint64_t rounds) {
  std::atomic<std::uint64_t> total{0};
  std::vector<std::thread> ts;
  ts.reserve(2 * pairs);
  for (std::uint64_t i = 0; i < pairs; ++i) {
    auto first = std::make_shared<CvOneshot<ThreadPing>>();
    ts.emplace_back([&total, inbox = first]() mutable {
      std::uint64_t n = 0;
      for (;;) {
        ThreadPing p = inbox->recv();
        p.reply->send(p.val + 1);
        ++n;
        if (!p.next) break;
        inbox = std::move(p.next);
      }
      total.fetch_add(n, std::memory_order_relaxed);
    });
    ts.emplace_back([rounds, outbox = first]() mutable {
      std::uint64_t val = 0;
      for (std::uint64_t r = 0; r < rounds; ++r) {
        auto reply = std::make_shared<CvOneshot<std::uint64_t>>();
        auto next = r + 1 < rounds ? std::make_shared<CvOneshot<ThreadPing>>() : nullptr;
        outbox->send(ThreadPing{val, reply, next});
        val = reply->recv();
        outbox = std::move(next);
      }
      check(val == rounds, "threads pingpong: wrong final value");
    });
  }
  for (auto& t : ts) t.join();
  check(total.load() == pairs * rounds, "threads pingpong: lost round trips");
  return total.load();
}

// mutex ------------------------------------------------------------------------------------

inline weft::Task<void> mutex_incrementer(weft::Mutex* m, std::uint64_t* counter, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    auto g = co_await m->lock();
    ++*counter;
  }
}

/// `tasks` tasks each lock the mutex `per_task` times around an increment. Returns the
/// number of lock/unlock pairs.
inline weft::Task<std::uint64_t> mutex_contended(std::uint64_t tasks, std::uint64_t per_task) {
  weft::Mutex m;
  std::uint64_t counter = 0;
  std::vector<weft::JoinHandle<void>> hs;
  hs.reserve(tasks);
  for (std::uint64_t t = 0; t < tasks; ++t) {
    hs.push_back(weft::spawn(mutex_incrementer(&m, &counter, per_task)));
  }
  for (auto& h : hs) co_await h;
  auto g = co_await m.lock();
  check(counter == tasks * per_task, "mutex: lost increments");
  co_return counter;
}

inline std::uint64_t threads_mutex_contended(std::uint64_t threads, std::uint64_t per_thread) {
  std::mutex m;
  std::uint64_t counter = 0;
  std::vector<std::thread> ts;
  ts.reserve(threads);
  for (std::uint64_t t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        std::lock_guard g(m);
        ++counter;
      }
    });
  }
  for (auto& t : ts) t.join();
  check(counter == threads * per_thread, "threads mutex: lost increments");
  return counter;
}

// semaphore --------------------------------------------------------------------------------

/// Counts holders, so the workload can check the permit limit held.
struct HoldCount {
  std::atomic<std::int64_t> holding{0};
  std::atomic<std::int64_t> max_holding{0};

  void enter() noexcept {
    const std::int64_t now = holding.fetch_add(1, std::memory_order_acq_rel) + 1;
    std::int64_t seen = max_holding.load(std::memory_order_relaxed);
    while (now > seen && !max_holding.compare_exchange_weak(seen, now)) {
    }
  }
  void leave() noexcept { holding.fetch_sub(1, std::memory_order_acq_rel); }
  void check_limit(std::int64_t permits, const char* what) const {
    const std::int64_t max = max_holding.load();
    check(max >= 1 && max <= permits && holding.load() == 0, what);
  }
};

inline weft::Task<std::uint64_t> semaphore_user(weft::Semaphore* s, HoldCount* hc,
                                                std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    auto permit = co_await s->acquire();
    hc->enter();
    co_await weft::yield_now();
    hc->leave();
  }
  co_return n;
}

/// `tasks` tasks each acquire a permit of Semaphore(permits) `per_task` times, yield while
/// holding it, and release it. Returns the number of acquires.
inline weft::Task<std::uint64_t> semaphore_contended(std::ptrdiff_t permits, std::uint64_t tasks,
                                                     std::uint64_t per_task) {
  weft::Semaphore s(permits);
  HoldCount hc;
  std::vector<weft::JoinHandle<std::uint64_t>> hs;
  hs.reserve(tasks);
  for (std::uint64_t t = 0; t < tasks; ++t) {
    hs.push_back(weft::spawn(semaphore_user(&s, &hc, per_task)));
  }
  std::uint64_t ops = 0;
  for (auto& h : hs) ops += co_await h;
  hc.check_limit(permits, "semaphore: permit limit broken");
  check(s.value() == permits && ops == tasks * per_task, "semaphore: permits or ops lost");
  co_return ops;
}

/// A counting semaphore on std::mutex and std::condition_variable.
class CvSemaphore {
 public:
  explicit CvSemaphore(std::ptrdiff_t permits) : permits_(permits) {}
  void acquire() {
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return permits_ > 0; });
    --permits_;
  }
  void release() {
    {
      std::lock_guard lk(m_);
      ++permits_;
    }
    cv_.notify_one();
  }
  std::ptrdiff_t value() {
    std::lock_guard lk(m_);
    return permits_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::ptrdiff_t permits_;
};

inline std::uint64_t threads_semaphore_contended(std::ptrdiff_t permits, std::uint64_t threads,
                                                 std::uint64_t per_thread) {
  CvSemaphore s(permits);
  HoldCount hc;
  std::atomic<std::uint64_t> ops{0};
  std::vector<std::thread> ts;
  ts.reserve(threads);
  for (std::uint64_t t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        s.acquire();
        hc.enter();
        std::this_thread::yield();
        hc.leave();
        s.release();
      }
      ops.fetch_add(per_thread, std::memory_order_relaxed);
    });
  }
  for (auto& t : ts) t.join();
  hc.check_limit(permits, "threads semaphore: permit limit broken");
  check(s.value() == permits && ops.load() == threads * per_thread,
        "threads semaphore: permits or ops lost");
  return ops.load();
}

// mpsc -------------------------------------------------------------------------------------

inline weft::Task<void> mpsc_producer(weft::Queue<std::uint64_t>* q, std::uint64_t base,
                                      std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) co_await q->put(base + i);
}

/// `producers` tasks put `per_producer` numbers each into a Queue of `capacity`; one
/// consumer task gets them all. Returns the number of messages.
inline weft::Task<std::uint64_t> mpsc(std::uint64_t producers, std::uint64_t per_producer,
                                      std::size_t capacity) {
  weft::Queue<std::uint64_t> q(capacity);
  const std::uint64_t total = producers * per_producer;
  auto consumer = weft::spawn(
      [](weft::Queue<std::uint64_t>* q, std::uint64_t total) -> weft::Task<std::uint64_t> {
        std::uint64_t sum = 0;
        for (std::uint64_t i = 0; i < total; ++i) sum += co_await q->get();
        co_return sum;
      }(&q, total));
  std::vector<weft::JoinHandle<void>> hs;
  hs.reserve(producers);
  for (std::uint64_t p = 0; p < producers; ++p) {
    hs.push_back(weft::spawn(mpsc_producer(&q, p * per_producer, per_producer)));
  }
  for (auto& h : hs) co_await h;
  const std::uint64_t sum = co_await consumer;
  check(sum == total * (total - 1) / 2 && q.empty(), "mpsc: lost or duplicated messages");
  co_return total;
}

/// A bounded FIFO on std::mutex and two std::condition_variables.
class CvBoundedQueue {
 public:
  explicit CvBoundedQueue(std::size_t capacity) : capacity_(capacity) {}
  void put(std::uint64_t v) {
    {
      std::unique_lock lk(m_);
      not_full_.wait(lk, [&] { return items_.size() < capacity_; });
      items_.push_back(v);
    }
    not_empty_.notify_one();
  }
  std::uint64_t get() {
    std::uint64_t v;
    {
      std::unique_lock lk(m_);
      not_empty_.wait(lk, [&] { return !items_.empty(); });
      v = items_.front();
      items_.pop_front();
    }
    not_full_.notify_one();
    return v;
  }

 private:
  std::mutex m_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::uint64_t> items_;
  std::size_t capacity_;
};

/// mpsc on threads: `put(v)` and `get()` are the queue's.
template <class Put, class Get>
std::uint64_t threads_mpsc_with(std::uint64_t producers, std::uint64_t per_producer, Put put,
                                Get get) {
  const std::uint64_t total = producers * per_producer;
  std::uint64_t sum = 0;
  std::thread consumer([&] {
    for (std::uint64_t i = 0; i < total; ++i) sum += get();
  });
  std::vector<std::thread> ts;
  ts.reserve(producers);
  for (std::uint64_t p = 0; p < producers; ++p) {
    ts.emplace_back([&, p] {
      for (std::uint64_t i = 0; i < per_producer; ++i) put(p * per_producer + i);
    });
  }
  for (auto& t : ts) t.join();
  consumer.join();
  check(sum == total * (total - 1) / 2, "threads mpsc: lost or duplicated messages");
  return total;
}

inline std::uint64_t threads_mpsc(std::uint64_t producers, std::uint64_t per_producer,
                                  std::size_t capacity) {
  CvBoundedQueue q(capacity);
  return threads_mpsc_with(
      producers, per_producer, [&](std::uint64_t v) { q.put(v); }, [&] { return q.get(); });
}

/// moodycamel's queue is unbounded (enqueue never blocks; the capacity only pre-sizes it),
/// so its producers never wait for the consumer: an upper bound for the bounded queues.
inline std::uint64_t moodycamel_mpsc(std::uint64_t producers, std::uint64_t per_producer,
                                     std::size_t capacity) {
  moodycamel::BlockingConcurrentQueue<std::uint64_t> q(capacity);
  return threads_mpsc_with(
      producers, per_producer, [&](std::uint64_t v) { check(q.enqueue(v), "enqueue"); },
      [&] {
        std::uint64_t v = 0;
        q.wait_dequeue(v);
        return v;
      });
}

}  // namespace bench
