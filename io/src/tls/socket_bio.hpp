// The BIO through which a tls::Stream's SSL object reads and writes its socket.
#pragma once

#include <openssl/bio.h>

namespace weft::tls::detail {

struct StreamState;

/// A BIO over `s.tcp`: reads are TcpStream::try_read, writes TcpStream::try_write (send(2)
/// with MSG_NOSIGNAL), straight between the socket and OpenSSL's buffers. A socket that is
/// not ready is a retryable read or write (SSL_ERROR_WANT_READ/WRITE); the end of the TCP
/// stream sets `s.eof` (BIO_eof); an exception of the socket call is kept in `s.bio_error`
/// for StreamState::fail (it cannot cross OpenSSL's C frames). Does not own the socket.
/// Throws tls::Error if OpenSSL cannot allocate it.
BIO* make_socket_bio(StreamState& s);

}  // namespace weft::tls::detail
