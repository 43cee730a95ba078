// The soak's synchronisation operations: queue rounds (Queue, LifoQueue, PriorityQueue;
// producers and consumers on any worker, put/get/nowait/timeouts/cancellations on both
// sides, plain-thread blocking_put/blocking_get, shutdown), traffic on the two long-lived
// shared queues, the shared Semaphore, BoundedSemaphore and Mutex, rounds of Event and
// Condition, and oneshot and broadcast channels.
//
// Queue items go through the ItemLedger (world.hpp): each id is put at most once and must
// be received exactly once, or still be in its queue at the end. A cancelled or timed-out
// put must have put nothing; a cancelled get must leave its item (DESIGN invariant 4).
#include <optional>
#include <string>
#include <vector>

#include "world.hpp"

namespace soak {
namespace {

ItemLedger& items() {
  return world().items;
}

/// Takes `it` out of a queue: checks its canary and marks it received.
void take(const Item& it, const char* where) {
  if (!it.intact()) fail(std::string(where) + ": queue item " + std::to_string(it.id) + " is torn");
  items().received(it.id, where);
}

// ---- queue rounds -----------------------------------------------------------------------

/// Puts ids [first, first + n) into `q`, each with a random kind of put (retrying a bounded
/// number of times after QueueFull or a timeout). Ends at QueueShutDown.
template <class Q>
weft::Task<void> producer(Q* q, std::uint64_t first, std::uint64_t n, Rng rng,
                          std::atomic<int>* running, const char* where) {
  Running r(*running);
  for (std::uint64_t id = first; id < first + n; ++id) {
    for (int attempt = 0; attempt < 32; ++attempt) {
      const char* err = nullptr;
      const std::uint64_t how = rng.below(8);
      // A plain thread's put records its own outcome: a cancellation of this task neither
      // undoes nor reports a put the thread made (and one before the thread started means
      // the thread never runs).
      const bool by_thread = how == 3;
      if (!by_thread) items().putting(id);
      try {
        switch (how) {
          case 0:
            q->put_nowait(Item::make(id));
            break;
          case 1:
          case 2:
            co_await weft::wait_for(q->put(Item::make(id)), rng.micros(0, 500));
            break;
          case 3: {
            auto job = [q, id, where] {
              items().putting(id);
              try {
                q->blocking_put(Item::make(id));
                items().put_done(id);
              } catch (const weft::QueueShutDown&) {
                items().put_failed(id, "QueueShutDown", where);
              }
            };
            co_await weft::to_thread(job);
            break;
          }
          default:
            co_await q->put(Item::make(id));
            break;
        }
        if (!by_thread) items().put_done(id);
        break;
      } catch (const weft::QueueFull&) {
        count(Ev::kQueueFull);
        err = "QueueFull";
      } catch (const weft::TimeoutError&) {
        count(Ev::kTimeoutFired);
        err = "TimeoutError";
      } catch (const weft::QueueShutDown&) {
        count(Ev::kQueueShutDown);
        if (!by_thread) items().put_failed(id, "QueueShutDown", where);
        co_return;
      } catch (const weft::CancelledError&) {
        if (!by_thread) items().put_failed(id, "CancelledError", where);
        throw;
      }
      items().put_failed(id, err, where);
      co_await weft::yield_now();
    }
  }
}

/// Gets items from `q` with a random kind of get until QueueShutDown. The steady consumer
/// is never cancelled, so it may also get from a plain thread (a cancelled task would drop
/// what its thread got).
template <class Q>
weft::Task<void> consumer(Q* q, Rng rng, bool steady, std::atomic<int>* running,
                          const char* where) {
  Running r(*running);
  for (;;) {
    std::optional<Item> it;
    try {
      switch (rng.below(8)) {
        case 0:
          it.emplace(q->get_nowait());
          break;
        case 1:
        case 2: {
          Item x = co_await weft::wait_for(q->get(), rng.micros(0, 500));
          it.emplace(std::move(x));
          break;
        }
        case 3:
          if (steady) {
            auto job = [q] { return q->blocking_get(); };
            Item x = co_await weft::to_thread(job);
            it.emplace(std::move(x));
            break;
          }
          [[fallthrough]];
        default: {
          Item x = co_await q->get();
          it.emplace(std::move(x));
          break;
        }
      }
    } catch (const weft::QueueEmpty&) {
      count(Ev::kQueueEmpty);
    } catch (const weft::TimeoutError&) {
      count(Ev::kTimeoutFired);
    } catch (const weft::QueueShutDown&) {
      count(Ev::kQueueShutDown);
      co_return;
    }
    if (it) {
      take(*it, where);
      q->task_done();
    } else {
      co_await weft::yield_now();
    }
  }
}

/// One round: producers and consumers over a fresh queue, some of them cancelled, then
/// shutdown (sometimes while producers still put), a drain, and the round's ledger check.
template <class Q>
weft::Task<void> queue_round(Rng& rng, std::size_t maxsize, const char* where) {
  Q q(maxsize);
  std::atomic<int> running{0};
  const std::size_t np = rng.in(1, 3), nc = rng.in(1, 3);
  const std::uint64_t per = rng.in(1, 40);
  const std::uint64_t lo = items().allocate(np * per);
  std::vector<weft::JoinHandle<void>> prods, cons;
  for (std::size_t i = 0; i < np; ++i) {
    prods.push_back(go(producer(&q, lo + i * per, per, rng.fork(), &running, where), "producer"));
  }
  for (std::size_t i = 0; i < nc; ++i) {
    cons.push_back(go(consumer(&q, rng.fork(), i == 0, &running, where), "consumer"));
  }
  std::vector<bool> prod_cancelled(np, false), cons_cancelled(nc, false);
  for (std::uint64_t k = rng.below(3); k > 0; --k) {
    co_await weft::sleep(rng.micros(0, 300));
    const std::size_t i = rng.below(np + nc);
    if (i < np) {
      prods[i].cancel();
      prod_cancelled[i] = true;
    } else if (i > np) {  // consumer 0 (index np) is the steady one
      cons[i - np].cancel();
      cons_cancelled[i - np] = true;
    }
  }
  const bool early_shutdown = rng.one_in(6);
  if (early_shutdown) {
    co_await weft::sleep(rng.micros(0, 500));
    q.shutdown();
  }
  for (std::size_t i = 0; i < np; ++i) {
    Ended e = co_await settle(prods[i], where);
    if (e == Ended::kCancelled && !prod_cancelled[i])
      fail(std::string(where) + ": producer cancelled by nobody");
  }
  q.shutdown();
  for (std::size_t i = 0; i < nc; ++i) {
    Ended e = co_await settle(cons[i], where);
    if (e == Ended::kCancelled && !cons_cancelled[i])
      fail(std::string(where) + ": consumer cancelled by nobody");
  }
  // The steady consumer drained the queue before it saw QueueShutDown; whatever is left is
  // still counted as received here (and would be a failure only if it was never put).
  for (;;) {
    try {
      Item it = q.get_nowait();
      take(it, where);
      q.task_done();
    } catch (const weft::QueueEmpty&) {
      break;
    } catch (const weft::QueueShutDown&) {
      break;
    }
  }
  bool joined = true;
  try {
    co_await weft::wait_for(q.join(), 20s);
  } catch (const weft::TimeoutError&) {
    joined = false;
  }
  if (!joined) fail(std::string(where) + ": join() did not return though every item was task_done");
  items().check_settled(lo, lo + np * per, where);
  if (running.load() != 0) fail(std::string(where) + ": producers or consumers still running");
}

weft::Task<void> op_queue_fifo(Rng& rng) {
  const std::size_t maxsize = rng.one_in(3) ? 0 : rng.in(1, 8);
  co_await queue_round<weft::Queue<Item>>(rng, maxsize, "queue_fifo");
}

weft::Task<void> op_queue_lifo(Rng& rng) {
  const std::size_t maxsize = rng.one_in(3) ? 0 : rng.in(1, 8);
  co_await queue_round<weft::LifoQueue<Item>>(rng, maxsize, "queue_lifo");
}

weft::Task<void> op_queue_priority(Rng& rng) {
  const std::size_t maxsize = rng.one_in(3) ? 0 : rng.in(1, 8);
  co_await queue_round<weft::PriorityQueue<Item>>(rng, maxsize, "queue_priority");
}

// ---- the shared queues ------------------------------------------------------------------

/// A put that waits as long as it must; the operation cancels it.
weft::Task<void> shared_putter(weft::Queue<Item>* q, std::uint64_t id) {
  items().putting(id);
  try {
    co_await q->put(Item::make(id));
  } catch (const weft::CancelledError&) {
    items().put_failed(id, "CancelledError", "queue_shared");
    throw;
  }
  items().put_done(id);
}

/// A get that waits as long as it must; the operation cancels it.
weft::Task<void> shared_getter(weft::Queue<Item>* q) {
  Item it = co_await q->get();
  take(it, "queue_shared");
}

weft::Task<void> op_queue_shared(Rng& rng) {
  Shared& s = world().shared;
  const std::size_t n = rng.in(1, 8);
  for (std::size_t i = 0; i < n; ++i) {
    weft::Queue<Item>* q = rng.one_in(2) ? &s.bounded : &s.unbounded;
    switch (rng.below(6)) {
      case 0: {  // put_nowait
        const std::uint64_t id = items().allocate(1);
        items().putting(id);
        try {
          q->put_nowait(Item::make(id));
          items().put_done(id);
        } catch (const weft::QueueFull&) {
          count(Ev::kQueueFull);
          items().put_failed(id, "QueueFull", "queue_shared");
        }
        break;
      }
      case 1: {  // a put with a deadline
        const std::uint64_t id = items().allocate(1);
        items().putting(id);
        bool put = false;
        try {
          co_await weft::wait_for(q->put(Item::make(id)), rng.micros(0, 500));
          put = true;
        } catch (const weft::TimeoutError&) {
          count(Ev::kTimeoutFired);
        }
        if (put) {
          items().put_done(id);
        } else {
          items().put_failed(id, "TimeoutError", "queue_shared");
        }
        break;
      }
      case 2: {  // get_nowait
        try {
          Item it = q->get_nowait();
          take(it, "queue_shared");
        } catch (const weft::QueueEmpty&) {
          count(Ev::kQueueEmpty);
        }
        break;
      }
      case 3: {  // a get with a deadline
        std::optional<Item> it;
        try {
          Item x = co_await weft::wait_for(q->get(), rng.micros(0, 500));
          it.emplace(std::move(x));
        } catch (const weft::TimeoutError&) {
          count(Ev::kTimeoutFired);
        }
        if (it) take(*it, "queue_shared");
        break;
      }
      case 4: {  // a waiting put in its own task, cancelled
        weft::JoinHandle<void> h = go(shared_putter(q, items().allocate(1)), "shared putter");
        co_await weft::sleep(rng.micros(0, 300));
        h.cancel();
        (void)co_await settle(h, "queue_shared putter");
        break;
      }
      default: {  // a waiting get in its own task, cancelled
        weft::JoinHandle<void> h = go(shared_getter(q), "shared getter");
        co_await weft::sleep(rng.micros(0, 300));
        h.cancel();
        (void)co_await settle(h, "queue_shared getter");
        break;
      }
    }
  }
}

// ---- Semaphore and Mutex ----------------------------------------------------------------

/// Counts a holder while alive.
struct Hold {
  std::atomic<int>& n;
  ~Hold() { n.fetch_sub(1); }
};

weft::Task<void> semaphore_user(Rng rng) {
  Shared& s = world().shared;
  for (std::uint64_t k = rng.in(1, 4); k > 0; --k) {
    const bool bounded = rng.one_in(3);
    weft::Semaphore& sem = bounded ? static_cast<weft::Semaphore&>(s.bsem) : s.sem;
    std::atomic<int>& holders = bounded ? s.bsem_holders : s.sem_holders;
    const int limit = bounded ? Shared::kBoundedPermits : Shared::kPermits;
    weft::SemaphoreGuard g;
    switch (rng.below(4)) {
      case 0:
        if (sem.try_acquire()) g = weft::SemaphoreGuard(sem);
        break;
      case 1:
        try {
          g = co_await weft::wait_for(sem.acquire(), rng.micros(0, 1000));
        } catch (const weft::TimeoutError&) {
          count(Ev::kTimeoutFired);
        }
        break;
      default:
        g = co_await sem.acquire();
        break;
    }
    if (!g) continue;
    // Counted before the guard releases (Hold is destroyed first).
    if (holders.fetch_add(1) + 1 > limit) {
      fail("semaphore: more holders than its " + std::to_string(limit) + " permits");
    }
    Hold hold{holders};
    if (rng.one_in(2)) {
      co_await weft::sleep(rng.micros(0, 200));
    } else {
      co_await weft::yield_now();
    }
  }
}

weft::Task<void> mutex_user(Rng rng) {
  Shared& s = world().shared;
  for (std::uint64_t k = rng.in(1, 4); k > 0; --k) {
    weft::MutexGuard g;
    switch (rng.below(4)) {
      case 0:
        if (s.mu.try_lock()) g = weft::MutexGuard(s.mu, std::adopt_lock);
        break;
      case 1:
        try {
          g = co_await weft::wait_for(s.mu.lock(), rng.micros(0, 1000));
        } catch (const weft::TimeoutError&) {
          count(Ev::kTimeoutFired);
        }
        break;
      default:
        g = co_await s.mu.lock();
        break;
    }
    if (!g) continue;
    if (s.mu_inside) fail("mutex: two tasks inside the critical section at once");
    s.mu_inside = true;
    ++s.mu_counter;
    s.mu_locks.fetch_add(1);
    struct Leave {
      bool& inside;
      ~Leave() { inside = false; }
    } leave{s.mu_inside};  // destroyed before the guard unlocks
    if (rng.one_in(3)) {
      co_await weft::sleep(rng.micros(0, 100));
    } else if (rng.one_in(2)) {
      co_await weft::yield_now();
    }
  }
}

/// Runs `n` copies of `user` and cancels some of them at random moments.
template <class F>
weft::Task<void> users(Rng& rng, F user, const char* what) {
  const std::size_t n = rng.in(1, 6);
  std::vector<weft::JoinHandle<void>> hs;
  for (std::size_t i = 0; i < n; ++i) hs.push_back(go(user(rng.fork()), what));
  for (std::uint64_t k = rng.below(3); k > 0; --k) {
    co_await weft::sleep(rng.micros(0, 300));
    hs[rng.below(n)].cancel();
  }
  for (auto& h : hs) (void)co_await settle(h, what);
}

weft::Task<void> op_semaphore(Rng& rng) {
  co_await users(rng, &semaphore_user, "semaphore user");
}

weft::Task<void> op_mutex(Rng& rng) {
  co_await users(rng, &mutex_user, "mutex user");
}

// ---- Event ------------------------------------------------------------------------------

weft::Task<void> event_waiter(weft::Event* e, Rng rng) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    bool ok = true;
    switch (rng.below(3)) {
      case 0:
        try {
          co_await weft::wait_for(e->wait(), rng.micros(0, 400));
        } catch (const weft::TimeoutError&) {
          count(Ev::kTimeoutFired);
          ok = false;
        }
        break;
      default:
        co_await e->wait();
        break;
    }
    if (!ok) continue;
    if (!e->is_set()) fail("event: a wait returned while the event is clear");
    co_return;
  }
  co_await e->wait();
  if (!e->is_set()) fail("event: a wait returned while the event is clear");
}

