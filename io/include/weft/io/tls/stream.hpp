// weft::tls::Stream, connect, accept and open_connection: TLS over a weft::net::TcpStream.
//
// ## I/O
// OpenSSL reads and writes the socket itself, through a BIO whose read and write are the
// stream's TcpStream::try_read and try_write (src/tls/socket_bio.cpp): ciphertext goes
// between the kernel and OpenSSL's record buffers with no copy through a memory BIO, and the
// socket keeps its readiness tracking. When OpenSSL wants to read (SSL_ERROR_WANT_READ) the
// operation waits on TcpStream::readable(), when it wants to write on writable(), both
// through the worker's reactor. (OpenSSL's own socket BIO, SSL_set_fd, would write(2) without
// MSG_NOSIGNAL — a reset peer would raise SIGPIPE — and bypass the readiness tracking.)
//
// ## Threads
// One task may read while another writes, as with TcpStream. OpenSSL's SSL object is not
// safe for two threads at once, so every SSL call is made under the stream's mutex, held
// for that one non-blocking call and never across a wait. Two reads (or two writes, or a
// write and finish_writing) at once are refused with weft::UsageError: their records would
// interleave in no defined order, and OpenSSL requires a write that had to wait to be
// retried with the same bytes before any other.
//
// ## End of stream
// read() returns 0 once the peer has sent close_notify. A peer that closes the TCP
// connection without it might be an attacker cutting the stream short, so that read throws
// tls::Error ("the peer closed the connection without close_notify"), unless the context
// says ignore_unexpected_eof. finish_writing() sends close_notify (the end of this side's
// data) and half-closes the TCP connection; reading may go on until the peer's close_notify.
// Destroying or close()-ing a stream without finish_writing() sends none.
//
// ## Cancellation and timeouts
// connect, accept, read, write_all, writev and finish_writing are cancellation points at each
// wait for readiness, so weft::wait_for and timeout bound them. A cancelled handshake
// closes the socket. A cancelled read loses nothing (what OpenSSL has received stays
// buffered for the next read). A write cancelled while OpenSSL holds a record that is only
// partly sent cannot be resumed with other bytes: the stream's later writes and
// finish_writing throw tls::Error (std::errc::operation_canceled) — the peer must not take a
// cut-off stream for a complete one — and the stream can only be closed.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include <weft/runtime/task.hpp>

#include "weft/io/net/address.hpp"
#include "weft/io/net/byte_stream.hpp"
#include "weft/io/net/tcp.hpp"
#include "weft/io/tls/context.hpp"
#include "weft/io/tls/error.hpp"

namespace weft::tls {

namespace detail {
struct StreamState;  // the TcpStream, the SSL object and its mutex (src/tls/stream_state.hpp)
}  // namespace detail

/// A TLS connection (see the file comment). Move-only; destroying it closes the socket. The
/// methods of a moved-from stream throw UsageError.
class Stream {
 public:
  explicit Stream(std::unique_ptr<detail::StreamState> state) noexcept;
  Stream(Stream&& o) noexcept;
  Stream& operator=(Stream&& o) noexcept;
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  /// Reads at least one byte of plaintext into `buf`; 0 once the peer has sent close_notify
  /// (or if `buf` is empty). Throws tls::Error naming the peer and the reason, UsageError if
  /// another read is in progress or the stream is closed.
  Task<std::size_t> read(std::span<std::byte> buf);
  /// Writes all of `data`. Throws tls::Error, UsageError if another write is in progress.
  Task<void> write_all(std::span<const std::byte> data);
  Task<void> write_all(std::string_view s) { return write_all(std::as_bytes(std::span(s))); }
  /// Writes every byte of the buffers, in order; runs of small buffers are gathered into
  /// one record. Leaves `iov` as it was. Throws as write_all.
  Task<void> writev(std::span<iovec> iov);
  /// Sends close_notify and half-closes the TCP connection: the peer reads the end of the
  /// stream. A second call does nothing. Throws tls::Error (also if an earlier write was
  /// cancelled part-way), UsageError if a write is in progress.
  Task<void> finish_writing();
  /// Closes the socket without close_notify. Idempotent. Must not race an operation.
  void close() noexcept;
  /// True until close() (or a move).
  bool is_open() const noexcept;

  net::SocketAddress peer_address() const;
  net::SocketAddress local_address() const;
  /// The TCP connection underneath (socket options, addresses); nullptr for a moved-from
  /// stream. Reading or writing it directly breaks the TLS stream. With this signature
  /// net::AnyStream::tcp() reaches it too.
  net::TcpStream* tcp() noexcept;

  /// The ALPN protocol the handshake chose ("http/1.1"); empty if none. Valid while the
  /// stream lives.
  std::string_view alpn() const noexcept;
  /// On a server, the host name the client asked for (SNI); on a client, the name given to
  /// connect. Empty if none (a client sends no SNI for an IP address). Valid while the
  /// stream lives.
  std::string_view server_name() const noexcept;

 private:
  detail::StreamState& state(const char* what) const;
  std::unique_ptr<detail::StreamState> state_;
};

/// Runs the client handshake over `tcp` with a client context: sends `server_name` as SNI
/// (unless it is an IP address) and, if the context verifies, checks the certificate's
/// chain and that it is for `server_name` (a DNS name or an IP address). Throws tls::Error
/// ("tls handshake ADDR (NAME): certificate verify failed: hostname mismatch"),
/// std::invalid_argument for a server context or an empty `server_name` with verification
/// on. A cancellation point; the socket is closed if it fails or is cancelled. Copies its
/// arguments before it first suspends.
Task<Stream> connect(net::TcpStream tcp, const Context& ctx, std::string_view server_name);

/// Runs the server handshake over `tcp` with a server context. Throws tls::Error (a client
/// that rejects the certificate: "tls handshake ADDR: tlsv1 alert unknown ca"),
/// std::invalid_argument for a client context. A cancellation point; the socket is closed if
/// it fails or is cancelled.
Task<Stream> accept(net::TcpStream tcp, const Context& ctx);

/// Resolves `host`, connects to the first address that accepts and runs the client
/// handshake with `host` as the server name. Throws what net::connect_host and connect throw.
Task<Stream> open_connection(std::string_view host, std::uint16_t port, const Context& ctx);

static_assert(net::ByteStream<Stream>, "a tls::Stream goes wherever a net::ByteStream does");

}  // namespace weft::tls
