// weft::fs: files and directories that never block a worker (aiofiles in weft).
//
// Every call is a weft::Task awaited from a task. The syscalls behind it run on one of two
// backends (DESIGN invariant 6: a worker never blocks in a file syscall):
//   - the blocking pool (weft::to_thread), as aiofiles does: always available;
//   - io_uring: one ring per worker, whose completion eventfd is registered with that
//     worker's reactor, used for open, read, write, fsync and close when the kernel offers it.
// Backend::Default picks the pool unless $WEFT_FS_BACKEND says `uring` or `auto`
// (bench/results/2026-12-06-history-fs-backends.md has the numbers behind that choice); an io_uring
// that cannot be set up falls back to the pool without an error. Seeking and the directory and path
// operations (stat, mkdir, rename, remove, list_dir) always use the pool. io_uring does the
// kernel's share of the work on the worker (fast, but it competes with the other tasks), and on the
// virtual clock its operations do not hold the clock still as blocking-pool jobs do.
//
// ## Errors
// A failed syscall is a std::system_error with its errno whose what() names the operation and
// the path: "open /tmp/x/missing: No such file or directory". No error path leaks a
// descriptor. A bad mode string is std::invalid_argument naming it, and so is a bad argument
// (an offset, a buffer size). A whole-file read (read_all, read_file) of more than its maximum
// is std::length_error naming the path and the maximum.
//
// ## Cancellation
// A syscall that has started cannot be interrupted: cancelling a task that waits on one
// waits for it to return (to_thread semantics; on io_uring, for its completion, so the
// kernel never writes into a buffer that is gone), then raises CancelledError at that await.
// The file stays usable; what the interrupted call did (bytes read or written) stays done,
// and the write buffer counts it: a later flush or close writes only what it had not taken.
//
// ## Buffering
// A File buffers like Python's buffered binary files: small reads are served from a read
// buffer filled by one large read, small writes collect in a write buffer that flush(),
// seek(), close() and reads write out — and so does dropping the File without close() (see
// File). Reads and writes as large as the buffer bypass it.
// OpenOptions::buffer_size = 0 makes every call one syscall. A call that completes without
// waiting spends a unit of the task's cooperative budget, so loops of them share the worker.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <weft/runtime/async_generator.hpp>
#include <weft/runtime/task.hpp>

namespace weft::fs {

/// Where a file's syscalls run.
enum class Backend {
  Default,  ///< $WEFT_FS_BACKEND (`pool`, `uring` or `auto`); the pool when it is unset
  Pool,     ///< the runtime's blocking pool (weft::to_thread)
  Uring,    ///< io_uring on the worker's ring; the pool if io_uring is unavailable
  Auto,     ///< io_uring when the kernel offers it, else the pool
};

/// True if this process can use io_uring (probed once: a ring is set up and the operations
/// weft needs are supported). Any thread.
bool uring_available() noexcept;

/// The backend `requested` resolves to (Pool or Uring) on this machine. Throws
/// std::invalid_argument naming the value if $WEFT_FS_BACKEND is set to something other
/// than pool, uring or auto. Any thread.
Backend resolve_backend(Backend requested = Backend::Default);

/// The largest OpenOptions::buffer_size: 64 MiB. A File allocates its whole buffer on its
/// first buffered call, and a buffer larger than this saves no syscalls worth the memory.
inline constexpr std::size_t kMaxBufferSize = std::size_t{64} << 20;

/// Options of File::open (designated initializers: `{.buffer_size = 0}`).
struct OpenOptions {
  Backend backend = Backend::Default;  ///< resolved once, at open (resolve_backend)
  /// Read/write buffer; 0: unbuffered. At most kMaxBufferSize (File::open refuses more).
  std::size_t buffer_size = 64 * 1024;
  mode_t permissions = 0666;  ///< of a created file, before the umask
};

/// Origin of File::seek.
enum class Whence { Start, Current, End };

/// The default maximum length of one line of File::lines().
inline constexpr std::size_t kDefaultMaxLine = 1 << 20;

/// The default maximum of File::read_all() and read_file(): 1 GiB.
inline constexpr std::size_t kDefaultMaxReadAll = std::size_t{1} << 30;

/// Thrown by File::lines() when a line is longer than its limit.
class LineTooLong : public std::length_error {
 public:
  /// `path`: the file; `limit`: the maximum line length that was exceeded.
  LineTooLong(const std::string& path, std::size_t limit);
  /// The maximum line length that was exceeded.
  std::size_t limit() const noexcept { return limit_; }

