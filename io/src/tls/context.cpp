// weft::tls::Context (context.hpp): building the SSL_CTX.
#include "weft/io/tls/context.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "context_state.hpp"
#include "errors.hpp"
#include "weft/io/tls/error.hpp"

namespace weft::tls {

namespace {

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

/// The whole of file `path`, read at once. Throws tls::Error "tls context: `what` PATH:
/// reason".
std::string read_file(const std::string& path, const char* what) {
  const auto fail = [&] {
    throw Error({errno, std::system_category()}, std::string("tls context: ") + what + " " + path);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail();
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      errno = err;
      fail();
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

/// The PEM of a file/PEM option pair, with the name to give it in errors ("certificate chain
/// file PATH", "certificate chain PEM"). Throws std::invalid_argument unless exactly one of
/// the two is given.
std::pair<std::string, std::string> pem_of(const std::string& file, const std::string& pem,
                                           const char* what, const char* options) {
  if (file.empty() == pem.empty()) {
    throw std::invalid_argument(std::string("weft::tls::Context::server: give exactly one of ") +
                                options);
  }
  if (!pem.empty()) return {pem, std::string(what) + " PEM"};
  return {read_file(file, (std::string(what) + " file").c_str()),
          std::string(what) + " file " + file};
}

BioPtr memory_bio(const std::string& pem, const std::string& where) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) detail::throw_openssl_error("tls context: " + where);
  return bio;
}

/// The ALPN wire format: each name after its length byte. Throws std::invalid_argument
/// naming `who` for an empty name or one longer than 255 bytes.
std::vector<unsigned char> alpn_wire(const std::vector<std::string>& names, const char* who) {
  std::vector<unsigned char> wire;
  for (const std::string& n : names) {
    if (n.empty() || n.size() > 255) {
      throw std::invalid_argument(
          std::string(who) + ": an ALPN protocol name must be 1 to 255 bytes, got \"" + n + "\"");
    }
    wire.push_back(static_cast<unsigned char>(n.size()));
    wire.insert(wire.end(), n.begin(), n.end());
  }
  return wire;
}

/// A new SSL_CTX with the settings servers and clients share, owned by `st`.
void make_ctx(detail::ContextState& st, const SSL_METHOD* method, Version min_version,
              bool ignore_unexpected_eof) {
  st.ctx = SSL_CTX_new(method);
  if (st.ctx == nullptr) detail::throw_openssl_error("tls context: SSL_CTX_new");
  SSL_CTX_set_min_proto_version(st.ctx,
                                min_version == Version::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Renegotiation (TLS 1.2) could make a read write and a write read in the middle of the
  // stream; nothing weft speaks needs it.
  std::uint64_t options = SSL_OP_NO_RENEGOTIATION;
  if (ignore_unexpected_eof) options |= SSL_OP_IGNORE_UNEXPECTED_EOF;
  SSL_CTX_set_options(st.ctx, options);
  // Read ahead: one recv(2) takes as many records as have arrived, not a header and then a
  // body for each. Release buffers: an idle connection holds no 16 KiB record buffers (a
  // server keeps thousands of idle keep-alive connections).
  SSL_CTX_set_read_ahead(st.ctx, 1);
  SSL_CTX_set_mode(st.ctx, SSL_MODE_RELEASE_BUFFERS);
}

/// The server's certificate and its chain from `pem`.
void use_chain(SSL_CTX* ctx, const std::string& pem, const std::string& where) {
  BioPtr bio = memory_bio(pem, where);
  X509* leaf = PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) detail::throw_openssl_error("tls context: " + where);
  const int used = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (used != 1) detail::throw_openssl_error("tls context: " + where);
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
      X509_free(ca);
      detail::throw_openssl_error("tls context: " + where);
    }
  }
  // The loop ends where no PEM block starts: the end of the text, or something else.
  const unsigned long e = ERR_peek_last_error();
  if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
    detail::throw_openssl_error("tls context: " + where);
  }
  ERR_clear_error();
}

/// A passphrase callback that has none: an encrypted key fails to load instead of OpenSSL
/// prompting on the terminal.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return 0;
}

