// The soak program's ledgers and failure list (world.hpp).
#include "world.hpp"

#include <time.h>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace soak {

const char* origin_name(Origin o) noexcept {
  switch (o) {
    case Origin::kDetached:
      return "detached task";
    case Origin::kChild:
      return "joined child";
    case Origin::kGather:
      return "gather child";
    case Origin::kSettled:
      return "gather_settled child";
    case Origin::kWait:
      return "wait child";
    case Origin::kAsCompleted:
      return "as_completed child";
    case Origin::kGroup:
      return "task group";
  }
  return "?";
}

void Failures::add(std::string what) {
  count_.fetch_add(1);
  std::lock_guard lk(mu_);
  for (auto& [message, times] : kept_) {
    if (message == what) {
      ++times;
      return;
    }
  }
  if (kept_.size() < 5) std::fprintf(stderr, "soak: failure: %s\n", what.c_str());
  if (kept_.size() < kKept) kept_.emplace_back(std::move(what), 1);
}

std::vector<std::string> Failures::kept() const {
  std::lock_guard lk(mu_);
  std::vector<std::string> out;
  for (const auto& [message, times] : kept_) {
    out.push_back(times > 1 ? message + " (" + std::to_string(times) + " times)" : message);
  }
  return out;
}

std::uint64_t TaskLedger::outstanding() const noexcept {
  return spawned.load() - completed.load() - cancelled.load() - never_started.load() -
         failed_expected.load() - failed_unexpected.load();
}

void Token::resolve(std::atomic<std::uint64_t> TaskLedger::*which) noexcept {
  if (!l_) {
    fail("a task's body resolved its ledger entry twice (it ran twice?)");
    return;
  }
  (l_->*which).fetch_add(1);
  l_ = nullptr;
}

ItemLedger::ItemLedger() = default;

ItemLedger::~ItemLedger() {
  for (auto& c : chunks_) delete[] c.load();
}

std::uint64_t ItemLedger::allocate(std::uint64_t n) {
  return next_.fetch_add(n);
}

std::atomic<std::uint8_t>& ItemLedger::state(std::uint64_t id) {
  const std::uint64_t c = id >> kChunkBits;
  if (c >= kChunks) {
    std::fputs("soak: FAILED: the item ledger is full (more than 2^32 queue items)\n", stderr);
    std::_Exit(1);
  }
  // Acquire: pairs with the release below, so the zeroed chunk is seen.
  std::atomic<std::uint8_t>* p = chunks_[c].load(std::memory_order_acquire);
  if (!p) {
    std::lock_guard lk(grow_mu_);
    p = chunks_[c].load(std::memory_order_relaxed);
    if (!p) {
      p = new std::atomic<std::uint8_t>[std::size_t{1} << kChunkBits]();
      chunks_[c].store(p, std::memory_order_release);
    }
  }
  return p[id & ((std::uint64_t{1} << kChunkBits) - 1)];
}

void ItemLedger::putting(std::uint64_t id) noexcept {
  std::uint8_t prev = state(id).exchange(kInFlight);
  if (prev != kFree) {
    fail("queue item " + std::to_string(id) + ": put again while in state " + std::to_string(prev));
  }
}

void ItemLedger::put_done(std::uint64_t id) noexcept {
  std::uint8_t s = kInFlight;
  if (!state(id).compare_exchange_strong(s, kPut) && s != kGot) {
    fail("queue item " + std::to_string(id) + ": put returned in state " + std::to_string(s));
  }
  put_count.fetch_add(1);
  put_sum.fetch_add(mix(id));
}

void ItemLedger::put_failed(std::uint64_t id, const char* why, const char* where) {
  std::uint8_t s = kInFlight;
  if (state(id).compare_exchange_strong(s, kFree)) return;
  fail(std::string(where) + ": queue item " + std::to_string(id) +
       " was received although its put raised " + why);
}

void ItemLedger::received(std::uint64_t id, const char* where) {
  std::uint8_t prev = state(id).exchange(kGot);
  if (prev == kGot) {
    fail(std::string(where) + ": queue item " + std::to_string(id) + " was received twice");
  } else if (prev == kFree) {
    fail(std::string(where) + ": queue item " + std::to_string(id) +
         " was received but never put (or its put raised)");
  }
  got_count.fetch_add(1);
  got_sum.fetch_add(mix(id));
}