weft::Task<void> op_event(Rng& rng) {
  weft::Event e;
  const std::size_t n = rng.in(1, 5);
  std::vector<weft::JoinHandle<void>> hs;
  std::vector<bool> cancelled(n, false);
  for (std::size_t i = 0; i < n; ++i)
    hs.push_back(go(event_waiter(&e, rng.fork()), "event waiter"));
  co_await weft::sleep(rng.micros(0, 500));
  if (rng.one_in(3)) {
    const std::size_t i = rng.below(n);
    hs[i].cancel();
    cancelled[i] = true;
  }
  if (rng.one_in(4)) {
    weft::Event* ep = &e;
    auto job = [ep] { ep->set(); };  // from a plain thread
    co_await weft::to_thread(job);
  } else {
    e.set();
  }
  for (std::size_t i = 0; i < n; ++i) {
    Ended end = co_await settle(hs[i], "event");
    if (end == Ended::kCancelled && !cancelled[i]) fail("event: a waiter cancelled by nobody");
  }
}

// ---- Condition --------------------------------------------------------------------------

struct CondRound {
  weft::Condition c;
  int avail = 0;      // guarded by c's mutex
  bool done = false;  // guarded by c's mutex: no producer will add more
  std::atomic<std::uint64_t> produced{0}, consumed{0};
};

