// The task dump (task_dump.hpp): states, wait kinds and places, await chains, text and JSON.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "python_json.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

/// The dump once `ready(dump)` holds; bounded (the tasks get there within a few polls).
template <class Ready>
weft::TaskDump dump_when(const weft::Runtime& rt, Ready ready) {
  weft::TaskDump d = rt.dump_tasks();
  for (int i = 0; i < 1'000'000 && !ready(d); ++i) {
    std::this_thread::yield();
    d = rt.dump_tasks();
  }
  return d;
}

const weft::LiveTask* named(const weft::TaskDump& d, const std::string& name) {
  for (const weft::LiveTask& t : d.tasks) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

bool waiting(const weft::TaskDump& d, const std::string& name) {
  const weft::LiveTask* t = named(d, name);
  return t && t->state == weft::LiveTask::State::kWaiting;
}

std::atomic<int> g_get_line{0};

weft::Task<int> consumer(weft::Queue<int>& q) {
  // clang-format off
  g_get_line = __LINE__; int v = co_await q.get();
  // clang-format on
  co_return v;
}

TEST(TaskDump, ATaskBlockedOnAQueueGetShowsThatQueueAndThatLine) {
  weft::Runtime rt({.workers = 1});
  weft::Queue<int> q;
  weft::JoinHandle<int> h = rt.spawn(consumer(q), "consumer");
  const weft::TaskDump d =
      dump_when(rt, [](const weft::TaskDump& d) { return waiting(d, "consumer"); });
  const weft::LiveTask* t = named(d, "consumer");
  ASSERT_NE(t, nullptr) << d.text();
  EXPECT_EQ(t->state, weft::LiveTask::State::kWaiting) << d.text();
  EXPECT_EQ(t->wait_kind, "queue get");
  EXPECT_EQ(t->waiting_at.line(), static_cast<unsigned>(g_get_line.load()));
  EXPECT_NE(std::string(t->waiting_at.file_name()).find("task_dump_test.cpp"), std::string::npos);
  EXPECT_NE(std::string(t->spawned_at.file_name()).find("task_dump_test.cpp"), std::string::npos);
  EXPECT_EQ(t->awaited_task, 0u);
  const std::string text = d.text();
  EXPECT_NE(text.find("task " + std::to_string(t->id) + " 'consumer'"), std::string::npos) << text;
  EXPECT_NE(text.find("on queue get at "), std::string::npos) << text;
  EXPECT_NE(text.find("task_dump_test.cpp:" + std::to_string(g_get_line.load())), std::string::npos)
      << text;
  q.put_nowait(7);
  auto join = [](weft::JoinHandle<int>& h) -> weft::Task<int> { co_return co_await h; };
  EXPECT_EQ(rt.block_on(join(h)), 7);
  // Finished tasks leave the dump.
  EXPECT_EQ(named(rt.dump_tasks(), "consumer"), nullptr);
}

std::atomic<int> g_join_line{0};

weft::Task<void> leaf(weft::Event& e) {
  co_await e.wait();
}

weft::Task<void> middle(weft::Event& e) {
  weft::JoinHandle<void> h = weft::spawn(leaf(e), "leaf");
  co_await h;
}

weft::Task<void> top(weft::Event& e) {
  weft::JoinHandle<void> h = weft::spawn(middle(e), "middle");
  // clang-format off
  g_join_line = __LINE__; co_await h;
  // clang-format on
}

TEST(TaskDump, AnAwaitChainReadsFromTheTaskNobodyAwaitsToTheInnermostWait) {
  weft::Runtime rt({.workers = 2});
  weft::Event e;
  weft::JoinHandle<void> h = rt.spawn(top(e), "top");
  const weft::TaskDump d = dump_when(rt, [](const weft::TaskDump& d) {
    return waiting(d, "top") && waiting(d, "middle") && waiting(d, "leaf");
  });
  const weft::LiveTask* t = named(d, "top");
  const weft::LiveTask* m = named(d, "middle");
  const weft::LiveTask* l = named(d, "leaf");
  ASSERT_TRUE(t && m && l) << d.text();
  EXPECT_EQ(t->wait_kind, "join");
  EXPECT_EQ(t->awaited_task, m->id);
  EXPECT_EQ(t->waiting_at.line(), static_cast<unsigned>(g_join_line.load()));
  EXPECT_EQ(m->wait_kind, "join");
  EXPECT_EQ(m->awaited_task, l->id);
  EXPECT_EQ(l->wait_kind, "event wait");
  EXPECT_EQ(d.find(m->id), m);
  // The text: top, then middle indented by two, then leaf by four, one after the other.
  const std::string text = d.text();
  const std::string top_line = "task " + std::to_string(t->id) + " 'top'";
  const std::string mid_line = "\n  task " + std::to_string(m->id) + " 'middle'";
  const std::string leaf_line = "\n    task " + std::to_string(l->id) + " 'leaf'";
  const auto a = text.find(top_line), b = text.find(mid_line), c = text.find(leaf_line);
  ASSERT_NE(a, std::string::npos) << text;
  ASSERT_NE(b, std::string::npos) << text;
  ASSERT_NE(c, std::string::npos) << text;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(text.find('\n', b + 1), text.find(leaf_line)) << "leaf right below middle:\n" << text;
  e.set();
  auto join = [](weft::JoinHandle<void>& h) -> weft::Task<void> { co_await h; };
  rt.block_on(join(h));
}

weft::Task<void> gatherer(weft::Event& e) {
  auto a = weft::spawn(leaf(e), "g-a");
  auto b = weft::spawn(leaf(e), "g-b");
  auto c = weft::spawn(middle(e), "g-c");
  co_await weft::gather(std::move(a), std::move(b), std::move(c));
}

weft::Task<void> waiter_of_first(weft::Event& e, weft::Event& first) {
  std::vector<weft::JoinHandle<void>> hs;
  hs.push_back(weft::spawn(leaf(first), "w-first"));
  hs.push_back(weft::spawn(leaf(e), "w-second"));
  weft::WaitSets<void> sets = co_await weft::wait(std::move(hs), weft::ReturnWhen::FirstCompleted);
  co_await e.wait();  // the second, still running, is awaited by nobody now
  for (auto& h : sets.done) co_await h;
  for (auto& h : sets.pending) co_await h;
}

weft::Task<void> grouper(weft::Event& e) {
  co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<> {
    tg.spawn(leaf(e), "t-child");
    co_return;
  });
}