 private:
  std::size_t limit_;
};

/// An open file (aiofiles.open). Move-only. One operation at a time: a File is not for
/// concurrent use by two tasks, but it may move between tasks and workers between
/// operations.
///
/// Dropping an open File (destroyed, or assigned over) without `co_await close()` loses
/// nothing it took: its buffered writes go out at its position (at the end, in append mode)
/// before the descriptor is closed (Tokio's File finishes its pending write so, and Python's
/// files flush when they are collected). On a worker that happens in the background, on the
/// runtime's blocking pool whatever the backend (so the worker never blocks), and
/// Runtime::shutdown and weft::run return only after it; on any other thread (a File still
/// alive after run returned) the destructor does it at once. Nobody is left to throw to, so a
/// failure there is reported on stderr, naming the path and the error. `co_await close()` to
/// see errors, and to know the bytes are in the file when it returns (after a drop on a
/// worker, a read may come before the background write). A File with nothing buffered closes
/// its descriptor inline.
class File {
 public:
  /// Opens `path` with a Python mode string: one of `r` (read), `w` (truncate or create),
  /// `a` (append, create), `x` (create, fail if it exists), optionally `+` (read and
  /// write) and one of `b` / `t` (the same bytes on Linux). Throws std::invalid_argument
  /// naming a bad mode, or naming the path and an OpenOptions::buffer_size above
  /// kMaxBufferSize (both before any syscall), std::system_error "open PATH: reason". Opening
  /// a directory for reading succeeds; reading it fails with EISDIR.
  static Task<File> open(std::filesystem::path path, std::string_view mode = "r",
                         OpenOptions options = {});

  /// A closed File (is_open() is false).
  File() noexcept = default;
  /// Takes `o`'s descriptor, position and buffer; `o` is left closed.
  File(File&& o) noexcept;
  /// Drops this File as the destructor does (its buffered writes are kept), then takes `o`'s
  /// descriptor, position and buffer.
  File& operator=(File&& o) noexcept;
  /// Closes an open descriptor after writing out what is buffered, in the background on a
  /// worker (see the class comment); errors go to stderr.
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  /// False once closed (or moved from).
  bool is_open() const noexcept { return fd_ >= 0; }
  /// The descriptor (-1 when closed).
  int fd() const noexcept { return fd_; }
  /// The path it was opened with.
  const std::filesystem::path& path() const noexcept { return path_; }
  /// The backend its syscalls use (Pool or Uring).
  Backend backend() const noexcept { return backend_; }

  /// Reads into `buf` from the position: all of it, fewer bytes only at end of file (0 there).
  /// Throws std::system_error "read PATH: reason".
  Task<std::size_t> read(std::span<std::byte> buf);
  /// Reads up to `n` bytes from the position (fewer only at end of file): any `n` is
  /// accepted, and a short file returns what it holds. Memory follows the bytes read, not
  /// `n`: up to 1 MiB is allocated at once (the whole result, for a smaller `n`), and a
  /// larger read grows its result as the file fills it. Throws std::system_error "read
  /// PATH: reason" (std::bad_alloc only if the file really holds more than memory does).
  Task<std::string> read(std::size_t n);
  /// Reads from the position to the end of the file, allocating as the bytes arrive. Throws
  /// std::length_error "weft::fs::File::read_all PATH: more than the maximum of MAX bytes (N
  /// bytes read)" once more than `max` bytes are there (the bytes read are dropped: the
  /// position is past them), std::system_error "read PATH: reason".
  Task<std::string> read_all(std::size_t max = kDefaultMaxReadAll);

