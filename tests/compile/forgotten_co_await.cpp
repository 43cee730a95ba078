// Compiled, never run, by the "compile" tests (CMakeLists.txt here). With no FORGET_* macro
// every awaitable is awaited: it must compile with -Werror. Each FORGET_* macro drops the
// co_await on one line (FORGET_*_GUARD: the guard that co_await returns, which would unlock
// at once), which must then fail to compile with a nodiscard diagnostic, since that call
// would otherwise do nothing.
#include <chrono>

#include "weft/weft.hpp"

using namespace std::chrono_literals;

// A named callable, so that the type GCC names for to_thread's awaiter has no spaces.
struct Work {
  int operator()() const { return 1; }
};

weft::Task<void> uses_every_form(weft::Mutex& m, weft::Semaphore& sem, weft::Queue<int>& q,
                                 weft::LifoQueue<int>& lq, weft::PriorityQueue<int>& pq,
                                 weft::Event& ev, weft::CancellationToken& token,
                                 weft::OneshotReceiver<int>& rx) {
#ifdef FORGET_SLEEP
  weft::sleep(1ms);
#else
  co_await weft::sleep(1ms);
#endif
#ifdef FORGET_YIELD_NOW
  weft::yield_now();
#else
  co_await weft::yield_now();
#endif
  {
#ifdef FORGET_MUTEX_LOCK
    m.lock();
#elif defined(FORGET_MUTEX_GUARD)
    co_await m.lock();
#else
    weft::MutexGuard g = co_await m.lock();
#endif
  }
  {
#ifdef FORGET_SEMAPHORE_ACQUIRE
    sem.acquire();
#elif defined(FORGET_SEMAPHORE_GUARD)
    co_await sem.acquire();
#else
    weft::SemaphoreGuard g = co_await sem.acquire();
#endif
  }
#ifdef FORGET_QUEUE_PUT
  q.put(1);
#else
  co_await q.put(1);
#endif
#ifdef FORGET_LIFO_QUEUE_PUT
  lq.put(1);
#else
  co_await lq.put(1);
#endif
#ifdef FORGET_PRIORITY_QUEUE_GET
  pq.get();
#else
  (void)co_await pq.get();
#endif
#ifdef FORGET_EVENT_WAIT
  ev.wait();
#else
  co_await ev.wait();
#endif
#ifdef FORGET_TOKEN_CANCELLED
  token.cancelled();
#else
  co_await token.cancelled();
#endif
#ifdef FORGET_ONESHOT_RECV
  rx.recv();
#else
  (void)co_await rx.recv();
#endif
#ifdef FORGET_TO_THREAD
  weft::to_thread(Work{});
#else
  (void)co_await weft::to_thread(Work{});
#endif
}

int main() {
  weft::Mutex m;
  weft::Semaphore sem(1);
  weft::Queue<int> q(1);
  weft::LifoQueue<int> lq(1);
  weft::PriorityQueue<int> pq;
  pq.put_nowait(1);
  weft::Event ev;
  ev.set();
  weft::CancellationToken token;
  token.cancel();
  auto [tx, rx] = weft::oneshot<int>();
  tx.send(1);
  weft::run(uses_every_form(m, sem, q, lq, pq, ev, token, rx));
}
