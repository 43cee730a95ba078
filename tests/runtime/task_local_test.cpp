// TaskLocal<T> (contextvars as asyncio uses them): get/try_get/set/reset/scope, errors that
// name the variable, snapshots inherited by spawned tasks (spawn, TaskGroup, gather,
// Runtime::spawn from a to_thread job) and shared with awaited Tasks, scopes restored on
// return, exception and cancellation, values that stay with their task while tasks hop
// between two workers, to_thread and offload seeing the caller's values, and a task's values
// freed when it ends.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

namespace {

const weft::TaskLocal<std::string> request_id{"request_id"};
const weft::TaskLocal<int> attempt{"attempt"};

weft::RuntimeOptions workers(std::size_t n) {
  return {.workers = n, .clock = weft::ClockKind::Virtual};
}

/// What a task sees of request_id: its value, or "<unset>".
std::string seen_id() {
  const std::string* v = request_id.try_get();
  return v ? *v : "<unset>";
}

weft::Task<std::string> read_id() {
  co_return seen_id();
}

// ---- get, try_get, set, reset ---------------------------------------------------------------

TEST(TaskLocal, GetOfAVariableNeverSetThrowsUsageErrorNamingIt) {
  weft::run(
      []() -> weft::Task<> {
        EXPECT_EQ(request_id.try_get(), nullptr);
        try {
          (void)request_id.get();
          ADD_FAILURE() << "get() of an unset variable returned";
        } catch (const weft::UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("'request_id'"), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find("not set"), std::string::npos) << e.what();
        }
        EXPECT_EQ(request_id.get_or("none"), "none");
        co_return;
      }(),
      workers(1));
}

TEST(TaskLocal, OutsideATaskGetAndSetThrowUsageErrorAndTryGetIsNull) {
  EXPECT_EQ(request_id.try_get(), nullptr);
  EXPECT_EQ(request_id.get_or("none"), "none");
  try {
    (void)request_id.get();
    ADD_FAILURE() << "get() outside a task returned";
  } catch (const weft::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'request_id' read outside a weft task"),
              std::string::npos)
        << e.what();
  }
  try {
    request_id.set("x");
    ADD_FAILURE() << "set() outside a task returned";
  } catch (const weft::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'request_id' set outside a weft task"), std::string::npos)
        << e.what();
  }
  EXPECT_STREQ(request_id.name(), "request_id");
}

weft::Task<> set_id_to(std::string id) {
  request_id.set(std::move(id));
  co_return;
}

TEST(TaskLocal, AnAwaitedTaskSharesItsAwaitersValuesBothWays) {
  auto [inner, after] = weft::run(
      []() -> weft::Task<std::tuple<std::string, std::string>> {
        request_id.set("outer");
        std::string inner = co_await read_id();
        co_await set_id_to("set by the awaited task");
        co_return std::tuple{inner, seen_id()};
      }(),
      workers(1));
  EXPECT_EQ(inner, "outer");
  EXPECT_EQ(after, "set by the awaited task");
}

TEST(TaskLocal, ResetRestoresTheValueFromBeforeTheSetWhateverCameBetween) {
  auto seen = weft::run(
      []() -> weft::Task<std::vector<std::string>> {
        std::vector<std::string> seen;
        auto unset = request_id.set("a");
        auto token = request_id.set("b");
        request_id.set("c");
        request_id.reset(token);
        seen.push_back(seen_id());
        request_id.reset(unset);
        seen.push_back(seen_id());
        co_return seen;
      }(),
      workers(1));
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "<unset>"}));
}

TEST(TaskLocal, ATokenResetTwiceOrGivenToAnotherVariableThrowsUsageError) {
  weft::run(
      []() -> weft::Task<> {
        auto token = request_id.set("a");
        request_id.reset(token);
        EXPECT_THROW(request_id.reset(token), weft::UsageError);
        static const weft::TaskLocal<std::string> other{"other"};
        auto other_token = other.set("o");
        try {
          request_id.reset(other_token);
          ADD_FAILURE() << "reset with another variable's token returned";
        } catch (const weft::UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("another variable's token"), std::string::npos)
              << e.what();
        }
        EXPECT_EQ(other.get(), "o");
        co_return;
      }(),
      workers(1));
}

weft::Task<> reset_in_a_child(weft::TaskLocal<std::string>::Token* token) {
  request_id.reset(*token);
  co_return;
}

