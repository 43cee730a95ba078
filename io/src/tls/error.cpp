// weft::tls's error categories (error.hpp) and the conversion of OpenSSL's error codes.
#include "weft/io/tls/error.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <string>

#include "errors.hpp"

namespace weft::tls {

namespace {

class SslCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int ev) const override {
    // OpenSSL's reason alone ("certificate verify failed") reads best after the operation
    // and the peer; a code without one gets OpenSSL's full rendering.
    if (const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ev))) {
      return reason;
    }
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ev), buf, sizeof buf);
    return buf;
  }
};

class VerifyCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "x509 verify"; }
  std::string message(int ev) const override { return X509_verify_cert_error_string(ev); }
};

}  // namespace

const std::error_category& ssl_category() noexcept {
  static const SslCategory c;
  return c;
}

const std::error_category& verify_category() noexcept {
  static const VerifyCategory c;
  return c;
}

namespace detail {

std::error_code error_code_of(unsigned long e) noexcept {
  if (e == 0) return std::make_error_code(std::errc::io_error);
  // A failed system call inside OpenSSL (a file it opened, say): the errno.
  if (ERR_SYSTEM_ERROR(e)) return {ERR_GET_REASON(e), std::system_category()};
  // Library and reason fit in 31 bits (OpenSSL 3's ERR_PACK), so an int holds them.
  return {static_cast<int>(e), ssl_category()};
}

void throw_openssl_error(const std::string& what) {
  const unsigned long e = ERR_peek_error();
  ERR_clear_error();
  throw Error(error_code_of(e), what);
}

}  // namespace detail

}  // namespace weft::tls
