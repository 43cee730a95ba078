// weft::process::PipeReader and PipeWriter (pipe.hpp).
#include "weft/io/process/pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <weft/runtime/budget.hpp>
#include <weft/runtime/errors.hpp>

#include "../signal/sigpipe_block.hpp"
#include "weft/io/net/tcp.hpp"

namespace weft::process {

namespace {

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::system_category(), what);
}

/// Makes an adopted fd non-blocking and close-on-exec; closes it and throws on failure.
void prepare(int fd, const std::string& name) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    const int err = errno;
    ::close(fd);
    fail(err, "fcntl on " + name);
  }
}

/// write(2) that never raises SIGPIPE (signal/sigpipe_block.hpp). errno is the write's.
ssize_t write_without_sigpipe(int fd, const void* data, std::size_t len) noexcept {
  weft::detail::SigpipeBlock block;
  const ssize_t n = ::write(fd, data, len);
  if (n < 0 && errno == EPIPE) block.take_pending();
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// PipeEnd

PipeEnd::PipeEnd(int fd, std::string name, const char* cls) : name_(std::move(name)) {
  if (fd < 0) throw std::invalid_argument(std::string("weft::process::") + cls + ": invalid fd");
  prepare(fd, name_);
  fd_ = fd;
  reg_ = IoRegistration(fd_);
}

PipeEnd::PipeEnd(PipeEnd&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), reg_(std::move(o.reg_)), name_(std::move(o.name_)) {}

PipeEnd& PipeEnd::operator=(PipeEnd&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    reg_ = std::move(o.reg_);
    name_ = std::move(o.name_);
  }
  return *this;
}

void PipeEnd::close() noexcept {
  if (fd_ < 0) return;
  reg_.reset();
  ::close(std::exchange(fd_, -1));
}

// Tries `call` (read(2) or write(2)) first and waits for readiness only on EAGAIN; a call
// that completes at once spends a unit of the task's budget.
template <class Syscall>
Task<std::size_t> PipeEnd::transfer(Interest interest, Syscall call) {
  const bool reading = interest == Interest::kRead;
  if (fd_ < 0) {
    throw UsageError(std::string("weft::process: ") + (reading ? "read" : "write") +
                     " on a closed pipe");
  }
  for (;;) {
    const auto seq = reg_.ready_seq(interest);
    const ssize_t n = call();
    if (n >= 0) {
      co_await consume_budget();
      co_return static_cast<std::size_t>(n);
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN) fail(err, (reading ? "read " : "write to ") + name_);
    co_await reg_.wait(interest, seq);
  }
}

// ---------------------------------------------------------------------------------------
// PipeReader

Task<std::size_t> PipeReader::read(std::span<std::byte> buf) {
  return transfer(Interest::kRead, [this, buf] { return ::read(fd_, buf.data(), buf.size()); });
}

Task<void> PipeReader::read_exact(std::span<std::byte> buf) {
  std::size_t got = 0;
  while (got < buf.size()) {
    std::size_t n = co_await read(buf.subspan(got));
    if (n == 0) throw net::IncompleteRead(got, buf.size(), "read_exact " + name_);
    got += n;
  }
}

Task<std::string> PipeReader::read_all(std::size_t max) {
  constexpr std::size_t kChunk = 64 << 10;  // a whole default pipe buffer per read
  // Reading up to max + 1 bytes tells a stream longer than `max` without reading more of it.
  const std::size_t ceiling = max == SIZE_MAX ? max : max + 1;
  std::string data;
  for (;;) {
    const std::size_t had = data.size();
    data.resize(had + std::min(kChunk, ceiling - had));  // had <= max: at least one byte
    std::size_t n = co_await read(std::as_writable_bytes(std::span(data)).subspan(had));
    data.resize(had + n);
    if (n == 0) co_return data;
    if (data.size() > max) {
      throw std::length_error("weft::process::PipeReader::read_all: " + name_ +
                              ": more than the maximum of " + std::to_string(max) + " bytes (" +
                              std::to_string(data.size()) + " bytes read)");
    }
  }
}

// ---------------------------------------------------------------------------------------
// PipeWriter

Task<std::size_t> PipeWriter::write(std::span<const std::byte> buf) {
  return transfer(Interest::kWrite,
                  [this, buf] { return write_without_sigpipe(fd_, buf.data(), buf.size()); });
}

Task<void> PipeWriter::write_all(std::span<const std::byte> buf) {
  while (!buf.empty()) {
    std::size_t n = co_await write(buf);
    buf = buf.subspan(n);
  }
}

}  // namespace weft::process