// A gather's children are listed below the task that gathers them (a wait's and a task
// group's likewise), a child that awaits in turn has its own below it, and what a wait let
// go of is a root again.
TEST(TaskDump, AGathersChildrenAreListedBelowTheTaskThatAwaitsThem) {
  weft::Runtime rt({.workers = 2});
  weft::Event e, first;
  weft::JoinHandle<void> g = rt.spawn(gatherer(e), "gatherer");
  weft::JoinHandle<void> w = rt.spawn(waiter_of_first(e, first), "waiter");
  weft::JoinHandle<void> tg = rt.spawn(grouper(e), "grouper");
  weft::TaskDump d = dump_when(rt, [](const weft::TaskDump& d) {
    return waiting(d, "gatherer") && waiting(d, "g-a") && waiting(d, "g-b") && waiting(d, "g-c") &&
           waiting(d, "leaf") && waiting(d, "waiter") && waiting(d, "w-first") &&
           waiting(d, "w-second") && waiting(d, "grouper") && waiting(d, "t-child");
  });
  ASSERT_TRUE(named(d, "t-child") && named(d, "grouper")) << d.text();
  EXPECT_EQ(named(d, "t-child")->awaited_by, named(d, "grouper")->id);
  const weft::LiveTask* top = named(d, "gatherer");
  ASSERT_TRUE(top && named(d, "g-a") && named(d, "g-b") && named(d, "g-c")) << d.text();
  EXPECT_EQ(top->wait_kind, "gather");
  for (const char* n : {"g-a", "g-b", "g-c"}) EXPECT_EQ(named(d, n)->awaited_by, top->id) << n;
  EXPECT_EQ(named(d, "w-first")->awaited_by, named(d, "waiter")->id);
  EXPECT_EQ(named(d, "w-second")->awaited_by, named(d, "waiter")->id);
  auto line_of = [](const weft::LiveTask* t, int depth) {
    return "\n" + std::string(static_cast<std::size_t>(2 * depth), ' ') + "task " +
           std::to_string(t->id) + " '" + t->name + "'";
  };
  std::string text = d.text();
  // gatherer, then its three children in the order spawned, g-c's own join below it.
  std::size_t at = text.find(line_of(top, 0));
  ASSERT_NE(at, std::string::npos) << text;
  for (auto [n, depth] : {std::pair{"g-a", 1}, {"g-b", 1}, {"g-c", 1}, {"leaf", 2}}) {
    const weft::LiveTask* t = named(d, n);
    if (std::string(n) == "leaf") {  // the leaf g-c's middle spawned (not the waiter's)
      for (const weft::LiveTask& x : d.tasks) {
        if (x.name == "leaf" && x.id > named(d, "g-c")->id) t = &x;
      }
    }
    const std::size_t next = text.find('\n', at + 1);
    EXPECT_EQ(text.compare(next, line_of(t, depth).size(), line_of(t, depth)), 0)
        << n << " right below the line before:\n"
        << text;
    at = next;
  }
  EXPECT_NE(text.find(line_of(named(d, "w-second"), 1)), std::string::npos) << text;
  EXPECT_TRUE(weft_test::python_accepts_json(
      d.json(), "[t['awaited_by'] for t in d['tasks'] if t['name'] == 'g-b'] == [" +
                    std::to_string(top->id) + "]"));
  // The wait returns at its first child; the second is let go of and is a root again.
  first.set();
  d = dump_when(rt, [](const weft::TaskDump& d) {
    const weft::LiveTask* s = named(d, "w-second");
    return named(d, "w-first") == nullptr && s != nullptr && s->awaited_by == 0;
  });
  ASSERT_NE(named(d, "w-second"), nullptr) << d.text();
  EXPECT_EQ(named(d, "w-second")->awaited_by, 0u) << d.text();
  text = d.text();
  EXPECT_NE(text.find(line_of(named(d, "w-second"), 0)), std::string::npos) << text;
  e.set();
  auto join = [](weft::JoinHandle<void>& h) -> weft::Task<void> { co_await h; };
  rt.block_on(join(g));
  rt.block_on(join(w));
  rt.block_on(join(tg));
}