TEST(TaskLocal, ATokenResetInAnotherTaskThrowsUsageError) {
  weft::run(
      []() -> weft::Task<> {
        auto token = request_id.set("parent");
        try {
          co_await weft::spawn(reset_in_a_child(&token));
          ADD_FAILURE() << "reset in another task returned";
        } catch (const weft::UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("another task"), std::string::npos) << e.what();
        }
        EXPECT_EQ(request_id.get(), "parent");
        request_id.reset(token);  // still good in the task that made it
        EXPECT_EQ(request_id.try_get(), nullptr);
      }(),
      workers(1));
}

// ---- scope --------------------------------------------------------------------------------

weft::Task<int> read_attempt_twice() {
  int a = attempt.get();
  co_await weft::yield_now();
  co_return a + attempt.get();
}

TEST(TaskLocal, ScopeSetsTheValueForTheTaskOnlyAndGivesItsResult) {
  auto [inside, after_unset, nested, after_set] = weft::run(
      []() -> weft::Task<std::tuple<int, bool, std::string, std::string>> {
        int inside = co_await attempt.scope(21, read_attempt_twice());
        bool after_unset = attempt.try_get() == nullptr;
        request_id.set("outer");
        std::string nested = co_await request_id.scope("inner", read_id());
        co_return std::tuple{inside, after_unset, nested, seen_id()};
      }(),
      workers(1));
  EXPECT_EQ(inside, 42);
  EXPECT_TRUE(after_unset);
  EXPECT_EQ(nested, "inner");
  EXPECT_EQ(after_set, "outer");
}

weft::Task<> throw_after_a_yield() {
  co_await weft::yield_now();
  throw std::runtime_error("handler failed");
}

TEST(TaskLocal, ScopeRestoresTheValueWhenTheTaskThrows) {
  std::string after = weft::run(
      []() -> weft::Task<std::string> {
        request_id.set("outer");
        try {
          co_await request_id.scope("inner", throw_after_a_yield());
          ADD_FAILURE() << "the scope's task did not throw";
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "handler failed");
        }
        co_return seen_id();
      }(),
      workers(1));
  EXPECT_EQ(after, "outer");
}

weft::Task<> wait_forever(weft::Event& entered, weft::Event& never) {
  entered.set();
  co_await never.wait();
}

weft::Task<std::string> cancelled_inside_a_scope(weft::Event& entered, weft::Event& never) {
  request_id.set("outer");
  try {
    co_await request_id.scope("inner", wait_forever(entered, never));
  } catch (const weft::CancelledError&) {
    co_return seen_id();
  }
  co_return "the scope was not cancelled";
}

TEST(TaskLocal, ScopeRestoresTheValueWhenTheTaskIsCancelled) {
  std::string after = weft::run(
      []() -> weft::Task<std::string> {
        weft::Event entered, never;
        auto h = weft::spawn(cancelled_inside_a_scope(entered, never));
        co_await entered.wait();
        h.cancel();
        co_return co_await h;
      }(),
      workers(2));
  EXPECT_EQ(after, "outer");
}

// ---- inheritance by spawned tasks --------------------------------------------------------

weft::Task<std::string> set_then_read(std::string id) {
  request_id.set(std::move(id));
  co_await weft::yield_now();
  co_return seen_id();
}

TEST(TaskLocal, ASpawnedTaskStartsFromASnapshotOfItsSpawnersValues) {
  auto [child, parent] = weft::run(
      []() -> weft::Task<std::tuple<std::string, std::string>> {
        request_id.set("at spawn");
        auto h = weft::spawn(read_id());
        request_id.set("after spawn");  // before the child runs: it keeps its snapshot
        std::string child = co_await h;
        co_return std::tuple{child, seen_id()};
      }(),
      workers(1));
  EXPECT_EQ(child, "at spawn");
  EXPECT_EQ(parent, "after spawn");
}

TEST(TaskLocal, AChildsSetDoesNotReachItsParentNorItsSiblings) {
  auto [child, sibling, parent] = weft::run(
      []() -> weft::Task<std::tuple<std::string, std::string, std::string>> {
        request_id.set("parent");
        auto a = weft::spawn(set_then_read("child"));
        auto b = weft::spawn([]() -> weft::Task<std::string> {
          co_await weft::yield_now();
          co_await weft::yield_now();
          co_return seen_id();
        }());
        std::string child = co_await a;
        std::string sibling = co_await b;
        co_return std::tuple{child, sibling, seen_id()};
      }(),
      workers(2));
  EXPECT_EQ(child, "child");
  EXPECT_EQ(sibling, "parent");
  EXPECT_EQ(parent, "parent");
}