void use_key(SSL_CTX* ctx, const std::string& pem, const std::string& where) {
  BioPtr bio = memory_bio(pem, where);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (key == nullptr) detail::throw_openssl_error("tls context: " + where);
  const int used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used == 1) return;
  const unsigned long e = ERR_peek_error();
  if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
    detail::throw_openssl_error("tls context: the " + where + " does not match the certificate");
  }
  detail::throw_openssl_error("tls context: " + where);
}

/// Trusts every certificate in `pem`. Throws tls::Error if it holds none.
void add_cas(SSL_CTX* ctx, const std::string& pem, const std::string& where) {
  BioPtr bio = memory_bio(pem, where);
  STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr);
  if (infos == nullptr) detail::throw_openssl_error("tls context: " + where);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  bool failed = false;
  for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
    X509* cert = sk_X509_INFO_value(infos, i)->x509;
    if (cert == nullptr) continue;
    if (X509_STORE_add_cert(store, cert) != 1) {
      failed = true;
      break;
    }
    ++added;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  if (failed) detail::throw_openssl_error("tls context: " + where);
  if (added == 0) {
    throw Error(std::make_error_code(std::errc::invalid_argument),
                "tls context: " + where + " holds no PEM certificate");
  }
}

/// The server's ALPN choice: the first of its own protocols that the client offers (RFC
/// 7301: the server's preference), or the no_application_protocol alert if there is none.
int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
                const unsigned char* in, unsigned int inlen, void* arg) {
  const auto& st = *static_cast<const detail::ContextState*>(arg);
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, st.alpn.data(),
                            static_cast<unsigned int>(st.alpn.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

Context Context::server(const ServerOptions& options) {
  auto st = std::make_shared<detail::ContextState>();
  st->server = true;
  st->alpn = alpn_wire(options.alpn, "weft::tls::Context::server");
  const auto [chain, chain_where] =
      pem_of(options.certificate_chain_file, options.certificate_chain_pem, "certificate chain",
             "certificate_chain_file and certificate_chain_pem");
  const auto [key, key_where] = pem_of(options.private_key_file, options.private_key_pem,
                                       "private key", "private_key_file and private_key_pem");
  ERR_clear_error();
  make_ctx(*st, TLS_server_method(), options.min_version, options.ignore_unexpected_eof);
  use_chain(st->ctx, chain, chain_where);
  use_key(st->ctx, key, key_where);
  if (SSL_CTX_check_private_key(st->ctx) != 1) {
    detail::throw_openssl_error("tls context: the " + key_where +
                                " does not match the certificate");
  }
  if (!st->alpn.empty()) SSL_CTX_set_alpn_select_cb(st->ctx, select_alpn, st.get());
  return Context(std::move(st));
}

Context Context::client(const ClientOptions& options) {
  auto st = std::make_shared<detail::ContextState>();
  st->verify = !options.dangerously_skip_verification;
  st->alpn = alpn_wire(options.alpn, "weft::tls::Context::client");
  ERR_clear_error();
  make_ctx(*st, TLS_client_method(), options.min_version, options.ignore_unexpected_eof);
  if (st->verify) {
    SSL_CTX_set_verify(st->ctx, SSL_VERIFY_PEER, nullptr);
    if (options.ca_file.empty() && options.ca_pem.empty() &&
        SSL_CTX_set_default_verify_paths(st->ctx) != 1) {
      detail::throw_openssl_error("tls context: the system trust store");
    }
    if (!options.ca_file.empty()) {
      add_cas(st->ctx, read_file(options.ca_file, "CA file"), "CA file " + options.ca_file);
    }
    if (!options.ca_pem.empty()) add_cas(st->ctx, options.ca_pem, "CA PEM");
  } else {
    SSL_CTX_set_verify(st->ctx, SSL_VERIFY_NONE, nullptr);
  }
  // SSL_CTX_set_alpn_protos returns 0 on success.
  if (!st->alpn.empty() &&
      SSL_CTX_set_alpn_protos(st->ctx, st->alpn.data(),
                              static_cast<unsigned int>(st->alpn.size())) != 0) {
    detail::throw_openssl_error("tls context: ALPN protocols");
  }
  return Context(std::move(st));
}

bool Context::is_server() const noexcept {
  return state_->server;
}

}  // namespace weft::tls