TEST(TaskDump, ARunningTaskShowsItsWorkerAndAQueuedOneIsRunnableNotStarted) {
  weft::Runtime rt({.workers = 1});
  std::atomic<bool> go{false}, spinning{false};
  auto spin = [&]() -> weft::Task<void> {
    spinning = true;
    while (!go.load()) {
    }
    co_return;
  };
  auto idle = []() -> weft::Task<void> { co_return; };
  weft::JoinHandle<void> a = rt.spawn(spin, "spinner");
  while (!spinning.load()) {
  }
  weft::JoinHandle<void> b = rt.spawn(idle(), "queued");
  const weft::TaskDump d = rt.dump_tasks();
  go = true;
  const weft::LiveTask* s = named(d, "spinner");
  const weft::LiveTask* q = named(d, "queued");
  ASSERT_TRUE(s && q) << d.text();
  EXPECT_EQ(s->state, weft::LiveTask::State::kRunning);
  EXPECT_EQ(s->worker, 0);
  EXPECT_TRUE(s->started);
  EXPECT_EQ(q->state, weft::LiveTask::State::kRunnable);
  EXPECT_FALSE(q->started);
  const std::string text = d.text();
  EXPECT_NE(text.find("'spinner' (spawned at "), std::string::npos) << text;
  EXPECT_NE(text.find("running on worker 0"), std::string::npos) << text;
  EXPECT_NE(text.find("runnable, not started"), std::string::npos) << text;
  EXPECT_NE(text.find("2 live tasks on 1 workers: 1 running, 1 runnable, 0 waiting"),
            std::string::npos)
      << text;
  auto join = [](weft::JoinHandle<void>& a, weft::JoinHandle<void>& b) -> weft::Task<void> {
    co_await a;
    co_await b;
  };
  rt.block_on(join(a, b));
}

TEST(TaskDump, AWaitCountsItsTimeOnTheRuntimesClock) {
  weft::Runtime rt({.workers = 1, .clock = weft::ClockKind::Real});
  auto sleeper = []() -> weft::Task<void> { co_await weft::sleep(1h); };
  weft::JoinHandle<void> h = rt.spawn(sleeper(), "sleeper");
  weft::TaskDump d = dump_when(rt, [](const weft::TaskDump& d) { return waiting(d, "sleeper"); });
  ASSERT_TRUE(waiting(d, "sleeper")) << d.text();
  EXPECT_EQ(named(d, "sleeper")->wait_kind, "sleep");
  // The wait's start is a tick the worker read before the wait began, so the dump's count
  // is at least the time that has passed since.
  std::this_thread::sleep_for(30ms);
  d = rt.dump_tasks();
  ASSERT_TRUE(waiting(d, "sleeper")) << d.text();
  EXPECT_GE(named(d, "sleeper")->waiting_for, 29ms) << d.text();
  h.cancel();
}

TEST(TaskDump, TheJsonIsValidAndSaysWhatTheTextSays) {
  weft::Runtime rt({.workers = 1});
  weft::Queue<int> q;
  weft::JoinHandle<int> h = rt.spawn(consumer(q), "con\"sum\ner");  // escaped in JSON
  const weft::TaskDump d =
      dump_when(rt, [](const weft::TaskDump& d) { return waiting(d, "con\"sum\ner"); });
  const std::string json = d.json();
  EXPECT_TRUE(weft_test::python_accepts_json(
      json,
      "d['workers'] == 1 and len(d['tasks']) == 1 and d['tasks'][0]['name'] == 'con\"sum\\ner' "
      "and d['tasks'][0]['state'] == 'waiting' and d['tasks'][0]['wait']['kind'] == 'queue get' "
      "and d['tasks'][0]['wait']['line'] == " +
          std::to_string(g_get_line.load()) +
          " and d['tasks'][0]['wait']['file'].endswith('task_dump_test.cpp') "
          "and d['tasks'][0]['started'] and 'worker' not in d['tasks'][0]"))
      << json;
  h.cancel();
}

