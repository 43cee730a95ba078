// weft::process::detail::spawn_process: posix_spawn with weft's rules — PATH lookup in the
// child's environment, working directory and redirections opened by the parent, only fds 0-2
// in the child, an empty signal mask there — and a pidfd for the new process. Stateless:
// any thread may call it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "unique_fd.hpp"
#include "weft/io/process/child.hpp"

namespace weft::process::detail {

/// A started process: its pid, a pidfd (non-blocking, close-on-exec) and the parent's ends of
/// the streams that are pipes (empty for the others).
struct Spawned {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd in;   // the write end of the child's stdin
  UniqueFd out;  // the read end of its stdout
  UniqueFd err;  // the read end of its stderr
};

/// Starts `args` (not empty) with `options`. Throws std::system_error naming args[0] (and
/// the directory or file at fault), std::invalid_argument for a malformed environment
/// variable name. Every fd it made is closed when it throws.
Spawned spawn_process(const std::vector<std::string>& args, const Options& options);

}  // namespace weft::process::detail
