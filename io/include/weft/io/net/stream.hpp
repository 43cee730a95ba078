// weft::net::BufferedReader, BufferedWriter and BufferedStream: asyncio's StreamReader and
// StreamWriter over any weft byte stream (TcpStream, UnixStream, a process pipe...).
// BufferedReader and BufferedWriter are templates on the stream; BufferedStream owns its
// connection as an AnyStream (any_stream.hpp), so one type serves every kind.
//
// A reader keeps one buffer. read_line / read_until look for their delimiter in what is
// buffered and read more only when it is not there; the buffer never grows past the
// reader's limit (ReaderOptions::limit, 64 KiB by default, as asyncio's): a line longer than
// that raises LimitOverrun and leaves the bytes buffered, so the caller may still read()
// them or close the connection. No read consumes bytes it does not return: a read that is
// cancelled (or timed out by wait_for) while it waits for more data leaves everything it
// had buffered for the next read. read_exact into a span that meets the end of the stream
// raises IncompleteRead, and the bytes that did arrive are in the span (got()).
// read_exact(n) allocates for the bytes that arrive, not for `n` (a peer that announces a
// gigabyte and sends three bytes costs 64 KiB of room, not the gigabyte), and refuses an `n`
// above the reader's maximum (ReaderOptions::max_read, 1 GiB by default) with
// std::length_error before it reads anything.
//
// A writer collects small writes in its buffer (WriterOptions::buffer, 64 KiB) and writes
// them with one syscall when the buffer would overflow or on flush(); a write at least as
// large as the buffer goes out at once, together with what was buffered (one writev).
// Bytes still buffered when a writer is destroyed are dropped: flush() (or
// BufferedStream::close()) first.
//
// Threads: one task may read while another writes (the reader and the writer share nothing
// but the stream's fd); two tasks must not read (or write) one stream at once.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/runtime/task.hpp>

#include "weft/io/net/any_stream.hpp"
#include "weft/io/net/tcp.hpp"

namespace weft::net {

/// A read_line / read_until found no delimiter within the reader's limit
/// (asyncio.LimitOverrunError). The bytes stay buffered.
class LimitOverrun : public std::length_error {
 public:
  LimitOverrun(const std::string& what, std::size_t limit, std::size_t buffered);
  /// The reader's limit.
  std::size_t limit() const noexcept { return limit_; }
  /// How many bytes were buffered (and still are) when it gave up.
  std::size_t buffered() const noexcept { return buffered_; }

 private:
  std::size_t limit_, buffered_;
};

/// The default largest read_exact(n) of a BufferedReader (ReaderOptions::max_read): 1 GiB.
inline constexpr std::size_t kDefaultMaxRead = std::size_t{1} << 30;

/// Options of a BufferedReader (designated initializers: `{.limit = 1024}`).
struct ReaderOptions {
  std::size_t limit = 64 * 1024;  ///< longest line or delimited record, delimiter included
  /// Largest `n` of read_exact(n): a larger one throws std::length_error. Memory follows
  /// the bytes that arrive whatever this is; it bounds what one call may collect (set it to
  /// the largest message the protocol allows).
  std::size_t max_read = kDefaultMaxRead;
};

/// Options of a BufferedWriter.
struct WriterOptions {
  std::size_t buffer = 64 * 1024;  ///< bytes collected before a write goes out
};

namespace detail {

/// Throws the std::length_error of a read of `n` bytes above the reader's maximum `max`,
/// naming `what` (stream.cpp).
[[noreturn]] void throw_read_too_large(const char* what, std::size_t n, std::size_t max);

/// The bytes a BufferedReader holds and the searching that needs no I/O (stream.cpp).
class ReadBuffer {
 public:
  explicit ReadBuffer(std::size_t limit);

