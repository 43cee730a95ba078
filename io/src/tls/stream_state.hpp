// The state behind a weft::tls::Stream: the TCP connection, the SSL object driving it and
// the mutex that makes the reading task's and the writing task's SSL calls one at a time.
//
// On the heap, so that the socket BIO (socket_bio.cpp), which points at it, and a task
// waiting in read() keep their pointer when the Stream object moves.
//
// Who touches what:
// - `mu` is held across each SSL call and nothing else: the call is non-blocking (the BIO
//   never waits) and handles one record (writes are cut into records, an SSL_read returns
//   one record's data), so a reader waits at most about one record for a writer. Every
//   member the SSL call or its BIO touches — `ssl`, `bio_error`, `eof` — and the writers'
//   `write_cut` and `close_notify_sent` are used under it.
// - `reading` and `writing` admit one reader and one writer (OneAtATime in stream.cpp).
// - `gather` belongs to the one writer.
// - `peer`, `alpn` and `server_name` are set before the Stream exists (the handshake) and
//   only read after.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "context_state.hpp"
#include "weft/io/net/socket.hpp"
#include "weft/io/net/tcp.hpp"

namespace weft::tls::detail {

struct StreamState {
  /// Makes the SSL object for `tcp` from `ctx`, in the server or the client role. Throws
  /// tls::Error if OpenSSL cannot (out of memory).
  StreamState(net::TcpStream tcp, std::shared_ptr<const ContextState> ctx, bool server);
  StreamState(const StreamState&) = delete;
  StreamState& operator=(const StreamState&) = delete;
  /// Frees the SSL object (and its BIO), then closes the socket.
  ~StreamState();

  /// A client's server name: SNI unless it is an IP address, and the name the certificate
  /// must be for when the context verifies. Throws tls::Error if OpenSSL refuses it.
  void set_server_name(std::string_view name);
  /// Copies what the handshake chose (ALPN, the server name a client sent).
  void after_handshake();

  /// One non-blocking SSL call under the mutex (`call(ssl)` > 0 is success). Returns
  /// SSL_ERROR_NONE, SSL_ERROR_WANT_READ or SSL_ERROR_WANT_WRITE, and SSL_ERROR_ZERO_RETURN
  /// (the peer's close_notify) if `end_ok`; throws tls::Error naming `op` and the peer for
  /// anything else. The thread's OpenSSL error queue is cleared before the call and read
  /// right after it: a task may move to another thread between two calls, and each thread
  /// has its own queue.
  template <class Call>
  int attempt(const char* op, bool end_ok, Call call) {
    std::lock_guard lock(mu);
    ERR_clear_error();
    const int ret = call(ssl);
    if (ret > 0) return SSL_ERROR_NONE;
    const int err = SSL_get_error(ssl, ret);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return err;
    if (err == SSL_ERROR_ZERO_RETURN && end_ok) return err;
    fail(op, err);
  }
  /// Throws the tls::Error of a failed SSL call (`err`: SSL_get_error's result). Under `mu`,
  /// right after the call.
  [[noreturn]] void fail(const char* op, int err);

  /// Throws tls::Error if an earlier write was cancelled part-way through a record.
  void check_not_cut(const char* op);

  /// The wait for what SSL_get_error asked for: readable for WANT_READ, else writable.
  net::Socket::ReadyAwaiter ready(int want) {
    return want == SSL_ERROR_WANT_READ ? tcp.readable() : tcp.writable();
  }

  net::TcpStream tcp;
  std::shared_ptr<const ContextState> ctx;
  SSL* ssl = nullptr;
  std::mutex mu;
  std::exception_ptr bio_error;    // what the BIO's socket call threw, for fail()
  bool eof = false;                // the BIO read the TCP end of stream
  bool write_cut = false;          // a write waits with a record partly sent
  bool close_notify_sent = false;  // finish_writing's SSL_shutdown completed
  std::atomic<bool> reading{false};
  std::atomic<bool> writing{false};
  std::vector<std::byte> gather;  // writev's buffer for runs of small buffers
  std::string peer;               // "127.0.0.1:8443 (localhost)", for messages
  std::string alpn;
  std::string server_name;
};

}  // namespace weft::tls::detail
