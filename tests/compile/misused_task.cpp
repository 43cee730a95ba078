// Compiled, never run, by the "compile" tests (CMakeLists.txt here). As written it must
// compile with -Werror. Each MISUSE_* macro makes one mistake of the kind users make; that
// compile must fail with an error that names the weft type or function involved, and no
// weft::detail one: the compiler's output is where users read these names.
#include <chrono>

#include "weft/weft.hpp"

using namespace std::chrono_literals;

weft::Task<int> answer() {
  co_return 42;
}

weft::Task<void> returns_nothing() {
#ifdef MISUSE_CO_RETURN_VALUE_IN_TASK_VOID
  co_return 1;
#else
  co_return;
#endif
}

weft::Task<int> returns_int() {
#ifdef MISUSE_CO_RETURN_NOTHING_IN_TASK_INT
  co_return;
#elif defined(MISUSE_CO_RETURN_WRONG_TYPE)
  co_return "42";
#else
  co_return co_await answer();
#endif
}

weft::Task<void> scopes(weft::CancellationToken& token) {
#ifdef MISUSE_WAIT_FOR_WITHOUT_DURATION
  (void)co_await weft::wait_for(answer(), "1s");
#else
  (void)co_await weft::wait_for(answer(), 1s);
#endif
#ifdef MISUSE_RUN_UNTIL_CANCELLED_WITH_A_DEADLINE
  (void)co_await token.run_until_cancelled(answer(), 1s);
#else
  (void)co_await token.run_until_cancelled(answer());
#endif
}

weft::Task<int> spawns() {
#ifdef MISUSE_SPAWN_A_CALLABLE_THAT_RETURNS_NO_TASK
  auto h = weft::spawn([] { return 1; });
  co_return 1;
#else
  auto h = weft::spawn([]() -> weft::Task<int> { co_return 1; });
  co_return co_await h;
#endif
}

int main() {}