  std::size_t limit() const noexcept { return limit_; }
  std::size_t size() const noexcept { return end_ - begin_; }
  std::span<const std::byte> data() const noexcept { return {buf_.data() + begin_, size()}; }
  /// The position just past the first `delim` in the buffer, or 0 if it is not there yet.
  /// Throws LimitOverrun naming `what` if the record (delimiter included) is longer than the
  /// limit, or if the limit is buffered without a delimiter.
  std::size_t find_record(std::string_view delim, const char* what) const;
  /// Removes and returns the first `n` buffered bytes as a string.
  std::string take(std::size_t n);
  /// Copies up to dst.size() buffered bytes into `dst` and removes them; the count.
  std::size_t take_into(std::span<std::byte> dst) noexcept;
  /// Drops the first `n` buffered bytes.
  void consume(std::size_t n) noexcept { begin_ += std::min(n, size()); }
  /// Room to read into: at least min(want, room below the limit), compacting or growing.
  std::span<std::byte> space(std::size_t want);
  /// Counts `n` bytes read into the span space() gave.
  void commit(std::size_t n) noexcept { end_ += n; }

 private:
  std::vector<std::byte> buf_;
  std::size_t begin_ = 0, end_ = 0;
  std::size_t limit_;
};

}  // namespace detail

/// Reads from a stream `S` (anything with `Task<std::size_t> read(std::span<std::byte>)`,
/// returning 0 at its end) through a buffer. Holds a pointer to the stream, which must
/// outlive it. Move-only.
template <class S>
class BufferedReader {
 public:
  /// Throws std::invalid_argument for a zero `options.limit`.
  explicit BufferedReader(S& stream, ReaderOptions options = {})
      : stream_(&stream), buf_(options.limit), max_read_(options.max_read) {}

  /// One line, with its "\n"; at the end of the stream the last line without one, and then
  /// "" (asyncio's readline). Throws LimitOverrun if no "\n" comes within the limit.
  Task<std::string> read_line() {
    for (;;) {
      if (std::size_t n = buf_.find_record("\n", "read_line")) co_return buf_.take(n);
      if (eof_) co_return buf_.take(buf_.size());
      co_await fill();
    }
  }

  /// The bytes up to and including the first `delim` (asyncio's readuntil). Throws
  /// LimitOverrun if it does not come within the limit, IncompleteRead if the stream ends
  /// first (the bytes stay buffered), std::invalid_argument for an empty `delim`.
  Task<std::string> read_until(std::string_view delim) {
    if (delim.empty()) throw std::invalid_argument("weft::net::read_until: empty delimiter");
    for (;;) {
      if (std::size_t n = buf_.find_record(delim, "read_until")) co_return buf_.take(n);
      if (eof_) throw IncompleteRead(buf_.size(), buf_.size() + delim.size(), "read_until");
      co_await fill();
    }
  }

  /// Fills `dst`; throws IncompleteRead (got(): how much of `dst` was filled) if the stream
  /// ends first.
  Task<void> read_exact(std::span<std::byte> dst) {
    std::size_t got = buf_.take_into(dst);
    while (got < dst.size()) {
      if (eof_) throw IncompleteRead(got, dst.size(), "read_exact");
      const std::size_t n = co_await read_more(dst.subspan(got));
      if (n == 0) throw IncompleteRead(got, dst.size(), "read_exact");
      got += n;
    }
  }

  /// `n` bytes as a string; throws IncompleteRead if the stream ends first (the bytes that
  /// came stay buffered when `n` is within the limit; beyond it they are read straight into
  /// the result and dropped with it). Memory follows the bytes that arrive, not `n`: the
  /// result grows as they come. Throws std::length_error naming read_exact, `n` and the
  /// maximum if `n` is above ReaderOptions::max_read (before reading anything).
  Task<std::string> read_exact(std::size_t n) {
    if (n > max_read_) detail::throw_read_too_large("read_exact", n, max_read_);
    while (buf_.size() < n) {
      if (eof_) throw IncompleteRead(buf_.size(), n, "read_exact");
      if (n > buf_.limit()) co_return co_await read_exact_large(n);
      co_await fill();
    }
    co_return buf_.take(n);
  }

  /// At least one byte into `dst` (buffered ones first); 0 at the end of the stream or for
  /// an empty `dst`.
  Task<std::size_t> read(std::span<std::byte> dst) {
    if (dst.empty()) co_return 0;
    if (buf_.size() > 0) co_return buf_.take_into(dst);
    if (eof_) co_return 0;
    co_return co_await read_more(dst);
  }

