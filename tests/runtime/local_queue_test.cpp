// detail::LocalQueue, a worker's bounded run queue: FIFO for its owner, half of it to the
// overflow callback when full, half of it to a stealer, and every task handed out exactly
// once while the owner pushes and pops and two other threads steal.
//
// The queue never dereferences its TaskHeader pointers; the tests use the addresses of an
// array of headers as task identities.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "scheduler/local_queue.hpp"
#include "stress_scale.hpp"

namespace {

using weft::detail::LocalQueue;
using weft::detail::TaskHeader;

class LocalQueueTest : public testing::Test {
 protected:
  explicit LocalQueueTest(std::size_t n = 4096) : n_(n), tasks_(new TaskHeader[n]) {}

  TaskHeader* task(std::size_t i) { return &tasks_[i]; }
  std::size_t index(TaskHeader* t) { return static_cast<std::size_t>(t - tasks_.get()); }

  /// Pushes on `q`, collecting overflowed tasks in `overflowed_`.
  void push(LocalQueue& q, std::size_t i) {
    q.push_back(task(i), [this](TaskHeader** ts, std::size_t n) {
      ++overflows_;
      for (std::size_t k = 0; k < n; ++k) overflowed_.push_back(index(ts[k]));
    });
  }

  std::vector<std::size_t> drain(LocalQueue& q) {
    std::vector<std::size_t> out;
    while (TaskHeader* t = q.pop()) out.push_back(index(t));
    return out;
  }

  static std::vector<std::size_t> range(std::size_t from, std::size_t to) {
    std::vector<std::size_t> v;
    for (std::size_t i = from; i < to; ++i) v.push_back(i);
    return v;
  }

