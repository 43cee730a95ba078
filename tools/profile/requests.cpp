// try_request, try_reconnect, connect_all; see requests.hpp.
#include "weft/profile/requests.hpp"

#include <chrono>
#include <exception>
#include <utility>

#include <weft/runtime/cancel.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/runtime/gather.hpp>

namespace weft::profile {
namespace {
// The pause after a failed reconnect: long enough not to spin on a dead target.
constexpr auto kReconnectPause = std::chrono::milliseconds(10);
}  // namespace

Task<bool> try_request(std::unique_ptr<Session>& session) {
  try {
    co_await wait_for(session->request(), kRequestTimeout);
    co_return true;
  } catch (const CancelledError&) {
    throw;
  } catch (const std::exception&) {
    session.reset();
  }
  co_return false;
}

Task<bool> try_reconnect(Target& target, std::unique_ptr<Session>& session) {
  try {
    session = co_await target.connect();
    co_return true;
  } catch (const CancelledError&) {
    throw;
  } catch (const std::exception&) {
  }
  co_await sleep(kReconnectPause);
  co_return false;
}

Task<std::vector<std::unique_ptr<Session>>> connect_all(Target& target, int count) {
  std::vector<Task<std::unique_ptr<Session>>> connects;
  for (int i = 0; i < count; ++i) connects.push_back(target.connect());
  co_return co_await gather(std::move(connects));
}

std::uint64_t nanoseconds(Duration d) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return ns > 0 ? static_cast<std::uint64_t>(ns) : 0;
}

}  // namespace weft::profile
