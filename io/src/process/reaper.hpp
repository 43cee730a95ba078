// weft::process::detail::hand_to_reaper: the process-wide reaper thread that reaps children
// nobody waits for any more (destroyed or detached Children). See reaper.cpp.
#pragma once

#include <sys/types.h>

namespace weft::process::detail {

/// Takes over `pidfd` of the unreaped child `pid`: the reaper reaps it when it exits and
/// closes the fd. Never blocks, never throws; any thread.
void hand_to_reaper(int pidfd, pid_t pid) noexcept;

}  // namespace weft::process::detail