weft::Task<void> cond_producer(CondRound* st, Rng rng) {
  for (std::uint64_t k = rng.in(1, 10); k > 0; --k) {
    {
      weft::MutexGuard g = co_await st->c.lock();
      ++st->avail;
      st->produced.fetch_add(1);
      if (rng.one_in(3)) {
        st->c.notify_all();
      } else {
        st->c.notify(1);
      }
    }
    if (rng.one_in(2)) co_await weft::sleep(rng.micros(0, 100));
  }
}

void check_relocked(const weft::MutexGuard& g, const CondRound* st, const char* how) {
  if (!g.owns_lock() || !st->c.locked()) {
    fail(std::string("condition: a wait ended by ") + how + " without the mutex held again");
  }
}

/// Consumes units until the producers are done and none is left (the steady one), or for
/// ever until cancelled (the others).
weft::Task<void> cond_consumer(CondRound* st, Rng rng) {
  auto ready = [st] { return st->avail > 0 || st->done; };
  for (;;) {
    weft::MutexGuard g = co_await st->c.lock();
    bool timed_out = false;
    try {
      if (rng.one_in(3)) {
        co_await weft::wait_for(st->c.wait_for(g, ready), rng.micros(0, 400));
      } else {
        co_await st->c.wait_for(g, ready);
      }
    } catch (const weft::TimeoutError&) {
      timed_out = true;
    } catch (const weft::CancelledError&) {
      check_relocked(g, st, "cancellation");
      throw;
    }
    check_relocked(g, st, timed_out ? "timeout" : "notify");
    if (timed_out) {
      count(Ev::kTimeoutFired);
      continue;
    }
    if (st->avail > 0) {
      --st->avail;
      st->consumed.fetch_add(1);
    } else if (st->done) {
      co_return;
    } else {
      fail("condition: wait_for returned with its predicate false");
    }
  }
}

