// consume_budget (budget.hpp). The budget itself is the worker's: scheduler.cpp refills it for
// each task it runs and spends it in budget_spend().
#include "weft/runtime/budget.hpp"

#include "weft/runtime/detail/context.hpp"

namespace weft {

bool BudgetAwaiter::await_ready() const noexcept {
  return detail::budget_spend();
}

void BudgetAwaiter::await_suspend(std::coroutine_handle<> h) const noexcept {
  detail::TaskHeader* t = detail::current_task();
  t->set_resume_point(h);
  detail::schedule_yield(t);
}

}  // namespace weft