  std::size_t n_;
  std::unique_ptr<TaskHeader[]> tasks_;
  std::vector<std::size_t> overflowed_;
  int overflows_ = 0;
};

TEST_F(LocalQueueTest, NewQueueIsEmpty) {
  LocalQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST_F(LocalQueueTest, PopReturnsTasksInPushOrder) {
  LocalQueue q;
  for (std::size_t i = 0; i < 10; ++i) push(q, i);
  EXPECT_EQ(q.size(), 10u);
  EXPECT_EQ(drain(q), range(0, 10));
  EXPECT_TRUE(q.empty());
}

TEST_F(LocalQueueTest, StaysFifoAcrossTheRingsWrapAround) {
  LocalQueue q;
  std::size_t next_push = 0, next_pop = 0;
  for (int round = 0; round < 20; ++round) {
    for (int k = 0; k < 200; ++k) push(q, next_push++ % n_);
    for (int k = 0; k < 200; ++k) {
      TaskHeader* t = q.pop();
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(index(t), next_pop++ % n_);
    }
  }
  EXPECT_EQ(overflows_, 0);
}

TEST_F(LocalQueueTest, FullQueueHoldsItsCapacity) {
  LocalQueue q;
  for (std::size_t i = 0; i < LocalQueue::kCapacity; ++i) push(q, i);
  EXPECT_EQ(q.size(), LocalQueue::kCapacity);
  EXPECT_EQ(overflows_, 0);
}

TEST_F(LocalQueueTest, OverflowMovesTheOldestHalfAndTheNewTaskToTheCallback) {
  LocalQueue q;
  for (std::size_t i = 0; i <= LocalQueue::kCapacity; ++i) push(q, i);
  EXPECT_EQ(overflows_, 1);
  std::vector<std::size_t> expected = range(0, LocalQueue::kCapacity / 2);
  expected.push_back(LocalQueue::kCapacity);
  EXPECT_EQ(overflowed_, expected);
  EXPECT_EQ(q.size(), LocalQueue::kCapacity / 2);
  EXPECT_EQ(drain(q), range(LocalQueue::kCapacity / 2, LocalQueue::kCapacity));
}

TEST_F(LocalQueueTest, EveryTaskComesOutOnceThroughPopOrOverflow) {
  LocalQueue q;
  std::vector<int> seen(n_, 0);
  for (std::size_t i = 0; i < n_; ++i) {
    push(q, i);
    if (i % 3 == 0) {
      if (TaskHeader* t = q.pop()) ++seen[index(t)];
    }
  }
  for (std::size_t i : drain(q)) ++seen[i];
  for (std::size_t i : overflowed_) ++seen[i];
  for (std::size_t i = 0; i < n_; ++i) EXPECT_EQ(seen[i], 1) << "task " << i;
  EXPECT_GT(overflows_, 0);
}

TEST_F(LocalQueueTest, StealTakesTheOldestHalfAndReturnsOneOfThem) {
  LocalQueue src, dst;
  for (std::size_t i = 0; i < 10; ++i) push(src, i);
  TaskHeader* t = src.steal_into(dst);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(index(t), 4u);  // the last stolen task is returned, the rest are queued in dst
  EXPECT_EQ(drain(dst), range(0, 4));
  EXPECT_EQ(drain(src), range(5, 10));
}

TEST_F(LocalQueueTest, StealFromAnOddCountTakesTheLargerHalf) {
  LocalQueue src, dst;
  for (std::size_t i = 0; i < 5; ++i) push(src, i);
  TaskHeader* t = src.steal_into(dst);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(index(t), 2u);
  EXPECT_EQ(drain(dst), range(0, 2));
  EXPECT_EQ(drain(src), range(3, 5));
}

TEST_F(LocalQueueTest, StealOfASingleTaskTakesIt) {
  LocalQueue src, dst;
  push(src, 7);
  TaskHeader* t = src.steal_into(dst);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(index(t), 7u);
  EXPECT_TRUE(dst.empty());
  EXPECT_TRUE(src.empty());
}

TEST_F(LocalQueueTest, StealFromAnEmptyQueueGetsNothing) {
  LocalQueue src, dst;
  EXPECT_EQ(src.steal_into(dst), nullptr);
  EXPECT_TRUE(dst.empty());
}

TEST_F(LocalQueueTest, StealOfAFullQueueTakesHalf) {
  LocalQueue src, dst;
  for (std::size_t i = 0; i < LocalQueue::kCapacity; ++i) push(src, i);
  TaskHeader* t = src.steal_into(dst);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(dst.size() + 1, LocalQueue::kCapacity / 2);
  EXPECT_EQ(src.size(), LocalQueue::kCapacity / 2);
  // After a steal the owner has room again: pushes do not overflow.
  for (std::size_t i = 0; i < LocalQueue::kCapacity / 2; ++i) push(src, LocalQueue::kCapacity + i);
  EXPECT_EQ(overflows_, 0);
}

TEST_F(LocalQueueTest, StealIntoAQueueWithoutRoomGetsNothing) {
  LocalQueue src, dst;
  for (std::size_t i = 0; i < 10; ++i) push(src, i);
  for (std::size_t i = 0; i < LocalQueue::kCapacity / 2 + 1; ++i) push(dst, 100 + i);
  EXPECT_EQ(src.steal_into(dst), nullptr);
  EXPECT_EQ(src.size(), 10u);
}

class LocalQueueStress : public LocalQueueTest {
 protected:
  LocalQueueStress() : LocalQueueTest(weft::test::scaled(200'000, 10'000)) {}
};

// The owner pushes every task once and pops some; two stealers steal into their own queues
// and pop those. Each task must be seen exactly once, whether popped by the owner, moved to
// the overflow callback, or stolen.
TEST_F(LocalQueueStress, OwnerPushingAndPoppingWhileTwoThreadsStealSeesEveryTaskOnce) {
  LocalQueue victim;
  std::vector<std::atomic<int>> seen(n_);
  std::atomic<bool> owner_done{false};
  std::atomic<std::size_t> stolen{0};
  std::barrier start(3);

  auto stealer = [&] {
    LocalQueue mine;
    start.arrive_and_wait();
    for (;;) {
      bool done = owner_done.load();
      if (TaskHeader* t = victim.steal_into(mine)) {
        seen[index(t)].fetch_add(1);
        stolen.fetch_add(1);
        while (TaskHeader* u = mine.pop()) {
          seen[index(u)].fetch_add(1);
          stolen.fetch_add(1);
        }
      } else if (done) {
        break;  // the owner finished and drained; nothing left to steal
      }
    }
  };
  std::thread s1(stealer), s2(stealer);

  start.arrive_and_wait();
  std::vector<std::size_t> overflowed;
  std::size_t popped = 0;
  for (std::size_t i = 0; i < n_; ++i) {
    victim.push_back(task(i), [&](TaskHeader** ts, std::size_t n) {
      for (std::size_t k = 0; k < n; ++k) overflowed.push_back(index(ts[k]));
    });
    if (i % 4 == 0) {
      if (TaskHeader* t = victim.pop()) {
        seen[index(t)].fetch_add(1);
        ++popped;
      }
    }
  }
  while (TaskHeader* t = victim.pop()) {
    seen[index(t)].fetch_add(1);
    ++popped;
  }
  owner_done.store(true);
  s1.join();
  s2.join();
  for (std::size_t i : overflowed) seen[i].fetch_add(1);

  EXPECT_TRUE(victim.empty());
  EXPECT_EQ(popped + stolen.load() + overflowed.size(), n_);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < n_; ++i) {
    if (seen[i].load() != 1) {
      if (++wrong <= 10) ADD_FAILURE() << "task " << i << " seen " << seen[i].load() << " times";
    }
  }
  EXPECT_EQ(wrong, 0u);
}

}  // namespace