  /// Writes `data` at the position (the end, in append mode). Buffered files take all of it
  /// (and write it out when the buffer fills or is flushed); unbuffered ones make one
  /// write(2), which may take fewer bytes. Returns how many it took. Throws
  /// std::system_error "write PATH: reason" (for buffered data, maybe on a later call).
  Task<std::size_t> write(std::span<const std::byte> data);
  /// write(span) of the bytes of `data`.
  Task<std::size_t> write(std::string_view data);
  /// Writes all of `data` (loops over write()). Throws std::system_error "write PATH: reason".
  Task<void> write_all(std::span<const std::byte> data);
  /// write_all(span) of the bytes of `data`.
  Task<void> write_all(std::string_view data);

  /// Reads up to `buf.size()` bytes at `offset`, leaving the position alone (fewer only at
  /// end of file). Sees this File's buffered writes (they are flushed first). Throws
  /// std::system_error "pread PATH: reason", and std::invalid_argument naming the call, the
  /// path and the offset, before doing anything, for an offset above INT64_MAX (the largest
  /// file offset).
  Task<std::size_t> pread(std::span<std::byte> buf, std::uint64_t offset);
  /// Reads up to `n` bytes at `offset`, allocating for the bytes read as read(n) does.
  /// Throws as pread(span, offset).
  Task<std::string> pread(std::size_t n, std::uint64_t offset);
  /// Writes all of `data` at `offset`, leaving the position alone (buffered writes go
  /// first; a read buffer is dropped). In append mode Linux appends instead (pwrite(2)).
  /// Throws std::system_error "pwrite PATH: reason", and std::invalid_argument naming the
  /// call, the path and the offset, before doing anything, for an offset above INT64_MAX.
  Task<void> pwrite(std::span<const std::byte> data, std::uint64_t offset);
  /// pwrite(span) of the bytes of `data`.
  Task<void> pwrite(std::string_view data, std::uint64_t offset);

  /// Moves the position (lseek); returns the new one. Throws std::system_error "seek PATH:
  /// reason", e.g. for a negative result.
  Task<std::uint64_t> seek(std::int64_t offset, Whence whence = Whence::Start);
  /// The position, counting buffered data.
  Task<std::uint64_t> tell();

  /// Writes out the write buffer.
  Task<void> flush();
  /// Flushes, then fsync(2) (fdatasync(2) with `data_only`): the data is on the device.
  Task<void> sync(bool data_only = false);
  /// Flushes and closes. Idempotent. The descriptor is closed even when flushing fails (the
  /// error is then thrown after closing). Throws std::system_error "close PATH: reason".
  Task<void> close();

  /// The lines from the position to the end of the file, each without its '\n' (a last line
  /// without one is yielded too). A line longer than `max_line` bytes throws LineTooLong
  /// rather than grow without bound. The File must outlive the generator; after it ends the
  /// position is the end of the file, and after it is dropped early, the end of the last line
  /// it yielded.
  AsyncGenerator<std::string> lines(std::size_t max_line = kDefaultMaxLine);

 private:
  File(int fd, std::filesystem::path path, Backend backend, OpenOptions options);
  static Task<File> open_with_flags(std::filesystem::path path, int flags, OpenOptions options,
                                    Backend backend);
  Task<std::size_t> raw_read(std::byte* buf, std::size_t n, std::int64_t offset);
  Task<std::size_t> raw_write(const std::byte* buf, std::size_t n, std::int64_t offset,
                              std::size_t* written = nullptr);
  Task<void> raw_write_all(const std::byte* buf, std::size_t n, std::int64_t offset);
  friend Task<std::string> read_file(std::filesystem::path, Backend, std::size_t);
  Task<std::string> read_rest(const char* what, std::size_t max);
  Task<bool> fill_buffer();
  Task<void> drop_read_buffer();
  void check_open(const char* what) const;
  void drop() noexcept;