weft::Task<void> op_condition(Rng& rng) {
  CondRound st;
  const std::size_t np = rng.in(1, 3), nc = rng.in(1, 3);
  std::vector<weft::JoinHandle<void>> prods, cons;
  for (std::size_t i = 0; i < nc; ++i)
    cons.push_back(go(cond_consumer(&st, rng.fork()), "cond consumer"));
  for (std::size_t i = 0; i < np; ++i)
    prods.push_back(go(cond_producer(&st, rng.fork()), "cond producer"));
  std::vector<bool> cancelled(nc, false);
  if (nc > 1 && rng.one_in(2)) {
    co_await weft::sleep(rng.micros(0, 300));
    const std::size_t i = rng.in(1, nc - 1);  // consumer 0 stays: it drains the rest
    cons[i].cancel();
    cancelled[i] = true;
  }
  for (auto& h : prods) {
    Ended e = co_await settle(h, "condition producer");
    if (e != Ended::kValue) fail("condition: a producer failed");
  }
  {
    weft::MutexGuard g = co_await st.c.lock();
    st.done = true;
    st.c.notify_all();
  }
  for (std::size_t i = 0; i < nc; ++i) {
    Ended e = co_await settle(cons[i], "condition consumer");
    if (e == Ended::kCancelled && !cancelled[i]) fail("condition: a consumer cancelled by nobody");
  }
  if (st.c.locked()) fail("condition: the mutex is still locked after the round");
  if (st.avail != 0 || st.produced.load() != st.consumed.load()) {
    fail("condition: produced " + std::to_string(st.produced.load()) + ", consumed " +
         std::to_string(st.consumed.load()) + ", " + std::to_string(st.avail) + " left");
  }
}