TEST(TaskDump, AHundredThousandWaitingTasksAreAllInTheDump) {
  // One poll spawns them all: no stall report for it.
  weft::Runtime rt({.workers = 2, .stall_threshold = 0ms});
  weft::Event e;
  constexpr int kTasks = 100'000;
  auto body = [&]() -> weft::Task<void> {
    auto waiter = [](weft::Event& e) -> weft::Task<void> { co_await e.wait(); };
    std::vector<weft::JoinHandle<void>> hs;
    hs.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) hs.push_back(weft::spawn(waiter(e)));
    for (auto& h : hs) co_await h;
  };
  weft::JoinHandle<void> main = rt.spawn(body, "spawner");
  const weft::TaskDump d = dump_when(rt, [](const weft::TaskDump& d) {
    if (d.tasks.size() != kTasks + 1) return false;
    for (const weft::LiveTask& t : d.tasks) {
      if (t.state != weft::LiveTask::State::kWaiting) return false;
    }
    return true;
  });
  ASSERT_EQ(d.tasks.size(), static_cast<std::size_t>(kTasks + 1));
  std::size_t on_event = 0;
  for (const weft::LiveTask& t : d.tasks) on_event += t.wait_kind == "event wait";
  EXPECT_EQ(on_event, static_cast<std::size_t>(kTasks));
  EXPECT_EQ(named(d, "spawner")->wait_kind, "join");
  EXPECT_GT(d.text().size(), static_cast<std::size_t>(kTasks) * 40);
  e.set();
  auto join = [](weft::JoinHandle<void>& h) -> weft::Task<void> { co_await h; };
  rt.block_on(join(main));
  EXPECT_TRUE(rt.dump_tasks().tasks.empty());
}

/// What a dump handler received.
struct Received {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> texts;

  weft::TaskDumpHandler handler() {
    return [this](const weft::TaskDump& d) {
      std::lock_guard lk(m);
      texts.push_back(d.text());
      cv.notify_all();
    };
  }
  /// Waits (up to a generous bound) for `n` dumps.
  bool wait_for(std::size_t n) {
    std::unique_lock lk(m);
    return cv.wait_for(lk, 60s, [&] { return texts.size() >= n; });
  }
};

TEST(TaskDump, SigusrOneDumpsEveryRuntimeThatAskedForItToItsHandler) {
  Received first, second;
  weft::Runtime a({.workers = 1, .dump_tasks_on_sigusr1 = true, .on_task_dump = first.handler()});
  weft::Runtime b({.workers = 1, .dump_tasks_on_sigusr1 = true, .on_task_dump = second.handler()});
  weft::Event e;
  auto waiter = [](weft::Event& e) -> weft::Task<void> { co_await e.wait(); };
  weft::JoinHandle<void> h = a.spawn(waiter(e), "in-a");
  dump_when(a, [](const weft::TaskDump& d) { return waiting(d, "in-a"); });
  ASSERT_EQ(::raise(SIGUSR1), 0);
  ASSERT_TRUE(first.wait_for(1));
  ASSERT_TRUE(second.wait_for(1));
  {
    std::lock_guard lk(first.m);
    EXPECT_NE(first.texts[0].find("'in-a'"), std::string::npos) << first.texts[0];
    EXPECT_NE(first.texts[0].find("on event wait at "), std::string::npos) << first.texts[0];
  }
  {
    std::lock_guard lk(second.m);
    EXPECT_NE(second.texts[0].find("0 live tasks on 1 workers"), std::string::npos)
        << second.texts[0];
  }
  e.set();
  auto join = [](weft::JoinHandle<void>& h) -> weft::Task<void> { co_await h; };
  a.block_on(join(h));
}

TEST(TaskDump, TheSignalsDispositionIsRestoredWhenNoRuntimeAsksAnyMore) {
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGUSR1, nullptr, &before), 0);
  {
    Received r;
    weft::Runtime rt({.workers = 1, .dump_tasks_on_sigusr1 = true, .on_task_dump = r.handler()});
    struct sigaction during {};
    ASSERT_EQ(::sigaction(SIGUSR1, nullptr, &during), 0);
    EXPECT_NE(during.sa_handler, before.sa_handler);
    ASSERT_EQ(::raise(SIGUSR1), 0);
    EXPECT_TRUE(r.wait_for(1));
  }
  struct sigaction after {};
  ASSERT_EQ(::sigaction(SIGUSR1, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

}  // namespace
