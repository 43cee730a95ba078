// The file syscalls behind weft::fs, each run on the blocking pool or on the worker's
// io_uring (uring.hpp), and the errors they turn into.
//
// A sys_* call never blocks the worker: on Backend::Uring it submits to this worker's ring
// (and falls back to the pool when the thread has none or it is full); otherwise it runs
// the syscall through weft::to_thread, retrying EINTR. Each returns the syscall's value or
// its errno; only cancellation throws (CancelledError, after the syscall has returned, as
// to_thread does). sys_open never leaks the descriptor of an open that a cancellation
// overtook: it closes it before raising.
//
// Pointers and strings passed in must stay valid until the task ends: callers await at once.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <weft/io/fs.hpp>
#include <weft/runtime/task.hpp>

namespace weft::fs::detail {

/// A syscall's outcome: `value` (>= 0) when `err` is 0, else errno.
struct SysResult {
  std::int64_t value = 0;
  int err = 0;
  bool ok() const noexcept { return err == 0; }
};

/// open(2) with O_CLOEXEC added; value is the new descriptor.
Task<SysResult> sys_open(Backend b, const char* path, int flags, mode_t mode);
/// read(2) at the position (`offset` < 0) or pread(2) at `offset`.
Task<SysResult> sys_read(Backend b, int fd, void* buf, std::size_t n, std::int64_t offset);
/// write(2) at the position (`offset` < 0) or pwrite(2) at `offset`. `written`, if given,
/// gets the bytes written added as soon as the syscall returns, so they are counted even when a
/// cancellation then raises CancelledError (a caller keeping a buffer must not write them twice).
Task<SysResult> sys_write(Backend b, int fd, const void* buf, std::size_t n, std::int64_t offset,
                          std::size_t* written = nullptr);
/// fsync(2), or fdatasync(2) with `data_only`.
Task<SysResult> sys_fsync(Backend b, int fd, bool data_only);
/// close(2): the descriptor is gone afterwards, whatever the result.
Task<SysResult> sys_close(Backend b, int fd);
/// lseek(2), always on the pool (io_uring has no seek).
Task<SysResult> sys_lseek(int fd, std::int64_t offset, int whence);

/// The std::system_error for `err` whose what() is "`op` `path`: <strerror>".
std::system_error fs_error(int err, std::string_view op, const std::filesystem::path& path);

/// Calls `f` until it does not fail with EINTR; returns its result as a SysResult.
template <class F>
SysResult retry_eintr(F f) {
  for (;;) {
    const auto r = f();
    if (r >= 0) return {static_cast<std::int64_t>(r), 0};
    if (errno != EINTR) return {0, errno};
  }
}

}  // namespace weft::fs::detail