  /// Everything up to the end of the stream. Throws LimitOverrun if that is more than
  /// `max` bytes (what was read is dropped: the stream is not what the caller expected).
  Task<std::string> read_all(std::size_t max = 16 * 1024 * 1024) {
    std::string out;
    for (;;) {
      out.append(reinterpret_cast<const char*>(buf_.data().data()), buf_.size());
      buf_.consume(buf_.size());
      if (out.size() > max) throw LimitOverrun("read_all", max, out.size());
      if (eof_) co_return out;
      co_await fill();
    }
  }

  /// The bytes buffered now (read without waiting).
  std::span<const std::byte> buffered() const noexcept { return buf_.data(); }
  /// True once the stream has ended and the buffer is empty.
  bool at_eof() const noexcept { return eof_ && buf_.size() == 0; }
  /// Re-points the reader at `stream` (after the stream was moved).
  void rebind(S& stream) noexcept { stream_ = &stream; }

 private:
  /// Reads once into the buffer; marks the end of the stream on 0.
  Task<void> fill() {
    auto space = buf_.space(kReadChunk);
    const std::size_t n = co_await stream_->read(space);
    if (n == 0) eof_ = true;
    buf_.commit(n);
  }

  /// Reads once into `dst` (the buffer is empty): large reads bypass the buffer.
  Task<std::size_t> read_more(std::span<std::byte> dst) {
    if (dst.size() >= kReadChunk) {
      const std::size_t n = co_await stream_->read(dst);
      if (n == 0) eof_ = true;
      co_return n;
    }
    co_await fill();
    co_return buf_.take_into(dst);
  }

  /// read_exact(n) too big for the buffer (n > buffered): straight into a result that starts
  /// with what is buffered (and room for kGrowFirst bytes at least) and doubles each time it
  /// fills, so it is never much more than twice what arrived, and the copies of its growing
  /// add up to less than `n`.
  Task<std::string> read_exact_large(std::size_t n) {
    std::string out(std::min(n, std::max(buf_.size(), kGrowFirst)), '\0');
    std::size_t got = buf_.take_into(std::as_writable_bytes(std::span(out)));  // all of it
    while (got < n) {
      if (eof_) throw IncompleteRead(got, n, "read_exact");
      if (got == out.size()) out.resize(got + std::min(n - got, got));
      const std::size_t k = co_await read_more(std::as_writable_bytes(std::span(out)).subspan(got));
      if (k == 0) throw IncompleteRead(got, n, "read_exact");
      got += k;
    }
    co_return out;
  }

  static constexpr std::size_t kReadChunk = 16 * 1024;
  static constexpr std::size_t kGrowFirst = 64 * 1024;

  S* stream_;
  detail::ReadBuffer buf_;
  std::size_t max_read_;
  bool eof_ = false;
};

/// Writes to a stream `S` (anything with `Task<void> write_all(std::span<const std::byte>)`
/// and `Task<void> writev(std::span<iovec>)`) through a buffer. Holds a pointer to the
/// stream, which must outlive it. Move-only.
template <class S>
class BufferedWriter {
 public:
  explicit BufferedWriter(S& stream, WriterOptions options = {})
      : stream_(&stream), capacity_(std::max<std::size_t>(options.buffer, 1)) {}

  /// Buffers `data`, writing out first if it would not fit; data at least as large as the
  /// buffer is written at once with what was buffered. Throws what the stream throws (then
  /// nothing of `data` is buffered, and the buffer keeps what was not written).
  Task<void> write(std::span<const std::byte> data) {
    if (buf_.size() + data.size() <= capacity_) {
      append(data);
      co_return;
    }
    if (data.size() < capacity_) {
      co_await flush();
      append(data);
      co_return;
    }
    if (buf_.empty()) {
      co_await stream_->write_all(data);
      co_return;
    }
    iovec iov[2] = {{buf_.data(), buf_.size()}, {const_cast<std::byte*>(data.data()), data.size()}};
    co_await stream_->writev(iov);
    buf_.clear();
  }
  Task<void> write(std::string_view s) { return write(std::as_bytes(std::span(s))); }

