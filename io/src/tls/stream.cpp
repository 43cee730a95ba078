// weft::tls::Stream, connect, accept and open_connection (stream.hpp): the SSL calls and the
// waits between them.
#include "weft/io/tls/stream.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "errors.hpp"
#include "socket_bio.hpp"
#include "stream_state.hpp"
#include "weft/io/net/resolve.hpp"
#include "weft/runtime/budget.hpp"
#include "weft/runtime/errors.hpp"

namespace weft::tls {

namespace detail {

namespace {

/// "127.0.0.1:8443", or how the socket describes itself if it has no peer any more.
std::string describe_peer(net::TcpStream& tcp) {
  try {
    return tcp.peer_address().to_string();
  } catch (const std::system_error&) {
    return tcp.socket().describe("(no peer)");
  }
}

/// True for an IPv4 or IPv6 address literal.
bool is_ip_address(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

/// The largest plaintext of one TLS record. One SSL_write takes at most this much, so the
/// mutex is held for one record's encryption and send(2), not for a whole large buffer while
/// the reader waits; writev gathers buffers smaller than this into records of up to it.
constexpr std::size_t kRecord = 16 * 1024;

}  // namespace

StreamState::StreamState(net::TcpStream t, std::shared_ptr<const ContextState> c, bool server)
    : tcp(std::move(t)), ctx(std::move(c)) {
  ERR_clear_error();
  ssl = SSL_new(ctx->ctx);
  if (ssl == nullptr) throw_openssl_error("tls: SSL_new");
  BIO* bio = make_socket_bio(*this);
  SSL_set_bio(ssl, bio, bio);  // the SSL object owns the BIO now
  if (server) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
  }
  peer = describe_peer(tcp);
}

StreamState::~StreamState() {
  SSL_free(ssl);
}

void StreamState::set_server_name(std::string_view name) {
  std::string host(name);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // "[::1]", as URLs write it
  }
  const bool ip = is_ip_address(host);
  const std::string where = "tls handshake " + peer + " (" + host + ")";
  ERR_clear_error();
  // RFC 6066: SNI carries host names only, never address literals.
  if (!ip && !host.empty() && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    throw_openssl_error(where + ": server name");
  }
  if (ctx->verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (set != 1) throw_openssl_error(where + ": server name");
  }
  server_name = host;
  const std::size_t colon = peer.rfind(':');
  const std::string peer_host = peer.substr(0, colon);
  if (host != peer_host && "[" + host + "]" != peer_host) peer += " (" + host + ")";
}

void StreamState::after_handshake() {
  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &len);
  if (proto != nullptr) alpn.assign(reinterpret_cast<const char*>(proto), len);
  if (SSL_is_server(ssl) == 1) {
    if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) server_name = name;
  }
}

void StreamState::fail(const char* op, int err) {
  const std::string what = std::string("tls ") + op + " " + peer;
  if (bio_error) {
    // The socket failed under OpenSSL: its errno, named as a TLS operation.
    ERR_clear_error();
    try {
      std::rethrow_exception(std::exchange(bio_error, nullptr));
    } catch (const std::system_error& e) {
      throw Error(e.code(), what);
    }
  }
  const unsigned long e = ERR_peek_error();
  ERR_clear_error();
  if (err == SSL_ERROR_ZERO_RETURN) {
    throw Error(std::make_error_code(std::errc::connection_aborted),
                what + ": the peer sent close_notify");
  }
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    const long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) {
      throw Error({static_cast<int>(v), verify_category()}, what + ": certificate verify failed");
    }
  }
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    throw Error(error_code_of(e), what + ": the peer closed the connection without close_notify");
  }
  if (e == 0) {
    // SSL_ERROR_SYSCALL with nothing queued and no socket error: the connection ended.
    throw Error(std::make_error_code(std::errc::connection_aborted),
                what + ": the connection ended unexpectedly");
  }
  throw Error(error_code_of(e), what);
}

void StreamState::check_not_cut(const char* op) {
  std::lock_guard lock(mu);
  if (write_cut) {
    throw Error(std::make_error_code(std::errc::operation_canceled),
                std::string("tls ") + op + " " + peer +
                    ": an earlier write was cancelled part-way through a record; the stream "
                    "can only be closed");
  }
}

