// The socket BIO of a connection's TLS session, replaced by one whose writes cannot raise
// SIGPIPE.
//
// Connector/C hands its socket to OpenSSL (SSL_set_fd), whose socket BIO writes with
// write(2): a write to a peer that is gone raises SIGPIPE, and weft leaves SIGPIPE's
// disposition to the program. Once the handshake is done, connect() puts this BIO in that
// one's place: OpenSSL's socket BIO (its read, control, create and destroy) with a write of
// its own, send(2) with MSG_NOSIGNAL, so every later write of the session (its close_notify
// included) fails with EPIPE instead, at no cost per call. The connect's own calls, before
// it, run with SIGPIPE blocked (ConnState::call).
#pragma once

#include <mysql.h>

namespace weft::mysql::detail {

/// Puts the BIO in place on `m`'s TLS session. False if `m` has no TLS session (nothing is
/// done). Throws std::bad_alloc if OpenSSL cannot allocate it.
bool use_nosignal_socket_bio(MYSQL* m);

}  // namespace weft::mysql::detail
