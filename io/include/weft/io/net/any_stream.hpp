// weft::net::AnyStream: one owner for any ByteStream (a TcpStream, a UnixStream, a TLS
// stream, a user's own), itself a ByteStream.
//
// Why a dynamic type: BufferedStream, Server and the HTTP server hold their connection as
// an AnyStream, so one handler, compiled once, serves TCP, Unix and TLS connections, and
// its type does not depend on how the server was set up. Templates on the stream type
// would instead compile every handler and all of HTTP once per kind of stream and put the
// kind into every signature. asyncio makes the same choice: a StreamReader reads from
// whatever transport is under it. The price is one heap object per connection and one
// indirect call per read or write, next to the syscall (or the decryption) that call makes.
//
// It stays minimal: the ByteStream operations, plus two ways to reach the stream inside
// for what the interface does not carry: tcp() for TCP's socket options, and target<S>()
// for the stream's own type (a UnixStream's peer credentials, a TLS session).
//
// Threads: as the stream inside (one task may read while another writes); AnyStream adds no
// state of its own.
#pragma once

#include <sys/uio.h>

#include <concepts>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include <weft/runtime/task.hpp>

#include "weft/io/net/address.hpp"
#include "weft/io/net/byte_stream.hpp"
#include "weft/io/net/tcp.hpp"

namespace weft::net {

class AnyStream;

namespace detail {

/// The ByteStreams an AnyStream is made from: anything but an AnyStream (which moves).
/// The AnyStream test comes first: it short-circuits, so moving an AnyStream never asks
/// whether AnyStream is a ByteStream while AnyStream's own constructors are being chosen
/// (a constraint that depends on itself, which clang refuses).
template <class S>
concept WrappableStream =
    !std::same_as<std::remove_cvref_t<S>, AnyStream> && ByteStream<S> && std::move_constructible<S>;

/// A stream that exposes the TCP connection it runs over (a TLS stream over TCP).
template <class S>
concept ExposesTcp = requires(S& s) {
  { s.tcp() } -> std::same_as<TcpStream*>;
  requires noexcept(s.tcp());
};

/// Throws the UsageError of calling `what` on an empty (default-made or moved-from)
/// AnyStream (any_stream.cpp).
[[noreturn]] void throw_empty_stream(const char* what);

}  // namespace detail

/// Owns one ByteStream of any type and forwards to it. Move-only; a moved-from or
/// default-made AnyStream is empty: close() does nothing, tcp() and target() give nullptr,
/// and every other call throws weft::UsageError.
class AnyStream {
 public:
  /// An empty AnyStream.
  AnyStream() noexcept = default;
  /// Takes `stream` (one allocation). Implicit, so a TcpStream, a UnixStream or a
  /// weft::tls::Stream goes wherever an AnyStream is asked for. Throws std::bad_alloc.
  template <detail::WrappableStream S>
  AnyStream(S stream) : impl_(std::make_unique<Impl<S>>(std::move(stream))) {}

  AnyStream(AnyStream&&) noexcept = default;
  AnyStream& operator=(AnyStream&&) noexcept = default;
  AnyStream(const AnyStream&) = delete;
  AnyStream& operator=(const AnyStream&) = delete;
  /// Destroys the stream inside (which closes it).
  ~AnyStream() = default;

  /// The stream's read: at least one byte into `buf`; 0 at its end or for an empty `buf`.
  Task<std::size_t> read(std::span<std::byte> buf) { return impl("read").read(buf); }
  /// The stream's write_all: every byte of `buf`.
  Task<void> write_all(std::span<const std::byte> buf) { return impl("write_all").write_all(buf); }
  Task<void> write_all(std::string_view s) { return write_all(std::as_bytes(std::span(s))); }
  /// The stream's writev: every byte of the buffers (may consume `iov`).
  Task<void> writev(std::span<iovec> iov) { return impl("writev").writev(iov); }
  /// The stream's finish_writing: ends what this side sends (a half-close; TLS's
  /// close_notify); this side may still read.
  Task<void> finish_writing() { return impl("finish_writing").finish_writing(); }
  /// Closes the stream at once; nothing if empty.
  void close() noexcept {
    if (impl_) impl_->close();
  }
  /// The stream's addresses. Throw what the stream throws (std::system_error).
  SocketAddress peer_address() const { return impl("peer_address").peer_address(); }
  SocketAddress local_address() const { return impl("local_address").local_address(); }

  /// The TCP connection under the stream, for TCP's socket options (set_nodelay,
  /// set_keepalive): the stream itself if it is a TcpStream, what its own
  /// `TcpStream* tcp() noexcept` returns if it has one (a TLS stream over TCP), else nullptr
  /// (a Unix stream, where TCP's options do not apply; target<UnixStream>() reaches it).
  TcpStream* tcp() noexcept { return impl_ ? impl_->tcp() : nullptr; }
  /// The stream inside if it is an `S` (std::function::target's rule), else nullptr.
  template <class S>
  S* target() noexcept {
    return impl_ ? static_cast<S*>(impl_->target(typeid(S))) : nullptr;
  }
  /// False when empty.
  explicit operator bool() const noexcept { return impl_ != nullptr; }

 private:
  struct Base {
    virtual ~Base();
    virtual Task<std::size_t> read(std::span<std::byte> buf) = 0;
    virtual Task<void> write_all(std::span<const std::byte> buf) = 0;
    virtual Task<void> writev(std::span<iovec> iov) = 0;
    virtual Task<void> finish_writing() = 0;
    virtual void close() noexcept = 0;
    virtual SocketAddress peer_address() const = 0;
    virtual SocketAddress local_address() const = 0;
    virtual TcpStream* tcp() noexcept = 0;
    virtual void* target(const std::type_info& type) noexcept = 0;
  };

  // Each override returns the stream's own Task: no coroutine frame of its own.
  template <class S>
  struct Impl final : Base {
    explicit Impl(S&& s) : stream(std::move(s)) {}
    Task<std::size_t> read(std::span<std::byte> buf) override { return stream.read(buf); }
    Task<void> write_all(std::span<const std::byte> buf) override { return stream.write_all(buf); }
    Task<void> writev(std::span<iovec> iov) override { return stream.writev(iov); }
    Task<void> finish_writing() override { return stream.finish_writing(); }
    void close() noexcept override { stream.close(); }
    SocketAddress peer_address() const override { return stream.peer_address(); }
    SocketAddress local_address() const override { return stream.local_address(); }
    TcpStream* tcp() noexcept override {
      if constexpr (std::same_as<S, TcpStream>) {
        return &stream;
      } else if constexpr (detail::ExposesTcp<S>) {
        return stream.tcp();
      } else {
        return nullptr;
      }
    }
    void* target(const std::type_info& type) noexcept override {
      return type == typeid(S) ? &stream : nullptr;
    }
    S stream;
  };

  Base& impl(const char* what) const {
    if (!impl_) detail::throw_empty_stream(what);
    return *impl_;
  }

  std::unique_ptr<Base> impl_;
};

}  // namespace weft::net