// ---- oneshot ----------------------------------------------------------------------------

weft::Task<void> oneshot_sender(weft::OneshotSender<std::uint64_t> tx, std::uint64_t v, bool drop,
                                Micros d, std::atomic<bool>* sent) {
  co_await weft::sleep(d);
  if (drop) co_return;  // the receiver gets ChannelClosed
  if (!tx.send(v)) fail("oneshot: send found the receiver gone");
  sent->store(true);
}

/// Receives from `*rx`; `*closed` says it got ChannelClosed instead of a value.
weft::Task<std::uint64_t> oneshot_receiver(weft::OneshotReceiver<std::uint64_t>* rx, bool* closed) {
  try {
    std::uint64_t v = co_await rx->recv();
    co_return v;
  } catch (const weft::ChannelClosed&) {
    *closed = true;
  }
  co_return 0;
}

weft::Task<void> op_oneshot(Rng& rng) {
  auto [tx, rx] = weft::oneshot<std::uint64_t>();
  const std::uint64_t v = rng.next();
  const bool drop = rng.one_in(5);
  std::atomic<bool> sent{false};
  weft::JoinHandle<void> sender =
      go(oneshot_sender(std::move(tx), v, drop, rng.micros(0, 500), &sent), "oneshot sender");
  const bool cancel_sender = rng.one_in(6);
  if (cancel_sender) {
    co_await weft::sleep(rng.micros(0, 500));
    sender.cancel();
  }
  std::optional<std::uint64_t> got;
  bool closed = false;
  const unsigned how = static_cast<unsigned>(rng.below(3));
  if (how == 0) {  // a receiving task, cancelled at a random moment: the value stays
    weft::JoinHandle<std::uint64_t> r = go(oneshot_receiver(&rx, &closed), "oneshot receiver");
    co_await weft::sleep(rng.micros(0, 500));
    r.cancel();
    Outcome o = co_await settle(r, "oneshot receiver");
    if (o.how == Ended::kValue && !closed) got = o.value;
  } else if (how == 1) {  // polling
    for (int i = 0; i < 64 && !got && !closed; ++i) {
      try {
        got = rx.try_recv();
      } catch (const weft::ChannelClosed&) {
        closed = true;
      }
      if (!got && !closed) co_await weft::sleep(rng.micros(0, 50));
    }
  }
  // Deadlines, then a plain recv, until the value or the end.
  for (int i = 0; !got && !closed; ++i) {
    try {
      if (i < 8) {
        got = co_await weft::wait_for(rx.recv(), rng.micros(0, 300));
      } else {
        got = co_await rx.recv();
      }
    } catch (const weft::TimeoutError&) {
      count(Ev::kTimeoutFired);
    } catch (const weft::ChannelClosed&) {
      count(Ev::kChannelClosed);
      closed = true;
    }
  }
  Ended e = co_await settle(sender, "oneshot sender");
  if (e == Ended::kCancelled && !cancel_sender) fail("oneshot: sender cancelled by nobody");
  if (sent.load()) {
    if (!got) fail("oneshot: a sent value was lost (the receiver saw ChannelClosed)");
    if (got && *got != v) fail("oneshot: received a wrong value");
  } else if (got) {
    fail("oneshot: received a value that was never sent");
  }
}