std::size_t ItemLedger::check_settled(std::uint64_t lo, std::uint64_t hi, const char* where) {
  std::size_t bad = 0;
  std::string ids;
  for (std::uint64_t id = lo; id < hi; ++id) {
    std::uint8_t s = state(id).load();
    if (s == kFree || s == kGot) continue;
    if (++bad <= 8) ids += " " + std::to_string(id) + (s == kPut ? "(put)" : "(put unfinished)");
  }
  if (bad) {
    fail(std::string(where) + ": " + std::to_string(bad) +
         " queue item(s) put and never received nor left in the queue:" + ids);
  }
  return bad;
}

World& world() {
  static World w;
  return w;
}

std::int64_t steady_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void fail(std::string what) {
  world().failures.add(std::move(what));
}

std::string describe_current() {
  try {
    throw;
  } catch (const weft::CancelledError& e) {
    return std::string("CancelledError: ") + e.what();
  } catch (const weft::TimeoutError& e) {
    return std::string("TimeoutError: ") + e.what();
  } catch (const SoakError& e) {
    return std::string("SoakError from ") + origin_name(e.origin());
  } catch (const weft::ExceptionGroup& e) {
    std::string s = "ExceptionGroup of " + std::to_string(e.exceptions().size()) + ":";
    for (const auto& x : e.exceptions()) s += " [" + weft::detail::describe(x) + "]";
    return s;
  } catch (const weft::UsageError& e) {
    return std::string("UsageError: ") + e.what();
  } catch (const weft::QueueShutDown& e) {
    return std::string("QueueShutDown: ") + e.what();
  } catch (const weft::QueueFull& e) {
    return std::string("QueueFull: ") + e.what();
  } catch (const weft::QueueEmpty& e) {
    return std::string("QueueEmpty: ") + e.what();
  } catch (const weft::ChannelClosed& e) {
    return std::string("ChannelClosed: ") + e.what();
  } catch (const weft::Lagged& e) {
    return std::string("Lagged: ") + e.what();
  } catch (const std::system_error& e) {
    return std::string("std::system_error: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("std::exception: ") + e.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

bool only_deliberate(const weft::ExceptionGroup& g) noexcept {
  for (const std::exception_ptr& e : g.exceptions()) {
    try {
      std::rethrow_exception(e);
    } catch (const SoakError&) {
    } catch (...) {
      return false;
    }
  }
  return true;
}

void throw_deliberate(Origin o) {
  world().thrown[static_cast<unsigned>(o)].fetch_add(1);
  throw SoakError(o);
}

void observe_current(const char* where) {
  try {
    throw;
  } catch (const SoakError& e) {
    world().observed[static_cast<unsigned>(e.origin())].fetch_add(1);
  } catch (...) {
    fail(std::string(where) + ": expected a SoakError, got " + describe_current());
  }
}

weft::Task<void> nap(weft::Duration d) {
  co_await weft::sleep(d);
}

weft::Task<Outcome> settle(weft::JoinHandle<std::uint64_t>& h, const char* where) {
  try {
    std::uint64_t v = co_await h;
    co_return Outcome{Ended::kValue, v};
  } catch (const SoakError& e) {
    world().observed[static_cast<unsigned>(e.origin())].fetch_add(1);
    co_return Outcome{Ended::kDeliberate, 0};
  } catch (const weft::CancelledError&) {
    co_return Outcome{Ended::kCancelled, 0};
  } catch (...) {
    fail(std::string(where) + ": awaiting a task raised " + describe_current());
  }
  co_return Outcome{Ended::kOther, 0};
}

weft::Task<Ended> settle(weft::JoinHandle<void>& h, const char* where) {
  try {
    co_await h;
    co_return Ended::kValue;
  } catch (const SoakError& e) {
    world().observed[static_cast<unsigned>(e.origin())].fetch_add(1);
    co_return Ended::kDeliberate;
  } catch (const weft::CancelledError&) {
    co_return Ended::kCancelled;
  } catch (...) {
    fail(std::string(where) + ": awaiting a task raised " + describe_current());
  }
  co_return Ended::kOther;
}

}  // namespace soak
