// weft::process::PipeReader and PipeWriter: the parent's ends of a child's stdout/stderr
// and stdin pipes, as async streams on the reactor.
//
// Like weft::net::Socket, every operation tries the syscall first and waits for readiness
// (weft/runtime/io.hpp) only on EAGAIN; one that completes at once spends a unit of the
// task's cooperative budget. The fds are non-blocking and close-on-exec. Errors are
// std::system_error naming the pipe, e.g. "write to stdin of cat (pid 4242): Broken pipe".
// A write to a pipe whose reader has gone fails with EPIPE and never raises SIGPIPE: the
// writing thread blocks SIGPIPE around the write(2) and takes the one it caused. One task
// may read a pipe while another writes a different one; two tasks reading one pipe at once
// get its bytes in no defined order.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <weft/runtime/io.hpp>
#include <weft/runtime/task.hpp>

namespace weft::process {

/// The default maximum of PipeReader::read_all() and of each stream communicate() and run()
/// collect (Options::max_output): 1 GiB.
inline constexpr std::size_t kDefaultMaxOutput = std::size_t{1} << 30;

/// What both ends of a pipe have in common: the fd, its reactor registration and the name
/// errors use. The base of PipeReader and PipeWriter; not made by itself.
class PipeEnd {
 public:
  /// Closes the fd (deregistering it first). Idempotent. Must not race an operation.
  void close() noexcept;
  /// True until close() (or a move away).
  bool is_open() const noexcept { return fd_ >= 0; }
  /// The fd (-1 when closed), for operations the pipe classes lack.
  int fd() const noexcept { return fd_; }
  /// What errors call it, e.g. "stdout of cat (pid 4242)".
  const std::string& name() const noexcept { return name_; }

 protected:
  PipeEnd() noexcept = default;
  /// Adopts `fd` (made non-blocking and close-on-exec). Throws std::invalid_argument for a
  /// negative fd (naming `cls`), std::system_error if fcntl fails (the fd is closed then).
  PipeEnd(int fd, std::string name, const char* cls);
  PipeEnd(PipeEnd&& o) noexcept;
  PipeEnd& operator=(PipeEnd&& o) noexcept;
  ~PipeEnd() { close(); }

  /// The loop of read and write (pipe.cpp).
  template <class Syscall>
  Task<std::size_t> transfer(Interest interest, Syscall call);

  int fd_ = -1;
  IoRegistration reg_;
  std::string name_;
};

/// The reading end of a pipe (a child's stdout or stderr). Move-only; closes on
/// destruction. Must not move or be destroyed while an operation on it is in progress.
class PipeReader : public PipeEnd {
 public:
  PipeReader() noexcept = default;
  /// Adopts `fd` (made non-blocking and close-on-exec here); `name` appears in errors.
  /// Throws std::system_error if fcntl fails (the fd is closed then).
  PipeReader(int fd, std::string name) : PipeEnd(fd, std::move(name), "PipeReader") {}

  /// Reads at least one byte into `buf`; 0 at end of stream (or if `buf` is empty). Waits
  /// while the pipe is empty. A cancellation point.
  Task<std::size_t> read(std::span<std::byte> buf);
  /// Fills `buf`, or throws weft::net::IncompleteRead if the stream ends first.
  Task<void> read_exact(std::span<std::byte> buf);
  /// Reads until end of stream and returns everything, allocating as the bytes arrive.
  /// Throws std::length_error "weft::process::PipeReader::read_all: NAME: more than the
  /// maximum of MAX bytes (N bytes read)" once more than `max` bytes have come (they are
  /// dropped; the pipe stays open). A cancellation point.
  Task<std::string> read_all(std::size_t max = kDefaultMaxOutput);
};

/// The writing end of a pipe (a child's stdin). Move-only; closes on destruction, which the
/// child reads as end of stream. Must not move or be destroyed while an operation on it is in
/// progress.
class PipeWriter : public PipeEnd {
 public:
  PipeWriter() noexcept = default;
  /// Adopts `fd` (made non-blocking and close-on-exec here); `name` appears in errors.
  /// Throws std::system_error if fcntl fails (the fd is closed then).
  PipeWriter(int fd, std::string name) : PipeEnd(fd, std::move(name), "PipeWriter") {}

  /// Writes some of `buf` (at least one byte unless it is empty); the count. Waits while the
  /// pipe is full. Throws std::system_error (EPIPE once the reader has gone). A cancellation
  /// point.
  Task<std::size_t> write(std::span<const std::byte> buf);
  /// Writes all of `buf`.
  Task<void> write_all(std::span<const std::byte> buf);
  /// Writes all of `s` (which must outlive the write).
  Task<void> write_all(std::string_view s) { return write_all(std::as_bytes(std::span(s))); }
};

}  // namespace weft::process
