// weft::http::detail::Connection: one HTTP/1.1 connection's loop — read heads into the
// connection's buffer and parse them in place, route and run each request, frame and write
// its response — and the body I/O that Request and BodyWriter delegate to it.
//
// ## The read buffer
// `buf_` holds [begin_, end_): the bytes read and not yet consumed. A request's head is
// parsed where it lies, and the Request's views point into it, so while a request is served
// nothing may move the bytes before its body: body bytes are read after the head (the room
// after it is reused once the bytes in it have been consumed), or straight into the
// handler's destination for a Content-Length body. A head that arrives with little room
// after it and a chunked body is moved (and parsed again) before the views are handed out.
// The buffer starts at ServerOptions::read_buffer, grows to hold a head up to max_head, and
// shrinks back when the connection goes idle with nothing buffered.
//
// ## Writes
// Responses are serialized into `out_`, reused from request to request. It is written when
// the connection would otherwise wait for the client (no complete request buffered), before
// a streamed or file body, and before closing: the responses to pipelined requests that
// arrived together go out in one write.
//
// ## Timeouts
// Between requests the wait for the next head's first byte is bounded by
// keep_alive_timeout (header_timeout for the connection's first request) and by the
// server's drain signal; from a head's first byte on, the whole head has header_timeout —
// one deadline, not renewed by each byte, so a client trickling bytes gets 408.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <weft/runtime/time.hpp>
#include <weft/sync/cancellation_token.hpp>

#include "chunked_decoder.hpp"
#include "request_parser.hpp"
#include "server_core.hpp"
#include "weft/io/net/any_stream.hpp"

namespace weft::http::detail {

class Connection {
 public:
  Connection(ServerCore& core, net::AnyStream& stream, net::SocketAddress peer);

  /// Serves requests until the client closes, a limit or error ends the connection, or
  /// the server drains. Throws only CancelledError.
  Task<void> run();

  /// Request body I/O (request.hpp): the next body bytes into `dst`, 0 at the end.
  Task<std::size_t> read_body(std::span<std::byte> dst);
  /// The whole (rest of the) body, under max_body.
  Task<void> read_all(std::string& out);
  /// A streamed response's next piece (response.hpp).
  Task<void> write_piece(std::span<const std::byte> data);

 private:
  enum class BodyKind : std::uint8_t { kNone, kLength, kChunked };

  Task<bool> serve_one();
  Task<void> respond(Request& req, Response& resp, bool& keep_alive);
  Task<void> send_stream(Request& req, Response& resp, bool& keep_alive);
  Task<void> send_file(Request& req, Response& resp, bool keep_alive);
  Task<int> upgrade(const Request& req, const RequestHead& head, Response& resp);
  Task<void> fail(int status, std::string_view message);
  Task<void> close_gracefully();
  Task<std::size_t> read_some(char* p, std::size_t n, TimePoint deadline);
  /// Reads body bytes (at least one) into [p, p + n) under read_timeout, sending 100
  /// Continue first if the client waits for it; a failure or the client's end marks the body
  /// broken.
  Task<std::size_t> read_body_bytes(char* p, std::size_t n);
  Task<void> flush();
  Task<bool> drain_body();
  Task<void> send_continue();
  void ensure_room();
  bool make_body_room();
  void serialize_head(const Response& resp, int version_minor, bool keep_alive,
                      std::string_view framing);
  void report(const Request& req, std::exception_ptr e) const;
  std::string_view buffered() const noexcept { return {buf_.data() + begin_, end_ - begin_}; }

  ServerCore& core_;
  const ServerOptions& opt_;
  net::AnyStream& stream_;
  net::SocketAddress peer_;
  // A child of the server's drain token: each idle wait registers on this connection's own
  // node, so connections on different workers never contend for one lock.
  CancellationToken draining_;
  net::TcpStream* tcp_;  // the stream itself when it is plain TCP (sendfile, try_write)
  RequestParser parser_;
  ChunkedDecoder chunked_;

  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
  std::string out_;
  std::string path_;  // the decoded path, when the target holds an escape

  // The body of the request being served.
  BodyKind body_kind_ = BodyKind::kNone;
  std::size_t head_end_ = 0;     // where the body's bytes start in buf_
  std::size_t body_pos_ = 0;     // the next unread body byte in buf_
  std::uint64_t remaining_ = 0;  // kLength: body bytes not yet read
  std::string_view pending_;     // kChunked: decoded data not yet handed out
  bool body_done_ = true;
  bool body_broken_ = false;  // a body read failed: the connection cannot go on
  bool expect_continue_ = false;
  bool continue_sent_ = false;
  bool chunked_out_ = false;   // the streamed response being sent is chunked
  bool write_failed_ = false;  // a streamed piece could not be written (the client's fault)
  std::uint64_t body_bytes_sent_ = 0;
  std::size_t served_ = 0;
};

}  // namespace weft::http::detail
