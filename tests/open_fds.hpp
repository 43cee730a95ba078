// The number of open file descriptors of this process, for tests that check an operation
// leaves none behind (compare a count before and after).
#pragma once

#include <dirent.h>

namespace weft_test {

/// The descriptors in /proc/self/fd, without the directory stream's own; -1 if it cannot
/// be read.
inline int open_fds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace weft_test
