// Exception types and helpers (errors.hpp).
#include "weft/runtime/errors.hpp"

namespace weft {

namespace {
std::string group_message(const std::vector<std::exception_ptr>& errors) {
  std::string m = "weft::TaskGroup: " + std::to_string(errors.size()) + " task(s) failed";
  for (const auto& e : errors) m += "; " + detail::describe(e);
  return m;
}
}  // namespace

ExceptionGroup::ExceptionGroup(std::vector<std::exception_ptr> errors)
    : std::runtime_error(group_message(errors)), errors_(std::move(errors)) {}

namespace detail {

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

bool is_cancelled_error(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace detail
}  // namespace weft
