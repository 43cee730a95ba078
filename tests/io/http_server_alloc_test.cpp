// http::Server's plaintext path allocates nothing per request once warm: the head is parsed
// in place, the response is serialized into the connection's reused buffer, and coroutine
// frames come from weft's pools (which sanitizer builds turn off: there the test only
// reports). Counted by replacing the global operator new for this
// binary, on the runtime's threads only (the test's client allocates as it likes).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include <weft/runtime/detail/sanitizer.hpp>

#include "http_test_util.hpp"

// The replacement pair is malloc/free, which GCC cannot see matched once inlined.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<std::size_t> g_worker_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  if (weft::in_runtime()) g_worker_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

using weft::Task;
using weft::http::Request;
using weft::http::Response;
using weft::test::RawClient;
using weft::test::TestServer;

TEST(HttpServerAllocations, AWarmKeepAliveHelloAllocatesNothingPerRequest) {
  if constexpr (weft::detail::kSanitized) {
    GTEST_SKIP() << "sanitizer builds allocate every coroutine frame (no frame pool)";
  }
  weft::http::Router r;
  r.get("/hello", [](Request&) -> Task<Response> { co_return Response::text("Hello, World!"); });
  TestServer s(std::move(r), {}, 1);
  RawClient c(s.port());
  const std::string req = "GET /hello HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n";
  auto round = [&](int n) {
    for (int i = 0; i < n; ++i) {
      c.send(req);
      ASSERT_EQ(weft::test::body_of(c.read_response()), "Hello, World!");
    }
  };
  round(200);  // warm: buffers grown, frame pools filled
  const std::size_t before = g_worker_allocations.load();
  round(1000);
  const std::size_t during = g_worker_allocations.load() - before;
  EXPECT_LT(during, 10u) << during << " allocations on the runtime's threads for 1000 requests";
}
