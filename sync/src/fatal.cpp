// fatal_destroyed_with_waiters (detail/fatal.hpp).
#include "weft/sync/detail/fatal.hpp"

#include <cstdio>
#include <cstdlib>

namespace weft::detail {

void fatal_destroyed_with_waiters(const char* what, std::size_t n, const char* doing) noexcept {
  std::fprintf(stderr,
               "weft: %s destroyed while %zu waiter(s) still wait %s; they could never resume. "
               "Destroy a primitive only after every wait on it has finished.\n",
               what, n, doing);
  std::fflush(stderr);
  std::abort();
}

}  // namespace weft::detail
