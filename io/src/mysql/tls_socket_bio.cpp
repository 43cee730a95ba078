// use_nosignal_socket_bio (tls_socket_bio.hpp).
#include "tls_socket_bio.hpp"

// After mysql.h: the library's I/O layer, whose MARIADB_PVIO holds the MARIADB_TLS that holds
// the SSL. ma_pvio.h declares it void unless HAVE_TLS, which would have ma_tls.h included
// before the type it needs: ma_tls.h comes after, and the pointer is cast.
#include <ma_pvio.h>
#undef MARIADB_TLS
#include <ma_tls.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <new>

namespace weft::mysql::detail {
namespace {

/// OpenSSL's socket write (bss_sock.c's sock_write), with MSG_NOSIGNAL.
int nosignal_write(BIO* b, const char* data, int len) {
  const int fd = static_cast<int>(BIO_get_fd(b, nullptr));
  BIO_clear_retry_flags(b);
  ssize_t n = 0;
  do {
    n = ::send(fd, data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n <= 0 && BIO_sock_should_retry(static_cast<int>(n))) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

/// The method, made once and kept for the process: OpenSSL's socket BIO but for the write.
BIO_METHOD* nosignal_socket_method() {
  static BIO_METHOD* const method = [] {
    const BIO_METHOD* socket = BIO_s_socket();
    BIO_METHOD* m = BIO_meth_new(BIO_TYPE_SOCKET, "weft mysql socket");
    if (m && (BIO_meth_set_write(m, &nosignal_write) != 1 ||
              BIO_meth_set_read(m, BIO_meth_get_read(socket)) != 1 ||
              BIO_meth_set_puts(m, BIO_meth_get_puts(socket)) != 1 ||
              BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(socket)) != 1 ||
              BIO_meth_set_create(m, BIO_meth_get_create(socket)) != 1 ||
              BIO_meth_set_destroy(m, BIO_meth_get_destroy(socket)) != 1)) {
      BIO_meth_free(m);
      m = nullptr;
    }
    return m;
  }();
  return method;
}

}  // namespace

bool use_nosignal_socket_bio(MYSQL* m) {
  MARIADB_PVIO* p = m->net.pvio;
  auto* tls = p ? static_cast<MARIADB_TLS*>(p->ctls) : nullptr;
  if (!tls || !tls->ssl) return false;
  BIO_METHOD* method = nosignal_socket_method();
  BIO* b = method ? BIO_new(method) : nullptr;
  if (!b) throw std::bad_alloc();
  BIO_set_fd(b, static_cast<int>(mysql_get_socket(m)), BIO_NOCLOSE);
  // The session takes the one reference for both directions and frees the old BIO (made
  // with BIO_NOCLOSE: the socket stays open). Nothing of the session is buffered in a
  // socket BIO, and no write is half done once the connect has returned.
  SSL_set_bio(static_cast<SSL*>(tls->ssl), b, b);
  return true;
}

}  // namespace weft::mysql::detail
