// The profiler tests' target: an in-process TCP echo server whose capacity is known. Every
// request takes one of 8 semaphore permits for a 1 ms service time, so it serves at most
// 8,000 requests per second, and on the virtual clock exactly so.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>

#include <weft/weft.hpp>

#include "weft/profile/tcp_echo_target.hpp"

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

// Runs `body(target)` (a Task) against the limited server, then shuts the server down.
template <class Body>
auto against_limited_server(Body body)
    -> decltype(body(std::declval<weft::profile::TcpEchoTarget&>())) {
  weft::Semaphore permits(kPermits);
  weft::net::Server server = co_await weft::net::start_server(
      [&permits](weft::net::BufferedStream s) { return limited_echo(std::move(s), permits); },
      "127.0.0.1", 0);
  weft::JoinHandle<void> serving = weft::spawn(server.serve_forever());
  weft::profile::TcpEchoTarget target("127.0.0.1", server.local_address().port(), kPayload);
  auto result = co_await body(target);
  co_await server.shutdown(std::chrono::seconds(1));
  co_await serving;
  co_return result;
}

}  // namespace weft_test::profile
