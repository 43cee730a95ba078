// weft::net::AnyStream (any_stream.hpp): the out-of-line pieces, and the check that weft's
// own streams model ByteStream.
#include "weft/io/net/any_stream.hpp"

#include <string>

#include <weft/runtime/errors.hpp>

#include "weft/io/net/unix.hpp"

namespace weft::net {

static_assert(ByteStream<TcpStream>);
static_assert(ByteStream<UnixStream>);
static_assert(ByteStream<AnyStream>);

AnyStream::Base::~Base() = default;

namespace detail {

void throw_empty_stream(const char* what) {
  throw UsageError(std::string("weft::net::AnyStream::") + what +
                   ": an empty AnyStream (default-made or moved from)");
}

}  // namespace detail

}  // namespace weft::net
