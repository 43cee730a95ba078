// Which workers are parked, and how many are searching for work.
//
// `state_` packs the number of searching workers (low 16 bits) and of unparked workers
// (high 16 bits). Sleepers are a list under `mu_`. The rules (Tokio's idle.rs):
// - At most half the workers search at once (transition_to_searching refuses otherwise).
// - Whoever makes work available to other workers calls notify_parked(): it wakes one
//   sleeper, as a searcher, only if nobody is searching already. A searcher that finds work
//   and was the last searcher wakes one more, so a burst fans out one worker at a time.
// - A parking worker that was the last searcher re-checks every queue after it registered
//   as a sleeper, so work pushed in between is never left with everybody asleep.
// All state_ operations are sequentially consistent: the push-then-check of the waker and
// the register-then-check of the parker must not both miss each other.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace weft::detail {

class Idle {
 public:
  explicit Idle(unsigned workers) : workers_(workers), sleeping_(workers, false) {
    state_.store(pack(0, workers));
  }

  bool transition_to_searching() noexcept {
    std::uint32_t s = state_.load();
    if (2 * searching(s) >= workers_) return false;
    state_.fetch_add(1);
    return true;
  }

  /// True if this was the last searcher (the caller then notifies one more worker).
  bool transition_from_searching() noexcept { return searching(state_.fetch_sub(1)) == 1; }

  struct Parked {
    bool last_searcher;  ///< it was the last searching worker
    bool last_awake;     ///< every worker is parked now, and this one parked last
  };
  /// Registers worker `i` as a sleeper.
  Parked transition_to_parked(unsigned i, bool was_searching) {
    std::lock_guard lk(mu_);
    std::uint32_t dec = pack(was_searching ? 1 : 0, 1);
    std::uint32_t prev = state_.fetch_sub(dec);
    sleepers_.push_back(i);
    sleeping_[i] = true;
    return {was_searching && searching(prev) == 1, (prev >> 16) == 1};
  }

  /// Worker `i` woke up. True if it was woken by notify_parked (it is now a searcher);
  /// false if it woke by itself (timer, I/O) and was taken off the sleepers here.
  bool transition_from_parked(unsigned i) {
    std::lock_guard lk(mu_);
    if (!sleeping_[i]) return true;
    sleeping_[i] = false;
    sleepers_.erase(std::find(sleepers_.begin(), sleepers_.end(), i));
    state_.fetch_add(pack(0, 1));
    return false;
  }

  /// Picks a sleeper to wake (as a searcher) if nobody searches; -1 if none should wake.
  int notify_parked() {
    if (!should_notify()) return -1;
    std::lock_guard lk(mu_);
    if (!should_notify() || sleepers_.empty()) return -1;
    unsigned i = sleepers_.back();
    sleepers_.pop_back();
    sleeping_[i] = false;
    state_.fetch_add(pack(1, 1));
    return static_cast<int>(i);
  }

  /// Takes every sleeper off the list (shutdown); returns them.
  std::vector<unsigned> unpark_all() {
    std::lock_guard lk(mu_);
    std::vector<unsigned> all;
    all.swap(sleepers_);
    for (unsigned i : all) sleeping_[i] = false;
    state_.fetch_add(pack(0, static_cast<std::uint32_t>(all.size())));
    return all;
  }

  unsigned unparked() const noexcept { return state_.load() >> 16; }

 private:
  static std::uint32_t pack(std::uint32_t searching, std::uint32_t unparked) {
    return searching | (unparked << 16);
  }
  static std::uint32_t searching(std::uint32_t s) { return s & 0xffff; }
  bool should_notify() const noexcept {
    std::uint32_t s = state_.load();
    return searching(s) == 0 && (s >> 16) < workers_;
  }

  const unsigned workers_;
  std::atomic<std::uint32_t> state_;
  std::mutex mu_;
  std::vector<unsigned> sleepers_;
  std::vector<bool> sleeping_;
};

}  // namespace weft::detail