TEST(TaskLocal, ATaskSpawnedBeforeAnySetSeesNothing) {
  std::string child = weft::run(
      []() -> weft::Task<std::string> {
        auto h = weft::spawn(read_id());
        request_id.set("too late");
        co_return co_await h;
      }(),
      workers(1));
  EXPECT_EQ(child, "<unset>");
}

TEST(TaskLocal, TaskGroupAndGatherChildrenInheritTheSpawnersValues) {
  auto [group_child, gathered] = weft::run(
      []() -> weft::Task<std::tuple<std::string, std::vector<std::string>>> {
        request_id.set("req-1");
        std::string group_child;
        co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<> {
          auto h = tg.spawn(read_id());
          group_child = co_await h;
        });
        std::vector<weft::Task<std::string>> children;
        for (int i = 0; i < 3; ++i) children.push_back(read_id());
        co_return std::tuple{group_child, co_await weft::gather(std::move(children))};
      }(),
      workers(2));
  EXPECT_EQ(group_child, "req-1");
  EXPECT_EQ(gathered, (std::vector<std::string>{"req-1", "req-1", "req-1"}));
}

TEST(TaskLocal, ATaskSpawnedFromAPlainThreadHasNoValues) {
  weft::Runtime rt(workers(1));
  EXPECT_EQ(rt.block_on(read_id()), "<unset>");
}

// ---- values stay with their task ------------------------------------------------------------

weft::Task<int> check_own_id_while_yielding(std::string id, int yields,
                                            std::atomic<int>& migrations) {
  request_id.set(id);
  int wrong = 0;
  std::thread::id last = std::this_thread::get_id();
  for (int i = 0; i < yields; ++i) {
    co_await weft::yield_now();
    if (std::this_thread::get_id() != last) {
      migrations.fetch_add(1, std::memory_order_relaxed);
      last = std::this_thread::get_id();
    }
    if (request_id.get() != id) ++wrong;
    if (co_await read_id() != id) ++wrong;  // and the Tasks it awaits
  }
  co_return wrong;
}

TEST(TaskLocal, EachTaskKeepsItsOwnValueAcrossSuspensionsOnTwoWorkers) {
  constexpr int kTasks = 200;
  constexpr int kYields = 50;
  std::atomic<int> migrations{0};
  int wrong = weft::run(
      [&]() -> weft::Task<int> {
        std::vector<weft::JoinHandle<int>> hs;
        for (int i = 0; i < kTasks; ++i) {
          hs.push_back(weft::spawn(
              check_own_id_while_yielding("task-" + std::to_string(i), kYields, migrations)));
        }
        int wrong = 0;
        for (auto& h : hs) wrong += co_await h;
        co_return wrong;
      }(),
      workers(2));
  EXPECT_EQ(wrong, 0);
  // Whether tasks moved between the workers depends on timing; when they did, their values
  // went with them (this count is for the reader of a failure, not an assertion).
  RecordProperty("migrations", migrations.load());
}

TEST(TaskLocal, AValueSetByOneTaskIsNotSeenByTheNextTaskOnTheSameWorker) {
  auto [before, after] = weft::run(
      []() -> weft::Task<std::tuple<std::string, std::string>> {
        // One worker: the two children run one after the other, interleaved at the yield.
        auto a = weft::spawn(set_then_read("a"));
        auto b = weft::spawn([]() -> weft::Task<std::tuple<std::string, std::string>> {
          std::string before = seen_id();
          co_await weft::yield_now();
          co_return std::tuple{before, seen_id()};
        }());
        EXPECT_EQ(co_await a, "a");
        co_return co_await b;
      }(),
      workers(1));
  EXPECT_EQ(before, "<unset>");
  EXPECT_EQ(after, "<unset>");
}

// A request handler: sets its id, then hands a token back and forth with the other handler
// through two queues, so the two run interleaved on both workers, and checks its id (and its
// helper tasks' ids) after every hop.
weft::Task<int> handler(std::string id, weft::Queue<int>& in, weft::Queue<int>& out, int hops) {
  request_id.set(id);
  int wrong = 0;
  for (int i = 0; i < hops; ++i) {
    co_await out.put(i);
    (void)co_await in.get();
    if (request_id.get() != id) ++wrong;
    if (co_await weft::spawn(read_id()) != id) ++wrong;
  }
  co_return wrong;
}

TEST(TaskLocal, TwoConcurrentRequestHandlersNeverSeeEachOthersIds) {
  constexpr int kHops = 500;
  int wrong = weft::run(
      []() -> weft::Task<int> {
        weft::Queue<int> to_a(1), to_b(1);
        auto a = weft::spawn(handler("request-a", to_a, to_b, kHops));
        auto b = weft::spawn(handler("request-b", to_b, to_a, kHops));
        int wrong = co_await a;
        wrong += co_await b;
        co_return wrong + (request_id.try_get() ? 1 : 0);
      }(),
      workers(2));
  EXPECT_EQ(wrong, 0);
}

