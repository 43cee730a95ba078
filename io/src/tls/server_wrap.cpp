// The wrap step of a TLS server: the handshake under a deadline (server_wrap.hpp).
#include "weft/io/tls/server_wrap.hpp"

#include <stdexcept>
#include <utility>

#include <weft/runtime/cancel.hpp>

#include "weft/io/net/any_stream.hpp"
#include "weft/io/tls/stream.hpp"

namespace weft::tls {

namespace {

// A coroutine of its own with its arguments by value: the frame owns the context's
// reference, whatever happens to the std::function that called it.
Task<net::AnyStream> handshake(net::TcpStream tcp, Context ctx, std::chrono::milliseconds timeout) {
  // accept() closes the socket if the deadline cancels it part-way.
  co_return net::AnyStream(co_await wait_for(accept(std::move(tcp), ctx), timeout));
}

}  // namespace

net::ConnectionWrapper server_wrap(Context ctx, std::chrono::milliseconds handshake_timeout) {
  if (!ctx.is_server()) {
    throw std::invalid_argument("weft::tls::server_wrap: the context is a client context");
  }
  return [ctx = std::move(ctx), handshake_timeout](net::TcpStream tcp) {
    return handshake(std::move(tcp), ctx, handshake_timeout);
  };
}

}  // namespace weft::tls
