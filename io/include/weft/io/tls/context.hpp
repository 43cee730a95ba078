// weft::tls::Context: the configuration a TLS connection is made with (OpenSSL's SSL_CTX).
//
// A server context holds the certificate chain and private key; a client context holds the
// certificates it trusts (the system's trust store unless given a CA) and verifies the
// server's certificate and host name — on by default, off only through the loudly named
// ClientOptions::dangerously_skip_verification. Both speak TLS 1.2 and 1.3 (1.2 at least;
// ServerOptions/ClientOptions::min_version may raise that to 1.3), both may offer ALPN
// protocols, and TLS 1.2 renegotiation is refused.
//
// Files are read, and PEM text parsed, when the context is made: server() and client() block
// for that, so make contexts before run() or inside weft::to_thread when the files may be
// slow. Private keys must not be encrypted (no passphrase prompt ever blocks a worker).
//
// A Context is immutable once made and cheap to copy (copies share one SSL_CTX), so one
// context serves every worker's connections at once: any thread may use it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace weft::tls {

namespace detail {
struct ContextState;  // the SSL_CTX and what its callbacks read (src/tls/context_state.hpp)
}  // namespace detail

/// The lowest TLS version a context accepts.
enum class Version { kTls12, kTls13 };

/// What a server context is made of (designated initializers:
/// `{.certificate_chain_file = "cert.pem", .private_key_file = "key.pem"}`). Exactly one of
/// each file/PEM pair must be given.
struct ServerOptions {
  /// PEM file of the server's certificate followed by its intermediates (not the root).
  std::string certificate_chain_file{};
  /// The same as PEM text.
  std::string certificate_chain_pem{};
  /// PEM file of the certificate's private key (unencrypted).
  std::string private_key_file{};
  /// The same as PEM text.
  std::string private_key_pem{};
  /// ALPN protocols the server speaks, preferred first ("h2", "http/1.1"); empty: no ALPN.
  /// A client that offers protocols none of which is here fails its handshake
  /// ("no application protocol", RFC 7301); one that offers none gets none.
  std::vector<std::string> alpn{};
  Version min_version = Version::kTls12;
  /// A peer that closes the TCP connection without close_notify ends a read as close_notify
  /// does (0) instead of with an Error. Only for protocols whose messages carry their own
  /// length, as a truncated stream is then indistinguishable from a complete one.
  bool ignore_unexpected_eof = false;
};

/// What a client context is made of. With neither `ca_file` nor `ca_pem` it trusts the
/// system's store (OpenSSL's default paths: /etc/ssl/certs on Debian).
struct ClientOptions {
  /// PEM file of the certificates to trust instead of the system's store.
  std::string ca_file{};
  /// The same as PEM text (with ca_file too: both are trusted).
  std::string ca_pem{};
  /// ALPN protocols to offer, preferred first; empty: none.
  std::vector<std::string> alpn{};
  Version min_version = Version::kTls12;
  /// As ServerOptions::ignore_unexpected_eof.
  bool ignore_unexpected_eof = false;
  /// Accepts any certificate from any host: no chain check, no host name check. Anyone on the
  /// path can then read and change the traffic; for tests against throwaway servers only.
  bool dangerously_skip_verification = false;
};

/// A shared, immutable TLS configuration (see the file comment). Copyable; any thread.
class Context {
 public:
  /// A server context. Throws std::invalid_argument if a file/PEM pair has both or neither
  /// given or an ALPN name is empty or longer than 255 bytes, tls::Error naming the file or
  /// PEM and the reason if one cannot be read or parsed, or if the key does not match the
  /// certificate.
  static Context server(const ServerOptions& options);
  /// A client context. Throws std::invalid_argument for a bad ALPN name, tls::Error naming
  /// the file or PEM if a CA cannot be read or holds no certificate.
  static Context client(const ClientOptions& options = {});

  /// True for a server context.
  bool is_server() const noexcept;

  /// The state the streams made with this context share (internal).
  const std::shared_ptr<const detail::ContextState>& state() const noexcept { return state_; }

 private:
  explicit Context(std::shared_ptr<const detail::ContextState> state) : state_(std::move(state)) {}
  std::shared_ptr<const detail::ContextState> state_;
};

}  // namespace weft::tls