// ---- blocking jobs ------------------------------------------------------------------------

TEST(TaskLocal, ToThreadAndOffloadSeeTheAwaitingTasksValues) {
  auto [blocking, cpu] = weft::run(
      []() -> weft::Task<std::tuple<std::string, std::string>> {
        request_id.set("req-9");
        std::string blocking = co_await weft::to_thread([] { return seen_id(); });
        std::string cpu = co_await weft::offload([] { return seen_id(); });
        co_return std::tuple{blocking, cpu};
      }(),
      workers(1));
  EXPECT_EQ(blocking, "req-9");
  EXPECT_EQ(cpu, "req-9");
}

weft::Task<std::string> read_id_on_the_pool() {
  co_return co_await weft::to_thread([] { return seen_id(); });
}

TEST(TaskLocal, ValuesSetInsideToThreadStayThereAndLeaveNothingOnThePoolThread) {
  weft::Runtime rt(workers(1));
  auto [inside, task_after] = rt.block_on([]() -> weft::Task<std::tuple<std::string, std::string>> {
    request_id.set("task");
    std::string inside = co_await weft::to_thread([] {
      request_id.set("job");
      return seen_id();
    });
    co_return std::tuple{inside, seen_id()};
  }());
  EXPECT_EQ(inside, "job");
  EXPECT_EQ(task_after, "task");
  // A task with no values, whose job runs on the pool thread that ran the one above (idle
  // threads are kept): the job sees nothing.
  EXPECT_EQ(rt.block_on(read_id_on_the_pool()), "<unset>");
}

TEST(TaskLocal, RuntimeSpawnFromAToThreadJobInheritsTheJobsValues) {
  weft::Runtime rt(workers(1));
  std::string seen = rt.block_on([](weft::Runtime& rt) -> weft::Task<std::string> {
    request_id.set("req-3");
    weft::JoinHandle<std::string> h =
        co_await weft::to_thread([&rt] { return rt.spawn(read_id()); });
    co_return co_await h;
  }(rt));
  EXPECT_EQ(seen, "req-3");
}

// ---- lifetime ----------------------------------------------------------------------------

/// Counts its live copies, so a test sees when the runtime lets go of a value.
struct Counted {
  explicit Counted(std::shared_ptr<std::atomic<int>> live) : live(std::move(live)) {
    ++*this->live;
  }
  Counted(const Counted& o) : live(o.live) { ++*live; }
  Counted(Counted&& o) noexcept : live(o.live) { ++*live; }
  Counted& operator=(const Counted&) = delete;
  ~Counted() { --*live; }
  std::shared_ptr<std::atomic<int>> live;
};

const weft::TaskLocal<Counted> counted{"counted"};

weft::Task<> hold_a_counted(std::shared_ptr<std::atomic<int>> live) {
  counted.set(Counted(std::move(live)));
  co_await weft::yield_now();
}

TEST(TaskLocal, ATasksValuesAreFreedWhenItEndsNotWhenItsHandleGoes) {
  auto live = std::make_shared<std::atomic<int>>(0);
  int while_handle_kept = weft::run(
      [](std::shared_ptr<std::atomic<int>> live) -> weft::Task<int> {
        auto h = weft::spawn(hold_a_counted(live));
        while (!h.done()) co_await weft::yield_now();
        co_return live->load();
      }(live),
      workers(1));
  EXPECT_EQ(while_handle_kept, 0);
  EXPECT_EQ(live->load(), 0);
}

TEST(TaskLocal, AValueSharedWithChildrenLivesUntilTheLastOfThemEnds) {
  auto live = std::make_shared<std::atomic<int>>(0);
  auto [with_children, after_reset] = weft::run(
      [](std::shared_ptr<std::atomic<int>> live) -> weft::Task<std::tuple<int, int>> {
        weft::Event go;
        auto token = counted.set(Counted(live));
        auto child = weft::spawn([](weft::Event& go) -> weft::Task<> {
          co_await go.wait();
          (void)counted.get();
        }(go));
        counted.reset(token);
        int with_children = live->load();  // the child's snapshot still holds it
        go.set();
        co_await child;
        co_return std::tuple{with_children, live->load()};
      }(live),
      workers(2));
  EXPECT_EQ(with_children, 1);
  EXPECT_EQ(after_reset, 0);
}

}  // namespace
