#include "chunked_decoder.hpp"

#include "chars.hpp"

namespace weft::http {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t';
}

/// The maximum hex digits of a chunk size: 64 bits.
constexpr unsigned kMaxSizeDigits = 16;

}  // namespace

ChunkedDecoder::Result ChunkedDecoder::fail(ParseErrc code, std::size_t offset) noexcept {
  error_ = {code, offset};
  state_ = State::kError;
  return {Status::kError, 0, {}};
}

ChunkedDecoder::Result ChunkedDecoder::decode(std::string_view in) noexcept {
  if (state_ == State::kDone) return {Status::kDone, 0, {}};
  if (state_ == State::kError) return {Status::kError, 0, {}};
  const std::size_t n = in.size();
  for (std::size_t i = 0; i < n; ++i) {
    const char c = in[i];
    switch (state_) {
      case State::kSizeStart: {
        int d = hex_value(c);
        if (d < 0)
          return fail(c == '\n' ? ParseErrc::kBareLf : ParseErrc::kBadChunkSize, offset_ + i);
        size_at_ = offset_ + i;
        size_ = static_cast<std::uint64_t>(d);
        digits_ = 1;
        state_ = State::kSize;
        break;
      }
      case State::kSize: {
        int d = hex_value(c);
        if (d >= 0) {
          if (++digits_ > kMaxSizeDigits) return fail(ParseErrc::kChunkSizeTooLong, offset_ + i);
          size_ = (size_ << 4) | static_cast<std::uint64_t>(d);
          break;
        }
        if (size_ > limits_.max_body - body_size_) return fail(ParseErrc::kBodyTooLarge, size_at_);
        body_size_ += size_;
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == ';' || is_space(c)) {
          // chunk-ext = *( BWS ";" ... ): whitespace may come before a ';' only.
          if (++extensions_ > limits_.max_extensions) {
            return fail(ParseErrc::kChunkExtensionsTooLong, offset_ + i);
          }
          state_ = c == ';' ? State::kExtension : State::kSizeSpace;
        } else {
          return fail(c == '\n' ? ParseErrc::kBareLf : ParseErrc::kBadChunkSize, offset_ + i);
        }
        break;
      }
      case State::kSizeSpace:
        if (!is_space(c) && c != ';') {
          return fail(c == '\n' ? ParseErrc::kBareLf : ParseErrc::kBadChunkExtension, offset_ + i);
        }
        if (++extensions_ > limits_.max_extensions) {
          return fail(ParseErrc::kChunkExtensionsTooLong, offset_ + i);
        }
        if (c == ';') state_ = State::kExtension;
        break;
      case State::kExtension:
        if (c == '\r') {
          state_ = State::kSizeLf;
          break;
        }
        if (!chars::kValue[static_cast<unsigned char>(c)]) {
          return fail(c == '\n' ? ParseErrc::kBareLf : ParseErrc::kBadChunkExtension, offset_ + i);
        }
        if (++extensions_ > limits_.max_extensions) {
          return fail(ParseErrc::kChunkExtensionsTooLong, offset_ + i);
        }
        break;
      case State::kSizeLf:
        if (c != '\n') return fail(ParseErrc::kBareCr, offset_ + i - 1);
        state_ = size_ == 0 ? State::kTrailerStart : State::kData;
        break;
      case State::kData: {
        std::size_t take = n - i < size_ ? n - i : static_cast<std::size_t>(size_);
        size_ -= take;
        if (size_ == 0) state_ = State::kDataCr;
        offset_ += i + take;
        return {Status::kData, i + take, in.substr(i, take)};
      }
      case State::kDataCr:
        if (c != '\r') {
          return fail(c == '\n' ? ParseErrc::kBareLf : ParseErrc::kBadChunkEnd, offset_ + i);
        }
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (c != '\n') return fail(ParseErrc::kBareCr, offset_ + i - 1);
        state_ = State::kSizeStart;
        break;
      case State::kTrailerStart:
      case State::kTrailerName:
      case State::kTrailerValue:
      case State::kTrailerLf:
      case State::kEndLf:
        if (++trailers_ > limits_.max_trailers)
          return fail(ParseErrc::kTrailersTooLarge, offset_ + i);
        switch (state_) {
          case State::kTrailerStart:
            if (c == '\r') {
              state_ = State::kEndLf;
            } else if (chars::kToken[static_cast<unsigned char>(c)]) {
              state_ = State::kTrailerName;
            } else {
              return fail(c == '\n'     ? ParseErrc::kBareLf
                          : is_space(c) ? ParseErrc::kObsFold
                                        : ParseErrc::kBadTrailer,
                          offset_ + i);
            }
            break;
          case State::kTrailerName:
            if (c == ':') {
              state_ = State::kTrailerValue;
            } else if (!chars::kToken[static_cast<unsigned char>(c)]) {
              return fail(is_space(c) ? ParseErrc::kSpaceBeforeColon : ParseErrc::kBadTrailer,
                          offset_ + i);
            }
            break;
          case State::kTrailerValue:
            if (c == '\r') {
              state_ = State::kTrailerLf;
            } else if (!chars::kValue[static_cast<unsigned char>(c)]) {
              return fail(c == '\n' ? ParseErrc::kBareLf : ParseErrc::kBadTrailer, offset_ + i);
            }
            break;
          case State::kTrailerLf:
            if (c != '\n') return fail(ParseErrc::kBareCr, offset_ + i - 1);
            state_ = State::kTrailerStart;
            break;
          default:  // kEndLf
            if (c != '\n') return fail(ParseErrc::kBareCr, offset_ + i - 1);
            state_ = State::kDone;
            offset_ += i + 1;
            return {Status::kDone, i + 1, {}};
        }
        break;
      case State::kDone:
      case State::kError:
        break;  // returned before the loop
    }
  }
  offset_ += n;
  return {Status::kNeedMore, n, {}};
}

}  // namespace weft::http
