#include <gtest/gtest.h>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

weft::Task<int> answer() { co_return 42; }

weft::Task<int> add_one() { co_return co_await answer() + 1; }

TEST(Task, RunReturnsTheValueOfMain) { EXPECT_EQ(weft::run(add_one()), 43); }

}  // namespace