// ---- broadcast --------------------------------------------------------------------------

struct Msg {
  std::uint32_t sender;
  std::uint32_t seq;
};

weft::Task<void> bc_sender(weft::BroadcastSender<Msg> tx, std::uint32_t id, std::uint32_t m,
                           Rng rng, std::atomic<std::uint64_t>* sent) {
  for (std::uint32_t seq = 0; seq < m; ++seq) {
    tx.send(Msg{id, seq});
    sent->fetch_add(1);
    if (rng.one_in(3)) co_await weft::yield_now();
  }
}

/// Receives until ChannelClosed; returns messages received plus messages reported lost.
weft::Task<std::uint64_t> bc_receiver(weft::BroadcastReceiver<Msg> rx, std::uint32_t senders,
                                      Rng rng) {
  std::vector<std::int64_t> last(senders, -1);
  std::uint64_t seen = 0;
  for (;;) {
    std::optional<Msg> m;
    try {
      switch (rng.below(4)) {
        case 0:
          m = rx.try_recv();
          break;
        case 1:
          m = co_await weft::wait_for(rx.recv(), rng.micros(0, 300));
          break;
        default:
          m = co_await rx.recv();
          break;
      }
    } catch (const weft::Lagged& e) {
      count(Ev::kLagged);
      seen += e.missed();
    } catch (const weft::TimeoutError&) {
      count(Ev::kTimeoutFired);
    } catch (const weft::ChannelClosed&) {
      count(Ev::kChannelClosed);
      co_return seen;
    }
    if (!m) {
      co_await weft::yield_now();
      continue;
    }
    ++seen;
    if (m->sender >= senders || static_cast<std::int64_t>(m->seq) <= last[m->sender]) {
      fail("broadcast: a message out of order or from nowhere");
    } else {
      last[m->sender] = m->seq;
    }
  }
}

