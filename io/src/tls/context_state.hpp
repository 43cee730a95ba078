// The state behind a weft::tls::Context: its SSL_CTX and what the SSL_CTX's callbacks read.
// Made whole by Context::server or Context::client and never changed after, so any number
// of threads may make SSL objects from it at once (SSL_new on a configured SSL_CTX is
// thread-safe in OpenSSL 3).
#pragma once

#include <openssl/ssl.h>

#include <vector>

namespace weft::tls::detail {

struct ContextState {
  ContextState() = default;
  ContextState(const ContextState&) = delete;
  ContextState& operator=(const ContextState&) = delete;
  ~ContextState() { SSL_CTX_free(ctx); }

  SSL_CTX* ctx = nullptr;
  bool server = false;
  /// A client context that checks the server's certificate and host name.
  bool verify = false;
  /// The ALPN protocols in wire format (each name after a length byte): a server's select
  /// callback reads them.
  std::vector<unsigned char> alpn;
};

}  // namespace weft::tls::detail
