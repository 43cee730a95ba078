// weft::net::ByteStream: what a connection offers to what runs over it (BufferedReader,
// BufferedWriter, BufferedStream, Server, and the protocols on top: TLS, HTTP, database
// clients), so that each of them is written once for TCP, Unix sockets and TLS alike.
//
// A byte stream carries bytes in order, both ways at once, and ends each way on its own:
//   read(buf)          at least one byte into `buf`; 0 only at the end of what the peer sends
//                      (or for an empty `buf`). A read that is cancelled at its await loses
//                      no byte: what it did not return, a later read returns.
//   write_all(buf)     every byte of `buf`, or an exception.
//   writev(iov)        every byte of the buffers in order, or an exception; may consume `iov`.
//   finish_writing()   ends what this side sends: the peer's read then returns 0 while this
//                      side may still read (TCP's half-close). A Task, because a stream may
//                      have to send something first (TLS sends its close_notify).
//   close()            lets go of the connection at once, waiting for nothing; noexcept.
//   peer_address()     the two ends (a Unix stream answers with its path, "unix:" when
//   local_address()    unnamed).
// Errors are exceptions that name the operation and the peer (std::system_error for a
// socket). One task may read while another writes; two tasks must not read (or write) one
// stream at once.
//
// TcpStream, UnixStream and AnyStream (any_stream.hpp) model it, and weft::tls::Stream will.
#pragma once

#include <sys/uio.h>

#include <concepts>
#include <cstddef>
#include <span>

#include <weft/runtime/task.hpp>

#include "weft/io/net/address.hpp"

namespace weft::net {

/// A connection's bytes, both ways (see the top of this header for the contract beyond the
/// signatures: what 0 means, cancellation, half-close, threads).
template <class S>
concept ByteStream = requires(S& s, const S& cs, std::span<std::byte> in,
                              std::span<const std::byte> out, std::span<iovec> iov) {
  { s.read(in) } -> std::same_as<Task<std::size_t>>;
  { s.write_all(out) } -> std::same_as<Task<void>>;
  { s.writev(iov) } -> std::same_as<Task<void>>;
  { s.finish_writing() } -> std::same_as<Task<void>>;
  requires noexcept(s.close());
  { cs.peer_address() } -> std::convertible_to<SocketAddress>;
  { cs.local_address() } -> std::convertible_to<SocketAddress>;
};

}  // namespace weft::net
