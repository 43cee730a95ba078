// weft::fs's syscalls on the blocking pool or the worker's ring (sys.hpp), and the choice of
// backend (fs.hpp: uring_available, resolve_backend).
#include "sys.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

#include <weft/runtime/blocking.hpp>
#include <weft/runtime/errors.hpp>

#include "uring.hpp"

namespace weft::fs {

bool uring_available() noexcept {
  return detail::uring_probe();
}

Backend resolve_backend(Backend requested) {
  if (requested == Backend::Default) {
    const char* env = std::getenv("WEFT_FS_BACKEND");
    const std::string_view v = env ? env : "";
    if (v.empty() || v == "pool") return Backend::Pool;
    if (v != "uring" && v != "auto") {
      throw std::invalid_argument("WEFT_FS_BACKEND=" + std::string(v) +
                                  ": expected pool, uring or auto");
    }
    requested = Backend::Auto;
  }
  if (requested == Backend::Pool) return Backend::Pool;
  return uring_available() ? Backend::Uring : Backend::Pool;
}

}  // namespace weft::fs

namespace weft::fs::detail {

namespace {

/// io_uring takes 32-bit lengths: larger calls are shortened (callers loop).
unsigned ring_length(std::size_t n) noexcept {
  return static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
}

/// Runs `req` on this worker's ring; nullopt when the caller must use the pool instead (no
/// ring on this thread, or it is full).
Task<std::optional<UringOutcome>> try_ring(Backend b, UringRequest req) {
  if (b != Backend::Uring) co_return std::nullopt;
  Ring* ring = worker_ring();
  if (!ring) co_return std::nullopt;
  co_return co_await uring_call(ring, req);
}

/// The ring's result, raising CancelledError if a cancellation arrived while it ran.
SysResult settled(const UringOutcome& o) {
  if (o.cancelled) throw CancelledError();
  return o.result;
}

/// A descriptor the pool opened, closed if nobody takes it: a to_thread result dropped by
/// a cancellation must not leak its descriptor.
class OpenedFd {
 public:
  explicit OpenedFd(SysResult r) noexcept : r_(r) {}
  OpenedFd(OpenedFd&& o) noexcept : r_(std::exchange(o.r_, SysResult{-1, EBADF})) {}
  OpenedFd& operator=(OpenedFd&&) = delete;
  ~OpenedFd() {
    if (r_.ok() && r_.value >= 0) ::close(static_cast<int>(r_.value));
  }
  SysResult release() noexcept { return std::exchange(r_, SysResult{-1, EBADF}); }

 private:
  SysResult r_;
};

}  // namespace

std::system_error fs_error(int err, std::string_view op, const std::filesystem::path& path) {
  std::string what(op);
  what += ' ';
  what += path.string();
  return std::system_error(err, std::system_category(), what);
}

Task<SysResult> sys_open(Backend b, const char* path, int flags, mode_t mode) {
  UringRequest req{.kind = UringRequest::Kind::Open, .path = path, .flags = flags, .mode = mode};
  if (auto o = co_await try_ring(b, req)) {
    if (o->cancelled && o->result.ok()) {
      // The open won the race with the cancellation: give the descriptor back at once (a
      // fresh descriptor with nothing written closes without I/O).
      ::close(static_cast<int>(o->result.value));
    }
    co_return settled(*o);
  }
  OpenedFd fd = co_await to_thread([path, flags, mode] {
    return OpenedFd(retry_eintr([&] { return ::open(path, flags | O_CLOEXEC, mode); }));
  });
  co_return fd.release();
}

Task<SysResult> sys_read(Backend b, int fd, void* buf, std::size_t n, std::int64_t offset) {
  UringRequest req{.kind = UringRequest::Kind::Read,
                   .fd = fd,
                   .buf = buf,
                   .len = ring_length(n),
                   .offset = offset < 0 ? -1 : offset};
  if (auto o = co_await try_ring(b, req)) co_return settled(*o);
  co_return co_await to_thread([=] {
    return retry_eintr(
        [&] { return offset < 0 ? ::read(fd, buf, n) : ::pread(fd, buf, n, offset); });
  });
}

Task<SysResult> sys_write(Backend b, int fd, const void* buf, std::size_t n, std::int64_t offset,
                          std::size_t* written) {
  UringRequest req{.kind = UringRequest::Kind::Write,
                   .fd = fd,
                   .buf = const_cast<void*>(buf),
                   .len = ring_length(n),
                   .offset = offset < 0 ? -1 : offset};
  if (auto o = co_await try_ring(b, req)) {
    if (written && o->result.ok()) *written += static_cast<std::size_t>(o->result.value);
    co_return settled(*o);
  }
  co_return co_await to_thread([=] {
    SysResult r = retry_eintr(
        [&] { return offset < 0 ? ::write(fd, buf, n) : ::pwrite(fd, buf, n, offset); });
    // On the pool thread, while the task waits: it reads `written` after it is resumed.
    if (written && r.ok()) *written += static_cast<std::size_t>(r.value);
    return r;
  });
}

Task<SysResult> sys_fsync(Backend b, int fd, bool data_only) {
  UringRequest req{.kind = UringRequest::Kind::Fsync,
                   .fd = fd,
                   .flags = data_only ? static_cast<int>(IORING_FSYNC_DATASYNC) : 0};
  if (auto o = co_await try_ring(b, req)) co_return settled(*o);
  co_return co_await to_thread(
      [=] { return retry_eintr([&] { return data_only ? ::fdatasync(fd) : ::fsync(fd); }); });
}

Task<SysResult> sys_close(Backend b, int fd) {
  UringRequest req{.kind = UringRequest::Kind::Close, .fd = fd};
  if (auto o = co_await try_ring(b, req)) co_return settled(*o);
  co_return co_await to_thread([=] {
    // Not retried: on Linux the descriptor is released even when close reports EINTR.
    const int r = ::close(fd);
    return r == 0 ? SysResult{0, 0} : SysResult{0, errno == EINTR ? 0 : errno};
  });
}

Task<SysResult> sys_lseek(int fd, std::int64_t offset, int whence) {
  co_return co_await to_thread(
      [=] { return retry_eintr([&] { return ::lseek(fd, static_cast<off_t>(offset), whence); }); });
}

}  // namespace weft::fs::detail
