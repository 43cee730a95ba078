// The socket BIO of tls::Stream (socket_bio.hpp).
//
// Every callback runs inside an SSL call that StreamState::attempt makes under the stream's
// mutex, so the state it touches (`eof`, `bio_error`) needs no more locking. The callbacks
// are called from C: nothing may be thrown out of them.
#include "socket_bio.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <system_error>

#include "stream_state.hpp"
#include "weft/io/tls/error.hpp"

namespace weft::tls::detail {

namespace {

StreamState& state_of(BIO* b) {
  return *static_cast<StreamState*>(BIO_get_data(b));
}

int read_ex(BIO* b, char* out, std::size_t len, std::size_t* got) noexcept {
  StreamState& s = state_of(b);
  BIO_clear_retry_flags(b);
  try {
    const std::optional<std::size_t> n =
        s.tcp.try_read(std::span(reinterpret_cast<std::byte*>(out), len));
    if (!n) {
      BIO_set_retry_read(b);
      return 0;
    }
    if (*n == 0) {
      s.eof = true;
      return 0;
    }
    *got = *n;
    return 1;
  } catch (...) {
    s.bio_error = std::current_exception();
    return 0;
  }
}

int write_ex(BIO* b, const char* in, std::size_t len, std::size_t* put) noexcept {
  StreamState& s = state_of(b);
  BIO_clear_retry_flags(b);
  try {
    const std::optional<std::size_t> n =
        s.tcp.try_write(std::span(reinterpret_cast<const std::byte*>(in), len));
    if (!n) {
      BIO_set_retry_write(b);
      return 0;
    }
    *put = *n;
    return 1;
  } catch (...) {
    s.bio_error = std::current_exception();
    return 0;
  }
}

long ctrl(BIO* b, int cmd, long /*num*/, void* /*ptr*/) noexcept {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // every write went to the socket already
    case BIO_CTRL_EOF:
      return state_of(b).eof ? 1 : 0;  // tells OpenSSL's read that 0 bytes was the end
    default:
      return 0;  // no kTLS, no BIO chains, nothing pending outside OpenSSL
  }
}

/// The method, made once and kept for the life of the process.
BIO_METHOD* method() {
  static BIO_METHOD* const m = [] {
    BIO_METHOD* meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weft socket");
    if (meth == nullptr || BIO_meth_set_read_ex(meth, read_ex) != 1 ||
        BIO_meth_set_write_ex(meth, write_ex) != 1 || BIO_meth_set_ctrl(meth, ctrl) != 1) {
      throw Error(std::make_error_code(std::errc::not_enough_memory), "tls: BIO_meth_new");
    }
    return meth;
  }();
  return m;
}

}  // namespace

BIO* make_socket_bio(StreamState& s) {
  BIO* b = BIO_new(method());
  if (b == nullptr) {
    throw Error(std::make_error_code(std::errc::not_enough_memory), "tls: BIO_new");
  }
  BIO_set_data(b, &s);
  BIO_set_init(b, 1);
  return b;
}

}  // namespace weft::tls::detail