weft::Task<void> op_broadcast(Rng& rng) {
  const std::size_t cap = rng.in(1, 8);
  const std::uint32_t ns = static_cast<std::uint32_t>(rng.in(1, 3));
  const std::size_t nr = rng.in(1, 4);
  const std::uint32_t m = static_cast<std::uint32_t>(rng.in(1, 30));
  std::atomic<std::uint64_t> sent{0};
  std::vector<weft::JoinHandle<std::uint64_t>> rs;
  std::vector<weft::JoinHandle<void>> ss;
  {
    weft::BroadcastSender<Msg> tx = weft::broadcast<Msg>(cap);
    for (std::size_t i = 0; i < nr; ++i) {
      rs.push_back(go(bc_receiver(tx.subscribe(), ns, rng.fork()), "broadcast receiver"));
    }
    for (std::uint32_t i = 0; i < ns; ++i) {
      ss.push_back(go(bc_sender(tx, i, m, rng.fork(), &sent), "broadcast sender"));
    }
  }  // the first sender goes: the channel closes when the sending tasks end
  std::vector<bool> cancelled(nr, false);
  if (rng.one_in(3)) {
    co_await weft::sleep(rng.micros(0, 300));
    const std::size_t i = rng.below(nr);
    rs[i].cancel();
    cancelled[i] = true;
  }
  for (auto& h : ss) {
    Ended e = co_await settle(h, "broadcast sender");
    if (e != Ended::kValue) fail("broadcast: a sender failed");
  }
  for (std::size_t i = 0; i < nr; ++i) {
    Outcome o = co_await settle(rs[i], "broadcast receiver");
    if (o.how == Ended::kCancelled) {
      if (!cancelled[i]) fail("broadcast: a receiver cancelled by nobody");
      continue;
    }
    if (o.how == Ended::kValue && o.value != sent.load()) {
      fail("broadcast: a receiver accounted for " + std::to_string(o.value) + " of " +
           std::to_string(sent.load()) + " messages (received + lagged)");
    }
  }
}

}  // namespace

std::vector<OpKind> sync_ops() {
  return {
      {"queue_fifo", 6, &op_queue_fifo},
      {"queue_lifo", 2, &op_queue_lifo},
      {"queue_priority", 2, &op_queue_priority},
      {"queue_shared", 6, &op_queue_shared},
      {"semaphore", 5, &op_semaphore},
      {"mutex", 5, &op_mutex},
      {"event", 4, &op_event},
      {"condition", 4, &op_condition},
      {"oneshot", 5, &op_oneshot},
      {"broadcast", 4, &op_broadcast},
  };
}

}  // namespace soak
