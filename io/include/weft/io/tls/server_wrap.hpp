// weft::tls::server_wrap: HTTPS and every other TLS server on net::start_server. The wrap
// step it returns runs the server handshake on each accepted connection, in that
// connection's own task (ServerOptions::wrap), so a slow client never holds up the accept
// loop; the handler's BufferedStream then reads and writes plaintext.
//
//   net::ServerOptions options;
//   options.wrap = tls::server_wrap(tls::Context::server({...}));
//   auto server = co_await net::start_server(handler, "0.0.0.0", 8443, options);
#pragma once

#include <chrono>

#include "weft/io/net/server.hpp"
#include "weft/io/tls/context.hpp"

namespace weft::tls {

/// A wrap step for net::ServerOptions::wrap that runs the server handshake with `ctx` (a
/// server context; it is shared, not copied). A handshake not done within
/// `handshake_timeout` fails with weft::TimeoutError and closes the socket: the connection
/// holds a max_connections slot while it runs, so a client that connects and sends nothing
/// must not keep it. The failure goes to ServerOptions::on_error with the peer's address.
/// Throws std::invalid_argument for a client context.
net::ConnectionWrapper server_wrap(
    Context ctx, std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10));

}  // namespace weft::tls
