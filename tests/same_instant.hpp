// Trio's rule, shared by the join and gather tests: a parent cancelled while the child it
// awaits is finishing. The child cancels its parent and returns with no further await, so
// the cancellation the parent forwards never reaches it; the parent keeps the value and
// meets the cancellation at its next await, or never if it has none.
#pragma once

#include <string>
#include <vector>

#include <weft/weft.hpp>

namespace weft::test {

/// A parent that awaits a child which cancels the parent as it returns.
struct SameInstant {
  weft::Event parent_known;  // set once `parent` holds the parent's handle
  weft::JoinHandle<int> parent;
  std::vector<std::string> seen;  // the parent's, then (after joining it) the test's
};

/// A second after its start (its parent awaits it by then), cancels its parent and returns 5
/// with no further await: the cancellation the parent forwards here arrives as it finishes.
inline weft::Task<int> cancel_parent_then_return(SameInstant& s) {
  co_await s.parent_known.wait();
  co_await weft::sleep(std::chrono::seconds(1));
  s.parent.cancel();
  co_return 5;
}

/// The parent's next await, if `await_again`: records whether the cancellation arrived.
inline weft::Task<void> await_once_more(SameInstant& s, bool await_again) {
  if (!await_again) co_return;
  try {
    co_await weft::yield_now();
    s.seen.push_back("next await returned");
  } catch (const weft::CancelledError&) {
    s.seen.push_back("next await raised CancelledError");
    throw;
  }
}

/// Spawns `parent` (which awaits cancel_parent_then_return), hands its handle to the child,
/// and awaits it.
inline weft::Task<void> await_the_cancelled_parent(SameInstant& s, weft::Task<int> parent) {
  s.parent = weft::spawn(std::move(parent));
  s.parent_known.set();
  try {
    int v = co_await s.parent;
    s.seen.push_back("parent returned " + std::to_string(v));
  } catch (const weft::CancelledError&) {
    s.seen.push_back("parent raised CancelledError");
  }
}

}  // namespace weft::test
