// The profiler tests' target: an in-process TCP echo server whose capacity is known. Every
// request takes one of 8 semaphore permits for a 1 ms service time, so it serves at most
// 8,000 requests per second, and on the virtual clock exactly so.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>

#include <weft/weft.hpp>

namespace weft_test::profile {

inline constexpr std::size_t kPayload = 16;
inline constexpr std::ptrdiff_t kPermits = 8;
inline constexpr auto kServiceTime = std::chrono::milliseconds(1);

inline weft::RuntimeOptions virtual_clock() {
  return {.workers = 2, .clock = weft::ClockKind::Virtual};
}

// Echoes fixed-size requests, each after holding a permit for the service time.
inline weft::Task<void> limited_echo(weft::net::BufferedStream s, weft::Semaphore& permits) {
  while (true) {
    std::string request;
    try {
      request = co_await s.read_exact(kPayload);
    } catch (const weft::net::IncompleteRead&) {
      co_return;  // the client closed its session
    }
    {
      weft::SemaphoreGuard permit = co_await permits.acquire();
      co_await weft::sleep(kServiceTime);
    }
    co_await s.write(request);
    co_await s.flush();
  }
}

}  // namespace weft_test::profile
