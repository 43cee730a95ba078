// weft::net::LimitOverrun, detail::ReadBuffer and BufferedStream (stream.hpp).
#include "weft/io/net/stream.hpp"

#include <cstdint>
#include <string>

namespace weft::net {

LimitOverrun::LimitOverrun(const std::string& what, std::size_t limit, std::size_t buffered)
    : std::length_error(what + ": no delimiter within the limit of " + std::to_string(limit) +
                        " bytes (" + std::to_string(buffered) + " buffered)"),
      limit_(limit),
      buffered_(buffered) {}

namespace detail {

void throw_read_too_large(const char* what, std::size_t n, std::size_t max) {
  throw std::length_error(std::string("weft::net::BufferedReader::") + what + ": " +
                          std::to_string(n) + " bytes asked for, more than the maximum of " +
                          std::to_string(max) + " (ReaderOptions::max_read)");
}

ReadBuffer::ReadBuffer(std::size_t limit) : limit_(limit) {
  if (limit == 0) throw std::invalid_argument("weft::net::BufferedReader: limit must be positive");
}

std::size_t ReadBuffer::find_record(std::string_view delim, const char* what) const {
  const std::string_view have(reinterpret_cast<const char*>(buf_.data() + begin_), size());
  const std::size_t at = have.find(delim);
  if (at == std::string_view::npos) {
    if (size() >= limit_) throw LimitOverrun(what, limit_, size());
    return 0;
  }
  if (at + delim.size() > limit_) throw LimitOverrun(what, limit_, size());
  return at + delim.size();
}

std::string ReadBuffer::take(std::size_t n) {
  n = std::min(n, size());
  std::string out(reinterpret_cast<const char*>(buf_.data() + begin_), n);
  begin_ += n;
  return out;
}

std::size_t ReadBuffer::take_into(std::span<std::byte> dst) noexcept {
  const std::size_t n = std::min(dst.size(), size());
  if (n > 0) std::memcpy(dst.data(), buf_.data() + begin_, n);
  begin_ += n;
  return n;
}

std::span<std::byte> ReadBuffer::space(std::size_t want) {
  if (begin_ == end_) begin_ = end_ = 0;
  // A delimiter search needs the whole record in the buffer, so the buffer holds up to the
  // limit plus one read chunk at most; compact before growing.
  if (buf_.size() - end_ < want && begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, size());
    end_ -= begin_;
    begin_ = 0;
  }
  if (buf_.size() - end_ < want) {
    // The ceiling saturates: a limit near SIZE_MAX ("no limit") must not wrap it below the
    // bytes held, which would leave no room and read as the end of the stream.
    const std::size_t bound = std::max(limit_, end_);
    const std::size_t ceiling = bound > SIZE_MAX - want ? SIZE_MAX : bound + want;
    buf_.resize(std::min(std::max(buf_.size() * 2, end_ + want), ceiling));
  }
  return {buf_.data() + end_, buf_.size() - end_};
}

}  // namespace detail

Task<void> BufferedStream::finish_writing() {
  co_await writer_.flush();
  co_await stream_.finish_writing();
}

Task<void> BufferedStream::close() {
  std::exception_ptr err;
  try {
    co_await writer_.flush();
  } catch (...) {
    err = std::current_exception();
  }
  stream_.close();
  if (err) std::rethrow_exception(err);
}

}  // namespace weft::net