  /// Writes out everything buffered. Throws what the stream throws.
  Task<void> flush() {
    if (buf_.empty()) co_return;
    co_await stream_->write_all(buf_);
    buf_.clear();
  }

  /// Bytes waiting in the buffer.
  std::size_t buffered() const noexcept { return buf_.size(); }
  /// Re-points the writer at `stream` (after the stream was moved).
  void rebind(S& stream) noexcept { stream_ = &stream; }

 private:
  void append(std::span<const std::byte> data) {
    if (buf_.capacity() < capacity_) buf_.reserve(capacity_);
    buf_.insert(buf_.end(), data.begin(), data.end());
  }

  S* stream_;
  std::size_t capacity_;
  std::vector<std::byte> buf_;
};

/// Options of a BufferedStream.
struct StreamOptions {
  ReaderOptions reader{};
  WriterOptions writer{};
};

/// A connection with a buffered reader and writer over it: what asyncio's
/// open_connection returns as (reader, writer), in one movable object. It owns its
/// connection as an AnyStream, so one BufferedStream type serves TCP, Unix and TLS
/// connections alike. `reader()` may be used by one task while another uses `writer()`.
class BufferedStream {
 public:
  /// Buffers `stream`: a TcpStream, a UnixStream, or any other ByteStream (each converts to
  /// an AnyStream). Throws std::invalid_argument for a zero `options.reader.limit`.
  explicit BufferedStream(AnyStream stream, StreamOptions options = {})
      : stream_(std::move(stream)),
        reader_(stream_, options.reader),
        writer_(stream_, options.writer) {}
  BufferedStream(BufferedStream&& o) noexcept
      : stream_(std::move(o.stream_)),
        reader_(std::move(o.reader_)),
        writer_(std::move(o.writer_)) {
    reader_.rebind(stream_);
    writer_.rebind(stream_);
  }
  BufferedStream& operator=(BufferedStream&& o) noexcept {
    stream_ = std::move(o.stream_);
    reader_ = std::move(o.reader_);
    writer_ = std::move(o.writer_);
    reader_.rebind(stream_);
    writer_.rebind(stream_);
    return *this;
  }
  BufferedStream(const BufferedStream&) = delete;
  BufferedStream& operator=(const BufferedStream&) = delete;

  BufferedReader<AnyStream>& reader() noexcept { return reader_; }
  BufferedWriter<AnyStream>& writer() noexcept { return writer_; }
  /// The connection itself: its addresses, `tcp()` for TCP's socket options (nullptr on a
  /// Unix or other non-TCP stream), `target<S>()` for the stream's own type (a UnixStream's
  /// peer credentials, a TLS session), and unbuffered I/O, which bypasses what the reader
  /// holds and what the writer has not flushed.
  AnyStream& stream() noexcept { return stream_; }

  /// reader().read_line(): one line with its "\n"; "" at the end of the stream.
  Task<std::string> read_line() { return reader_.read_line(); }
  /// reader().read_until(delim).
  Task<std::string> read_until(std::string_view delim) { return reader_.read_until(delim); }
  /// reader().read_exact(n): throws std::length_error above StreamOptions::reader.max_read.
  Task<std::string> read_exact(std::size_t n) { return reader_.read_exact(n); }
  /// writer().write(s): buffered.
  Task<void> write(std::string_view s) { return writer_.write(s); }
  Task<void> write(std::span<const std::byte> data) { return writer_.write(data); }
  /// writer().flush().
  Task<void> flush() { return writer_.flush(); }

  /// Flushes, then ends the sending side with the stream's finish_writing (a half-close;
  /// TLS sends close_notify): the peer reads the end of the stream (asyncio's write_eof).
  /// Throws what flush() or finish_writing throw.
  Task<void> finish_writing();
  /// Flushes and closes the connection (asyncio's close + wait_closed). If the flush
  /// throws, the connection is closed anyway and the error rethrown.
  Task<void> close();

 private:
  AnyStream stream_;
  BufferedReader<AnyStream> reader_;
  BufferedWriter<AnyStream> writer_;
};

}  // namespace weft::net
