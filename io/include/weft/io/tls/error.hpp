// weft::tls::Error: how TLS operations fail.
//
// Every failure of a handshake, read, write or shutdown is a tls::Error, a std::system_error
// whose what() names the operation, the peer and the reason:
//
//   tls handshake 127.0.0.1:8443 (localhost): certificate verify failed: hostname mismatch
//   tls handshake 127.0.0.1:50312: tlsv1 alert unknown ca
//   tls write 127.0.0.1:8443: Connection reset by peer
//
// (A read that meets the end of the TCP connection without close_notify says "the peer
// closed the connection without close_notify: unexpected eof while reading".)
//
// and whose code() says which kind of reason it is:
// - verify_category(): the peer's certificate failed verification; the value is OpenSSL's
//   X509_V_ERR_* code (X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_HOSTNAME_MISMATCH ...);
// - ssl_category(): any other OpenSSL error; the value is OpenSSL's packed error code
//   (ERR_get_error, without ERR_SYSTEM_FLAG), its message OpenSSL's reason string;
// - std::system_category(): the socket failed (errno: ECONNRESET, EPIPE ...), so code that
//   handles a reset connection the same for TCP and TLS streams catches std::system_error.
#pragma once

#include <string>
#include <system_error>

namespace weft::tls {

/// A TLS operation failed (see the file comment for what() and code()).
class Error : public std::system_error {
 public:
  /// what() is "`what`: <code's message>".
  Error(std::error_code code, const std::string& what) : std::system_error(code, what) {}
};

/// The category of OpenSSL's error codes (ERR_get_error); message(): OpenSSL's reason.
const std::error_category& ssl_category() noexcept;
/// The category of certificate verification results (X509_V_ERR_*); message():
/// X509_verify_cert_error_string.
const std::error_category& verify_category() noexcept;

}  // namespace weft::tls
