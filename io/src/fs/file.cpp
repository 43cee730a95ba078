// weft::fs::File (fs.hpp): mode strings, the read/write buffer, lines(), the buffer a File
// dropped without close() leaves to write (WriteBehind), and the one-shot read_file/write_file.
//
// The buffer holds either unread data (read mode: [buf_begin_, buf_end_), the kernel's file
// position is at buf_end_) or pending writes (writing_: [0, buf_end_), to go at the kernel's
// position). Anything that needs the kernel's position to be the File's — a write after
// reads, seek, pwrite — first gives unread data back with one lseek, and anything that reads
// or moves the position first writes pending data out. A call served from the buffer spends
// a unit of the task's cooperative budget (as an always-ready socket does), so a long loop of
// them yields now and then instead of holding the worker.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include <weft/io/fs.hpp>
#include <weft/runtime/blocking.hpp>
#include <weft/runtime/budget.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/runtime/io.hpp>

#include "sys.hpp"

namespace weft::fs {

namespace {

using detail::fs_error;
using detail::SysResult;

constexpr std::size_t kLineChunk = 64 * 1024;  // read size of lines() on an unbuffered File
constexpr std::size_t kReadAllFirst = 64 * 1024;
constexpr std::size_t kReadAllMax = 64u << 20;
// read(n) and pread(n) allocate at most this much ahead of the bytes the file gives: n is
// only a bound (a short file returns less), so a large n must not cost memory nothing fills.
constexpr std::size_t kReadUpFront = 1u << 20;

/// The size `s` grows to when a read of up to `n` bytes has filled it (0 < s.size() < n):
/// twice as large, at most `n`. Doubling keeps the copies of a large read within its length.
std::size_t grown(const std::string& s, std::size_t n) {
  return s.size() + std::min(n - s.size(), s.size());
}

/// The largest file offset: off_t is signed. Positional calls refuse a larger one, which would
/// otherwise turn negative on its way to the syscall layer, where that means "at the position".
constexpr std::uint64_t kMaxOffset = std::numeric_limits<std::int64_t>::max();

/// Throws std::invalid_argument naming `what`, `path` and `offset` if `offset` is above
/// kMaxOffset.
void check_offset(const char* what, const std::filesystem::path& path, std::uint64_t offset) {
  if (offset <= kMaxOffset) return;
  throw std::invalid_argument(std::string("weft::fs::File::") + what + " " + path.string() +
                              ": offset " + std::to_string(offset) +
                              " is above the largest file offset, " + std::to_string(kMaxOffset));
}

/// `a + b`, or SIZE_MAX where that would wrap.
std::size_t saturating_add(std::size_t a, std::size_t b) noexcept {
  return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/// The std::length_error of a whole-file read (`what`: "File::read_all", "read_file") that
/// found more than `max` bytes; `how_many` says how it knows ("N bytes read", "its size is N
/// bytes").
std::length_error too_long(const char* what, const std::filesystem::path& path, std::size_t max,
                           const std::string& how_many) {
  return std::length_error(std::string("weft::fs::") + what + " " + path.string() +
                           ": more than the maximum of " + std::to_string(max) + " bytes (" +
                           how_many + ")");
}

/// "N bytes read", for too_long.
std::string bytes_read(std::size_t n) {
  return std::to_string(n) + " bytes read";
}

[[noreturn]] void bad_mode(std::string_view mode) {
  throw std::invalid_argument("weft::fs::File::open: invalid mode \"" + std::string(mode) +
                              "\" (expected one of r, w, a, x, optionally with + and b or t)");
}

/// open(2) flags for a Python mode string; throws std::invalid_argument naming a bad one.
int parse_mode(std::string_view mode) {
  int kinds = 0;
  int plus = 0;
  int bt = 0;
  char kind = 0;
  for (char c : mode) {
    switch (c) {
      case 'r':
      case 'w':
      case 'a':
      case 'x':
        ++kinds;
        kind = c;
        break;
      case '+':
        ++plus;
        break;
      case 'b':
      case 't':
        ++bt;
        break;
      default:
        bad_mode(mode);
    }
  }
  if (kinds != 1 || plus > 1 || bt > 1) bad_mode(mode);
  const int access = plus ? O_RDWR : (kind == 'r' ? O_RDONLY : O_WRONLY);
  switch (kind) {
    case 'w':
      return access | O_CREAT | O_TRUNC;
    case 'a':
      return access | O_CREAT | O_APPEND;
    case 'x':
      return access | O_CREAT | O_EXCL;
    default:
      return access;
  }
}

/// What a File dropped with buffered writes leaves behind: its descriptor, its path and the
/// bytes [0, pending) of its write buffer, which go at the descriptor's position (the File's
/// cursor; the end in append mode). Calling it writes them all (short writes and EINTR
/// retried), closes the descriptor, and reports a failure of either on stderr: nobody is
/// left to throw to.
struct WriteBehind {
  int fd;
  std::filesystem::path path;
  std::vector<std::byte> buf;
  std::size_t pending;

  void operator()() noexcept {
    std::size_t done = 0;
    while (done < pending) {
      SysResult r =
          detail::retry_eintr([&] { return ::write(fd, buf.data() + done, pending - done); });
      if (!r.ok()) {
        report(std::to_string(pending - done) + " of its " + std::to_string(pending) +
                   " buffered bytes were lost",
               r.err, "write");
        break;
      }
      done += static_cast<std::size_t>(r.value);
    }
    // Not retried: on Linux the descriptor is released even when close reports EINTR.
    if (::close(fd) != 0 && errno != EINTR) report("closing it failed", errno, "close");
  }

  /// One line on stderr, as the runtime reports a failed task nobody awaited.
  void report(const std::string& what, int err, const char* op) const noexcept {
    try {
      const std::string line = "weft: fs::File " + path.string() +
                               " was dropped without close() and " + what + ": " +
                               fs_error(err, op, path).what() + "\n";
      std::fputs(line.c_str(), stderr);
    } catch (...) {
      std::fputs("weft: an fs::File dropped without close() failed to write out or to close\n",
                 stderr);
    }
  }
};

}  // namespace

LineTooLong::LineTooLong(const std::string& path, std::size_t limit)
    : std::length_error("lines " + path + ": a line is longer than " + std::to_string(limit) +
                        " bytes"),
      limit_(limit) {}

Task<File> File::open(std::filesystem::path path, std::string_view mode, OpenOptions options) {
  // Not a coroutine: a bad mode, buffer size or WEFT_FS_BACKEND throws here, before any
  // syscall.
  const int flags = parse_mode(mode);
  if (options.buffer_size > kMaxBufferSize) {
    throw std::invalid_argument("weft::fs::File::open " + path.string() +
                                ": OpenOptions::buffer_size " +
                                std::to_string(options.buffer_size) + " is above the maximum, " +
                                std::to_string(kMaxBufferSize) + " (kMaxBufferSize)");
  }
  const Backend b = resolve_backend(options.backend);
  return open_with_flags(std::move(path), flags, options, b);
}

Task<File> File::open_with_flags(std::filesystem::path path, int flags, OpenOptions options,
                                 Backend backend) {
  const std::string p = path.string();
  SysResult r = co_await detail::sys_open(backend, p.c_str(), flags, options.permissions);
  if (!r.ok()) throw fs_error(r.err, "open", path);
  co_return File(static_cast<int>(r.value), std::move(path), backend, options);
}

File::File(int fd, std::filesystem::path path, Backend backend, OpenOptions options)
    : fd_(fd), path_(std::move(path)), backend_(backend), capacity_(options.buffer_size) {}

File::File(File&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      backend_(o.backend_),
      buf_(std::move(o.buf_)),
      buf_begin_(std::exchange(o.buf_begin_, 0)),
      buf_end_(std::exchange(o.buf_end_, 0)),
      writing_(std::exchange(o.writing_, false)),
      capacity_(o.capacity_) {}

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    drop();
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    backend_ = o.backend_;
    buf_ = std::move(o.buf_);
    buf_begin_ = std::exchange(o.buf_begin_, 0);
    buf_end_ = std::exchange(o.buf_end_, 0);
    writing_ = std::exchange(o.writing_, false);
    capacity_ = o.capacity_;
  }
  return *this;
}

File::~File() {
  drop();
}

void File::drop() noexcept {
  if (fd_ < 0) return;
  const int fd = std::exchange(fd_, -1);
  if (!writing_ || buf_end_ == 0) {
    // Nothing to write: close(2) inline; of a local file it does no I/O of its own.
    ::close(fd);
    return;
  }
  // On a worker the writes go to the blocking pool (a worker never blocks in a file syscall,
  // and the destructor cannot wait on a ring, so io_uring Files go there too), and the
  // runtime's shutdown waits for them; on any other thread they are done here and now.
  ::weft::detail::spawn_blocking(WriteBehind{fd, std::move(path_), std::move(buf_), buf_end_});
  buf_begin_ = buf_end_ = 0;
  writing_ = false;
}

void File::check_open(const char* what) const {
  if (fd_ < 0) throw UsageError(std::string("weft::fs::File::") + what + " on a closed file");
}

Task<std::size_t> File::raw_read(std::byte* buf, std::size_t n, std::int64_t offset) {
  SysResult r = co_await detail::sys_read(backend_, fd_, buf, n, offset);
  if (!r.ok()) throw fs_error(r.err, offset < 0 ? "read" : "pread", path_);
  co_return static_cast<std::size_t>(r.value);
}

Task<std::size_t> File::raw_write(const std::byte* buf, std::size_t n, std::int64_t offset,
                                  std::size_t* written) {
  SysResult r = co_await detail::sys_write(backend_, fd_, buf, n, offset, written);
  if (!r.ok()) throw fs_error(r.err, offset < 0 ? "write" : "pwrite", path_);
  co_return static_cast<std::size_t>(r.value);
}

Task<void> File::raw_write_all(const std::byte* buf, std::size_t n, std::int64_t offset) {
  std::size_t done = 0;
  while (done < n) {
    const std::int64_t at = offset < 0 ? -1 : offset + static_cast<std::int64_t>(done);
    done += co_await raw_write(buf + done, n - done, at);
  }
}

Task<bool> File::fill_buffer() {
  const std::size_t size = std::max(capacity_, kLineChunk);
  if (buf_.size() < size) buf_.resize(size);
  buf_begin_ = buf_end_ = 0;
  buf_end_ = co_await raw_read(buf_.data(), capacity_ ? capacity_ : size, -1);
  co_return buf_end_ > 0;
}

Task<void> File::drop_read_buffer() {
  const std::size_t unread = writing_ ? 0 : buf_end_ - buf_begin_;
  if (unread > 0) {
    SysResult r = co_await detail::sys_lseek(fd_, -static_cast<std::int64_t>(unread), SEEK_CUR);
    if (!r.ok()) throw fs_error(r.err, "seek", path_);
  }
  if (!writing_) buf_begin_ = buf_end_ = 0;
}

Task<std::size_t> File::read(std::span<std::byte> buf) {
  check_open("read");
  if (writing_) co_await flush();
  std::size_t got = 0;
  while (got < buf.size()) {
    if (buf_begin_ < buf_end_) {
      const std::size_t k = std::min(buf.size() - got, buf_end_ - buf_begin_);
      std::memcpy(buf.data() + got, buf_.data() + buf_begin_, k);
      buf_begin_ += k;
      got += k;
      continue;
    }
    const std::size_t want = buf.size() - got;
    if (want >= capacity_) {  // as large as the buffer (or unbuffered): straight in
      const std::size_t n = co_await raw_read(buf.data() + got, want, -1);
      if (n == 0) break;
      got += n;
      continue;
    }
    if (!co_await fill_buffer()) break;
  }
  co_await consume_budget();  // served from the buffer, maybe: share the worker (and the stack)
  co_return got;
}

Task<std::string> File::read(std::size_t n) {
  std::string s(std::min(n, kReadUpFront), '\0');
  std::size_t got = co_await read(std::as_writable_bytes(std::span(s)));
  while (got == s.size() && got < n) {  // filled, and more was asked: grow, read on
    s.resize(grown(s, n));
    got += co_await read(std::as_writable_bytes(std::span(s)).subspan(got));
  }
  s.resize(got);
  co_return s;
}

Task<std::string> File::read_all(std::size_t max) {
  return read_rest("File::read_all", max);
}

/// read_all, naming `what` in its length_error.
Task<std::string> File::read_rest(const char* what, std::size_t max) {
  check_open("read_all");
  if (writing_) co_await flush();
  const char* held = reinterpret_cast<const char*>(buf_.data()) + buf_begin_;
  const std::size_t buffered = buf_end_ - buf_begin_;
  buf_begin_ = buf_end_ = 0;  // consumed, whatever happens next
  if (buffered > max) throw too_long(what, path_, max, bytes_read(buffered));
  std::string out(held, buffered);
  // Reading up to max + 1 bytes tells a file longer than `max` without reading more of it.
  const std::size_t ceiling = saturating_add(max, 1);
  std::size_t chunk = std::max(capacity_, kReadAllFirst);
  for (;;) {
    const std::size_t old = out.size();
    const std::size_t want = std::min(chunk, ceiling - old);  // old <= max: at least 1
    out.resize(old + want);
    const std::size_t n =
        co_await raw_read(reinterpret_cast<std::byte*>(out.data()) + old, want, -1);
    out.resize(old + n);
    if (n == 0) break;
    if (out.size() > max) throw too_long(what, path_, max, bytes_read(out.size()));
    chunk = std::min(chunk * 2, kReadAllMax);
  }
  co_return out;
}

Task<std::size_t> File::write(std::span<const std::byte> data) {
  check_open("write");
  if (!writing_) co_await drop_read_buffer();
  if (capacity_ == 0) co_return co_await raw_write(data.data(), data.size(), -1);
  if (writing_ && buf_end_ + data.size() > capacity_) co_await flush();
  if (data.size() >= capacity_) {
    co_await raw_write_all(data.data(), data.size(), -1);
    co_return data.size();
  }
  if (buf_.size() < capacity_) buf_.resize(capacity_);
  writing_ = true;
  std::memcpy(buf_.data() + buf_end_, data.data(), data.size());
  buf_end_ += data.size();
  co_await consume_budget();  // no syscall: share the worker (and the stack)
  co_return data.size();
}

Task<std::size_t> File::write(std::string_view data) {
  return write(std::as_bytes(std::span(data)));
}

Task<void> File::write_all(std::span<const std::byte> data) {
  while (!data.empty()) data = data.subspan(co_await write(data));
}

Task<void> File::write_all(std::string_view data) {
  return write_all(std::as_bytes(std::span(data)));
}

Task<std::size_t> File::pread(std::span<std::byte> buf, std::uint64_t offset) {
  check_open("pread");
  check_offset("pread", path_, offset);
  if (writing_) co_await flush();
  std::size_t got = 0;
  while (got < buf.size()) {
    const auto at = static_cast<std::int64_t>(offset + got);
    const std::size_t n = co_await raw_read(buf.data() + got, buf.size() - got, at);
    if (n == 0) break;
    got += n;
  }
  co_return got;
}

Task<std::string> File::pread(std::size_t n, std::uint64_t offset) {
  check_open("pread");
  check_offset("pread", path_, offset);  // before allocating
  std::string s(std::min(n, kReadUpFront), '\0');
  std::size_t got = co_await pread(std::as_writable_bytes(std::span(s)), offset);
  while (got == s.size() && got < n) {  // as in read(n)
    s.resize(grown(s, n));
    got += co_await pread(std::as_writable_bytes(std::span(s)).subspan(got), offset + got);
  }
  s.resize(got);
  co_return s;
}

Task<void> File::pwrite(std::span<const std::byte> data, std::uint64_t offset) {
  check_open("pwrite");
  check_offset("pwrite", path_, offset);  // before flushing: a refused call does nothing
  co_await flush();
  co_await drop_read_buffer();
  co_await raw_write_all(data.data(), data.size(), static_cast<std::int64_t>(offset));
}

Task<void> File::pwrite(std::string_view data, std::uint64_t offset) {
  return pwrite(std::as_bytes(std::span(data)), offset);
}

Task<std::uint64_t> File::seek(std::int64_t offset, Whence whence) {
  check_open("seek");
  co_await flush();
  if (whence == Whence::Current) offset -= static_cast<std::int64_t>(buf_end_ - buf_begin_);
  const int w = whence == Whence::Start     ? SEEK_SET
                : whence == Whence::Current ? SEEK_CUR
                                            : SEEK_END;
  SysResult r = co_await detail::sys_lseek(fd_, offset, w);
  if (!r.ok()) throw fs_error(r.err, "seek", path_);
  buf_begin_ = buf_end_ = 0;  // only once the kernel moved: a failed seek keeps the data
  co_return static_cast<std::uint64_t>(r.value);
}

Task<std::uint64_t> File::tell() {
  check_open("tell");
  co_await flush();
  SysResult r = co_await detail::sys_lseek(fd_, 0, SEEK_CUR);
  if (!r.ok()) throw fs_error(r.err, "tell", path_);
  co_return static_cast<std::uint64_t>(r.value) - (buf_end_ - buf_begin_);
}

Task<void> File::flush() {
  check_open("flush");
  if (!writing_) co_return;
  std::size_t done = 0;
  try {
    // raw_write adds to `done` itself: a write that a cancellation interrupted counts too, and
    // what it wrote is not written again by a later flush.
    while (done < buf_end_) {
      co_await raw_write(buf_.data() + done, buf_end_ - done, -1, &done);
    }
  } catch (...) {
    // Keep what was not written, for a later flush (Python's buffered files do the same).
    std::memmove(buf_.data(), buf_.data() + done, buf_end_ - done);
    buf_end_ -= done;
    throw;
  }
  buf_end_ = 0;
  writing_ = false;
}

Task<void> File::sync(bool data_only) {
  co_await flush();
  SysResult r = co_await detail::sys_fsync(backend_, fd_, data_only);
  if (!r.ok()) throw fs_error(r.err, data_only ? "fdatasync" : "fsync", path_);
}

Task<void> File::close() {
  if (fd_ < 0) co_return;
  std::exception_ptr flush_error;
  try {
    co_await flush();
  } catch (...) {
    flush_error = std::current_exception();
  }
  const int fd = std::exchange(fd_, -1);  // closed from here on, even if cancelled
  buf_begin_ = buf_end_ = 0;
  writing_ = false;
  SysResult r = co_await detail::sys_close(backend_, fd);
  if (flush_error) std::rethrow_exception(flush_error);
  if (!r.ok()) throw fs_error(r.err, "close", path_);
}

AsyncGenerator<std::string> File::lines(std::size_t max_line) {
  check_open("lines");
  if (writing_) co_await flush();
  std::string line;
  for (;;) {
    if (buf_begin_ == buf_end_ && !co_await fill_buffer()) break;
    const auto* b = reinterpret_cast<const char*>(buf_.data()) + buf_begin_;
    const std::size_t avail = buf_end_ - buf_begin_;
    const auto* nl = static_cast<const char*>(std::memchr(b, '\n', avail));
    const std::size_t take = nl ? static_cast<std::size_t>(nl - b) : avail;
    if (line.size() + take > max_line) throw LineTooLong(path_.string(), max_line);
    line.append(b, take);
    buf_begin_ += take + (nl ? 1 : 0);
    if (nl) {
      co_await consume_budget();
      co_yield std::move(line);
      line.clear();
    }
  }
  if (!line.empty()) co_yield std::move(line);
}

// ---- one-shot helpers --------------------------------------------------------------------

namespace {

/// The pool's read_file, all in one job: the contents, or the failed step and its errno, or
/// (`too_long`) how it knows the file holds more than the maximum.
struct WholeFile {
  std::string data;
  int err = 0;
  const char* op = nullptr;
  std::string too_long;
};

WholeFile read_whole_file(const std::string& path, std::size_t max) {
  WholeFile out;
  SysResult fd = detail::retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
  if (!fd.ok()) return {{}, fd.err, "open", {}};
  const int f = static_cast<int>(fd.value);
  // Reading up to max + 1 bytes tells a file longer than `max` without reading more of it.
  const std::size_t ceiling = saturating_add(max, 1);
  // A regular file's size is right unless the file changes meanwhile: one allocation of it,
  // plus the byte into which the read that finds the end returns 0. Other files (a /proc
  // file reports 0, a device anything) start small; all grow with the data past that.
  std::size_t first = kReadAllFirst;
  struct stat st {};
  if (::fstat(f, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > max) {
      ::close(f);
      out.too_long = "its size is " + std::to_string(size) + " bytes";
      return out;
    }
    first = saturating_add(static_cast<std::size_t>(size), 1);
  }
  std::size_t got = 0;
  out.data.resize(std::min(first, ceiling));
  for (;;) {
    if (got == out.data.size()) {  // full, and got <= max < ceiling: grow
      const std::size_t step = std::clamp(got, kReadAllFirst, kReadAllMax);
      out.data.resize(std::min(saturating_add(got, step), ceiling));
    }
    const std::size_t room = out.data.size() - got;
    SysResult r = detail::retry_eintr([&] { return ::read(f, out.data.data() + got, room); });
    if (!r.ok()) {
      out = {{}, r.err, "read", {}};
      break;
    }
    if (r.value == 0) {
      out.data.resize(got);
      break;
    }
    got += static_cast<std::size_t>(r.value);
    if (got > max) {
      out = {{}, 0, nullptr, bytes_read(got)};
      break;
    }
  }
  ::close(f);  // read-only: nothing to report
  return out;
}

/// The pool's write_file, all in one job: 0, or errno with the failed step in `op`.
int write_whole_file(const std::string& path, std::string_view data, const char*& op) {
  op = "open";
  SysResult fd = detail::retry_eintr(
      [&] { return ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666); });
  if (!fd.ok()) return fd.err;
  const int f = static_cast<int>(fd.value);
  op = "write";
  while (!data.empty()) {
    SysResult r = detail::retry_eintr([&] { return ::write(f, data.data(), data.size()); });
    if (!r.ok()) {
      ::close(f);
      return r.err;
    }
    data.remove_prefix(static_cast<std::size_t>(r.value));
  }
  op = "close";
  return ::close(f) == 0 || errno == EINTR ? 0 : errno;
}

}  // namespace

Task<std::string> read_file(std::filesystem::path path, Backend backend, std::size_t max) {
  const Backend b = resolve_backend(backend);
  if (b == Backend::Pool) {
    const std::string p = path.string();
    WholeFile r = co_await to_thread([&p, max] { return read_whole_file(p, max); });
    if (r.err) throw fs_error(r.err, r.op, path);
    if (!r.too_long.empty()) throw too_long("read_file", path, max, r.too_long);
    co_return std::move(r.data);
  }
  File f = co_await File::open(path, "rb", {.backend = b, .buffer_size = 0});
  std::string data = co_await f.read_rest("read_file", max);
  co_await f.close();
  co_return data;
}

Task<void> write_file(std::filesystem::path path, std::string_view data, Backend backend) {
  const Backend b = resolve_backend(backend);
  if (b == Backend::Pool) {
    const std::string p = path.string();
    const char* op = nullptr;
    const int err = co_await to_thread([&] { return write_whole_file(p, data, op); });
    if (err) throw fs_error(err, op, path);
    co_return;
  }
  File f = co_await File::open(path, "wb", {.backend = b, .buffer_size = 0});
  co_await f.write_all(data);
  co_await f.close();
}

}  // namespace weft::fs
