// CoroutineTarget: the library API for profiling anything a coroutine can do — a query on a
// database pool, a call to a service, a function of the program itself. The request is a
// function returning a Task<void>; the profiler calls it from as many tasks at once as the
// step's concurrency (so it must be safe to call concurrently), counts it done when its task
// completes and failed when it throws:
//
//   weft::profile::CoroutineTarget target("pg SELECT 1", [&pool]() -> weft::Task<void> {
//     auto conn = co_await pool.acquire();
//     co_await conn->query("SELECT 1");
//   });
//   weft::profile::Profile p = co_await weft::profile::run_profile(target, {.concurrencies =
//                                                                   {1, 2, 4, 8, 16}});
//   std::fputs(weft::profile::markdown_report(p).c_str(), stdout);
//
// Link the CMake target weft::profile (find_package(weft COMPONENTS profile), or
// add_subdirectory of weft).
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "weft/profile/target.hpp"

namespace weft::profile {

class CoroutineTarget : public Target {
 public:
  using Request = std::function<Task<void>()>;

  /// `name` for the reports; `request` makes one request. Throws std::invalid_argument
  /// for an empty function.
  CoroutineTarget(std::string name, Request request)
      : name_(std::move(name)), request_(std::move(request)) {
    if (!request_) throw std::invalid_argument("CoroutineTarget: the request function is empty");
  }

  /// A session that calls the function; opening one does nothing else.
  Task<std::unique_ptr<Session>> connect() override {
    std::unique_ptr<Session> s = std::make_unique<FunctionSession>(request_);
    co_return s;
  }
  std::string describe() const override { return name_; }

 private:
  class FunctionSession : public Session {
   public:
    explicit FunctionSession(const Request& request) : request_(request) {}
    Task<void> request() override { return request_(); }

   private:
    const Request& request_;
  };

  std::string name_;
  Request request_;
};

}  // namespace weft::profile