namespace {

/// Admits one task at a time in one direction of a stream; a second one meets UsageError.
class OneAtATime {
 public:
  OneAtATime(std::atomic<bool>& busy, const char* what) : busy_(busy) {
    // Relaxed: the flag only detects two tasks in one direction at once (an exchange always
    // sees the latest value); the stream's mutex orders the SSL state they use.
    if (busy_.exchange(true, std::memory_order_relaxed)) {
      throw UsageError(std::string("weft::tls::Stream: two tasks ") + what + " one stream at once");
    }
  }
  ~OneAtATime() { busy_.store(false, std::memory_order_relaxed); }
  OneAtATime(const OneAtATime&) = delete;
  OneAtATime& operator=(const OneAtATime&) = delete;

 private:
  std::atomic<bool>& busy_;
};

/// One SSL_write of the first record of `data` (advanced past it), or what it must wait
/// for. A write that has to wait leaves part of a record with OpenSSL, which only the same
/// bytes may complete (the retry passes the same pointer and length): write_cut says so until
/// one succeeds.
int try_write(StreamState& s, std::span<const std::byte>& data) {
  std::size_t n = 0;
  const std::size_t len = std::min(data.size(), kRecord);
  const int r = s.attempt("write", false, [&](SSL* ssl) {
    const int ret = SSL_write_ex(ssl, data.data(), len, &n);
    s.write_cut = ret <= 0;
    return ret;
  });
  if (r == SSL_ERROR_NONE) data = data.subspan(n);
  return r;
}

/// Runs the handshake of `s` (client or server, as its SSL object was made) to the end.
Task<Stream> handshake(std::unique_ptr<StreamState> s) {
  for (;;) {
    const int r = s->attempt("handshake", false, [](SSL* ssl) { return SSL_do_handshake(ssl); });
    if (r == SSL_ERROR_NONE) break;
    co_await s->ready(r);
  }
  s->after_handshake();
  co_return Stream(std::move(s));
}

Task<Stream> connect_owned(net::TcpStream tcp, Context ctx, std::string server_name) {
  const ContextState& c = *ctx.state();
  if (c.server) {
    throw std::invalid_argument("weft::tls::connect: needs a client context, got a server one");
  }
  if (server_name.empty() && c.verify) {
    throw std::invalid_argument(
        "weft::tls::connect: an empty server name, so the certificate cannot be checked");
  }
  auto s = std::make_unique<StreamState>(std::move(tcp), ctx.state(), false);
  s->set_server_name(server_name);
  co_return co_await handshake(std::move(s));
}

Task<Stream> accept_owned(net::TcpStream tcp, Context ctx) {
  if (!ctx.state()->server) {
    throw std::invalid_argument("weft::tls::accept: needs a server context, got a client one");
  }
  co_return co_await handshake(std::make_unique<StreamState>(std::move(tcp), ctx.state(), true));
}

Task<Stream> open_owned(std::string host, std::uint16_t port, Context ctx) {
  net::TcpStream tcp = co_await net::connect_host(host, port);
  co_return co_await connect_owned(std::move(tcp), std::move(ctx), std::move(host));
}

}  // namespace

}  // namespace detail

Stream::Stream(std::unique_ptr<detail::StreamState> state) noexcept : state_(std::move(state)) {}
Stream::Stream(Stream&& o) noexcept = default;
Stream& Stream::operator=(Stream&& o) noexcept = default;
Stream::~Stream() = default;

detail::StreamState& Stream::state(const char* what) const {
  if (!state_) {
    throw UsageError(std::string("weft::tls::Stream: ") + what + " on a moved-from stream");
  }
  if (!state_->tcp.is_open()) {
    throw UsageError(std::string("weft::tls::Stream: ") + what + " on a closed stream");
  }
  return *state_;
}

