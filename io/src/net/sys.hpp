// The socket data syscalls, made with syscall(2) instead of glibc's wrappers. Those are
// pthread cancellation points: in a process with threads, around each call they switch
// asynchronous cancellation on and off, two atomic read-modify-writes on the thread's cancel
// state, on every send and receive; weft never uses pthread cancellation, so that is work for
// nothing (bench/results/2026-12-06-io-constants.md has the counts). Same arguments, results
// and errno as recv(2) and friends.
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace weft::net::sys {

inline ssize_t recvfrom(int fd, void* buf, std::size_t len, int flags, sockaddr* from = nullptr,
                        socklen_t* from_len = nullptr) noexcept {
  return ::syscall(SYS_recvfrom, fd, buf, len, flags, from, from_len);
}
inline ssize_t sendto(int fd, const void* buf, std::size_t len, int flags,
                      const sockaddr* to = nullptr, socklen_t to_len = 0) noexcept {
  return ::syscall(SYS_sendto, fd, buf, len, flags, to, to_len);
}
inline ssize_t recvmsg(int fd, msghdr* msg, int flags) noexcept {
  return ::syscall(SYS_recvmsg, fd, msg, flags);
}
inline ssize_t sendmsg(int fd, const msghdr* msg, int flags) noexcept {
  return ::syscall(SYS_sendmsg, fd, msg, flags);
}

}  // namespace weft::net::sys