  int fd_ = -1;
  std::filesystem::path path_;
  Backend backend_ = Backend::Pool;
  std::vector<std::byte> buf_;  // the read or the write buffer (capacity: buffer_size)
  std::size_t buf_begin_ = 0;   // read buffer: unread bytes are [buf_begin_, buf_end_)
  std::size_t buf_end_ = 0;     // write buffer: pending bytes are [0, buf_end_)
  bool writing_ = false;        // buf_ holds pending writes (else unread data, if any)
  std::size_t capacity_ = 0;
};

/// Reads the whole file at `path` (open, read to the end, close). Memory follows the bytes
/// read: on the pool, a regular file costs one allocation of its size, and any other file (a
/// /proc file reports a size of 0, a device anything) or one that grew is read to its end,
/// growing as it goes. Throws std::length_error "weft::fs::read_file PATH: more than the
/// maximum of MAX bytes (...)" for a file longer than `max` (a regular file's size can tell
/// before anything is read), std::system_error naming the operation and the path.
Task<std::string> read_file(std::filesystem::path path, Backend backend = Backend::Default,
                            std::size_t max = kDefaultMaxReadAll);

/// Creates or truncates `path` and writes `data` to it. `data` must stay valid until the
/// task ends (await it at once). Throws std::system_error naming the operation and the path.
Task<void> write_file(std::filesystem::path path, std::string_view data,
                      Backend backend = Backend::Default);

/// What a path names.
enum class FileType { Regular, Directory, Symlink, Block, Character, Fifo, Socket, Unknown };

/// The answer of stat().
struct FileStatus {
  FileType type = FileType::Unknown;
  std::uint64_t size = 0;                          ///< in bytes
  mode_t permissions = 0;                          ///< the permission bits (07777)
  std::chrono::system_clock::time_point modified;  ///< the last data modification
  std::uint64_t links = 0;                         ///< hard links
  /// True for a regular file.
  bool is_regular() const noexcept { return type == FileType::Regular; }
  /// True for a directory.
  bool is_directory() const noexcept { return type == FileType::Directory; }
};

/// stat(2) (lstat(2) without `follow_symlinks`). Throws std::system_error "stat PATH: reason".
Task<FileStatus> stat(std::filesystem::path path, bool follow_symlinks = true);

/// True if `path` names something (following symlinks); false for ENOENT and ENOTDIR.
/// Other errors (EACCES on a parent...) throw std::system_error "stat PATH: reason".
Task<bool> exists(std::filesystem::path path);

/// Removes a file, symlink or empty directory. Throws std::system_error "remove PATH: reason".
Task<void> remove(std::filesystem::path path);

/// Renames `from` to `to` (rename(2): replaces a file at `to`). Throws std::system_error
/// "rename FROM -> TO: reason".
Task<void> rename(std::filesystem::path from, std::filesystem::path to);

/// Options of mkdir (designated initializers: `{.parents = true}`).
struct MkdirOptions {
  bool parents = false;       ///< create missing parents; an existing directory is fine
  mode_t permissions = 0777;  ///< before the umask
};

/// Creates a directory. Without `parents`, an existing path is an error (EEXIST). Throws
/// std::system_error "mkdir PATH: reason".
Task<void> mkdir(std::filesystem::path path, MkdirOptions options = {});

/// One entry of list_dir.
struct DirEntry {
  std::string name;                   ///< the file name, without the directory
  FileType type = FileType::Unknown;  ///< from the directory (Unknown if it does not say)
};

/// The entries of the directory `path`, without "." and "..", in the directory's order. Reads
/// them in batches on the blocking pool. Throws std::system_error "list_dir PATH: reason".
AsyncGenerator<DirEntry> list_dir(std::filesystem::path path);

}  // namespace weft::fs