Task<std::size_t> Stream::read(std::span<std::byte> buf) {
  detail::StreamState& s = state("read");
  if (buf.empty()) co_return 0;
  detail::OneAtATime one(s.reading, "read");
  for (;;) {
    std::size_t n = 0;
    const int r = s.attempt("read", true,
                            [&](SSL* ssl) { return SSL_read_ex(ssl, buf.data(), buf.size(), &n); });
    if (r == SSL_ERROR_NONE) {
      co_await consume_budget();
      co_return n;
    }
    if (r == SSL_ERROR_ZERO_RETURN) co_return 0;
    co_await s.ready(r);
  }
}

Task<void> Stream::write_all(std::span<const std::byte> data) {
  detail::StreamState& s = state("write");
  detail::OneAtATime one(s.writing, "write");
  s.check_not_cut("write");
  while (!data.empty()) {
    const int r = detail::try_write(s, data);
    if (r != SSL_ERROR_NONE) co_await s.ready(r);
  }
  co_await consume_budget();
}

Task<void> Stream::writev(std::span<iovec> iov) {
  detail::StreamState& s = state("write");
  detail::OneAtATime one(s.writing, "write");
  s.check_not_cut("write");
  std::size_t i = 0;
  while (i < iov.size()) {
    // The next record's bytes: one large buffer as it is, or a run of small ones gathered.
    std::span<const std::byte> data;
    if (iov[i].iov_len >= detail::kRecord) {
      data = {static_cast<const std::byte*>(iov[i].iov_base), iov[i].iov_len};
      ++i;
    } else {
      s.gather.clear();
      while (i < iov.size() && s.gather.size() + iov[i].iov_len <= detail::kRecord) {
        const auto* p = static_cast<const std::byte*>(iov[i].iov_base);
        s.gather.insert(s.gather.end(), p, p + iov[i].iov_len);
        ++i;
      }
      data = s.gather;
    }
    while (!data.empty()) {
      const int r = detail::try_write(s, data);
      if (r != SSL_ERROR_NONE) co_await s.ready(r);
    }
  }
  co_await consume_budget();
}

Task<void> Stream::finish_writing() {
  detail::StreamState& s = state("finish_writing");
  detail::OneAtATime one(s.writing, "write");
  s.check_not_cut("shutdown");
  bool sent = false;
  {
    std::lock_guard lock(s.mu);
    sent = s.close_notify_sent;
  }
  if (sent) co_return;
  for (;;) {
    // SSL_shutdown returns 0 once close_notify is sent (1 if the peer's came already); a
    // second call would wait for the peer's, which is the reader's business.
    const int r = s.attempt("shutdown", false, [&](SSL* ssl) {
      const int ret = SSL_shutdown(ssl);
      if (ret < 0) return ret;
      s.close_notify_sent = true;
      return 1;
    });
    if (r == SSL_ERROR_NONE) break;
    co_await s.ready(r);
  }
  try {
    s.tcp.shutdown(net::Shutdown::kWrite);
  } catch (const std::system_error& e) {
    throw Error(e.code(), "tls shutdown " + s.peer);  // a peer that reset: ENOTCONN
  }
}

void Stream::close() noexcept {
  if (state_) state_->tcp.close();
}

bool Stream::is_open() const noexcept {
  return state_ && state_->tcp.is_open();
}

net::SocketAddress Stream::peer_address() const {
  return state("peer_address").tcp.peer_address();
}

net::SocketAddress Stream::local_address() const {
  return state("local_address").tcp.local_address();
}

net::TcpStream* Stream::tcp() noexcept {
  return state_ ? &state_->tcp : nullptr;
}

std::string_view Stream::alpn() const noexcept {
  return state_ ? std::string_view(state_->alpn) : std::string_view();
}

std::string_view Stream::server_name() const noexcept {
  return state_ ? std::string_view(state_->server_name) : std::string_view();
}

Task<Stream> connect(net::TcpStream tcp, const Context& ctx, std::string_view server_name) {
  return detail::connect_owned(std::move(tcp), ctx, std::string(server_name));
}

Task<Stream> accept(net::TcpStream tcp, const Context& ctx) {
  return detail::accept_owned(std::move(tcp), ctx);
}

Task<Stream> open_connection(std::string_view host, std::uint16_t port, const Context& ctx) {
  return detail::open_owned(std::string(host), port, ctx);
}

}  // namespace weft::tls
