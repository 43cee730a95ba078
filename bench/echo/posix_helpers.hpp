// The plain-POSIX helpers that the reference echo server (epoll_echo_server.cpp) and the load
// generator (loadgen.cpp) share: fatal errors, command-line values, CPU pinning and the
// open-file limit.
//
// Both programs are the weft-free side of the echo benchmark, so nothing here may include a
// weft header or link a weft library; only libc, the C++ standard library and pthreads.
// Every function may be called from any thread.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace echo {

/// Prints "PROGRAM: WHAT" on stderr and ends the process with status 1, from any thread.
[[noreturn]] inline void die(std::string_view program, std::string_view what) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
               static_cast<int>(what.size()), what.data());
  std::_Exit(1);
}

/// As die(), with ": " and strerror(err) appended.
[[noreturn]] inline void die_errno(std::string_view program, std::string_view what, int err) {
  die(program, std::string(what) + ": " + std::strerror(err));
}

/// Parses a whole decimal unsigned number; false if `text` is empty, not a number or too big.
inline bool parse_u64(std::string_view text, std::uint64_t& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc{} && ptr == end;
}

/// Parses "0,2,5" into {0, 2, 5}; false on an empty list or an entry that is not a number.
inline bool parse_cpu_list(std::string_view text, std::vector<int>& out) {
  out.clear();
  while (true) {
    const std::size_t comma = text.find(',');
    std::uint64_t cpu = 0;
    if (!parse_u64(text.substr(0, comma), cpu) || cpu >= CPU_SETSIZE) return false;
    out.push_back(static_cast<int>(cpu));
    if (comma == std::string_view::npos) return true;
    text.remove_prefix(comma + 1);
  }
}

/// Pins the calling thread to `cpu`; returns 0 or the error number.
inline int pin_current_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/// Raises the soft RLIMIT_NOFILE to the hard limit, so a thousand sockets fit; best effort.
inline void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace echo
