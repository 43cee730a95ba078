// weft::http::detail::Connection (connection.hpp), and the Request and BodyWriter methods
// that reach the connection.
#include "connection.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <weft/runtime/cancel.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/runtime/task_group.hpp>

#include "date.hpp"
#include "target.hpp"
#include "weft/io/http/error.hpp"
#include "weft/io/http/status.hpp"
#include "ws_accept.hpp"

namespace weft::http {

namespace {

constexpr std::size_t kBodyRoom = 1024;      // room after a head for chunked body reads
constexpr std::size_t kFlushAt = 64 * 1024;  // pending responses written at this size
constexpr std::size_t kLingerBytes = 64 * 1024;
constexpr std::size_t kIdleOutKeep = 16 * 1024;

TimePoint deadline_in(std::chrono::milliseconds d) noexcept {
  return d.count() <= 0 ? TimePoint::max() : weft::detail::deadline_after(d);
}

void append_number(std::string& out, std::uint64_t n) {
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, r.ptr);
}

void append_hex(std::string& out, std::uint64_t n) {
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, n, 16);
  out.append(digits, r.ptr);
}

/// Whether the server, not the handler, decides this field (framing, connection).
bool server_owned(std::string_view name) noexcept {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
         iequals(name, "Connection");
}

std::span<std::byte> as_writable(char* p, std::size_t n) noexcept {
  return {reinterpret_cast<std::byte*>(p), n};
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Request and BodyWriter: delegate to the connection.

// A Request made outside a server (a default-made one, in a handler's unit test) has no
// connection: its body is empty.

Task<std::size_t> BodyReader::read(std::span<std::byte> buf) {
  if (conn_ == nullptr) return []() -> Task<std::size_t> { co_return 0; }();
  return conn_->read_body(buf);
}

Task<std::string> Request::text() {
  std::string s;
  if (conn_ != nullptr) co_await conn_->read_all(s);
  co_return s;
}

Task<std::vector<std::byte>> Request::bytes() {
  std::string s;
  if (conn_ != nullptr) co_await conn_->read_all(s);
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  co_return std::vector<std::byte>(p, p + s.size());
}

const std::vector<std::pair<std::string, std::string>>& Request::query_params() const {
  if (!query_) {
    std::vector<std::pair<std::string, std::string>> pairs;
    try {
      for (QueryParam& q : parse_query(raw_query_)) {
        pairs.emplace_back(std::move(q.name), std::move(q.value));
      }
    } catch (const std::invalid_argument& e) {
      throw HttpError(status::kBadRequest, std::string("bad query: ") + e.what());
    }
    query_ = std::move(pairs);
  }
  return *query_;
}

std::optional<std::string> Request::query(std::string_view name) const {
  for (const auto& [k, v] : query_params()) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::vector<std::string_view> Request::header_all(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const HeaderField& f : headers_) {
    if (iequals(f.name, name)) values.push_back(f.value);
  }
  return values;
}

std::string_view Request::param(std::string_view name) const {
  for (std::size_t i = 0; i < param_count_; ++i) {
    if (params_[i].first == name) return params_[i].second;
  }
  throw std::out_of_range("http::Request::param: the route has no parameter \"" +
                          std::string(name) + "\"");
}

bool Request::has_param(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < param_count_; ++i) {
    if (params_[i].first == name) return true;
  }
  return false;
}

Task<void> BodyWriter::write(std::string_view data) {
  return conn_->write_piece(std::as_bytes(std::span(data)));
}

Task<void> BodyWriter::write(std::span<const std::byte> data) {
  return conn_->write_piece(data);
}

namespace detail {

Connection::Connection(ServerCore& core, net::AnyStream& stream, net::SocketAddress peer)
    : core_(core),
      opt_(core.options),
      stream_(stream),
      peer_(std::move(peer)),
      draining_(core.draining.child_token()),
      tcp_(stream.target<net::TcpStream>()),
      parser_(core.limits) {}

// ---------------------------------------------------------------------------------------
// I/O helpers.

Task<std::size_t> Connection::read_some(char* p, std::size_t n, TimePoint deadline) {
  if (deadline == TimePoint::max()) co_return co_await stream_.read(as_writable(p, n));
  co_return co_await timeout_at(deadline, stream_.read(as_writable(p, n)));
}

Task<void> Connection::flush() {
  if (out_.empty()) co_return;
  auto bytes = std::as_bytes(std::span(out_));
  if (tcp_ != nullptr) {
    // Plain TCP: a response usually fits the socket's buffer, so try without waiting first
    // and arm the write timeout only when the client is slow to read.
    if (std::optional<std::size_t> n = tcp_->try_write(bytes)) bytes = bytes.subspan(*n);
    if (bytes.empty()) {
      out_.clear();
      co_return;
    }
  }
  if (opt_.write_timeout.count() <= 0) {
    co_await stream_.write_all(bytes);
  } else {
    co_await timeout_at(deadline_in(opt_.write_timeout), stream_.write_all(bytes));
  }
  out_.clear();
}

void Connection::ensure_room() {
  if (end_ < buf_.size()) return;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    return;
  }
  // A head larger than the buffer: grow, up to what the parser's limits let a head be
  // (it reports 431 or 414 before the buffer would have to grow past that).
  buf_.resize(std::max(buf_.size() * 2, std::size_t{512}));
}

bool Connection::make_body_room() {
  if (buf_.size() - head_end_ >= kBodyRoom) return false;
  const std::size_t have = end_ - begin_;
  if (begin_ > 0 && buf_.size() - (head_end_ - begin_) >= kBodyRoom) {
    std::memmove(buf_.data(), buf_.data() + begin_, have);
  } else {
    std::vector<char> bigger(std::max(buf_.size() * 2, have + 2 * kBodyRoom));
    std::memcpy(bigger.data(), buf_.data() + begin_, have);
    buf_.swap(bigger);
  }
  end_ = have;
  begin_ = 0;
  return true;
}

// ---------------------------------------------------------------------------------------
// The connection loop.

Task<void> Connection::run() {
  buf_.resize(opt_.read_buffer);
  bool first = true;
  try {
    for (;;) {
      if (begin_ == end_) {
        // Nothing buffered: write what is pending, give back memory a large request took,
        // and wait for the next request (or the drain signal).
        begin_ = end_ = 0;
        co_await flush();
        if (buf_.size() > opt_.read_buffer) {
          buf_.resize(opt_.read_buffer);
          buf_.shrink_to_fit();
        }
        if (out_.capacity() > kIdleOutKeep) std::string().swap(out_);
        if (draining_.is_cancelled()) co_return;
        const TimePoint idle_deadline =
            deadline_in(first ? opt_.header_timeout : opt_.keep_alive_timeout);
        std::optional<std::size_t> got;
        try {
          got = co_await draining_.run_until_cancelled(
              read_some(buf_.data(), buf_.size(), idle_deadline));
        } catch (const TimeoutError&) {
          co_return;  // idle too long: closed without a word, as every server does
        }
        if (!got || *got == 0) co_return;
        end_ = *got;
      }
      first = false;
      if (!co_await serve_one()) co_return;
      ++served_;
    }
  } catch (const CancelledError&) {
    throw;
  } catch (const std::exception&) {
    // The client went away or timed out mid-write: nothing to answer.
  }
}

Task<bool> Connection::serve_one() {
  const TimePoint head_deadline = deadline_in(opt_.header_timeout);
  const TimePoint started = opt_.access_log ? weft::now() : TimePoint{};
  parser_.reset();
  for (;;) {
    ParseStatus st = parser_.parse(buffered());
    if (st == ParseStatus::kDone) break;
    if (st == ParseStatus::kError) {
      const ParseError& e = parser_.error();
      co_await fail(e.status(), e.message());
      co_return false;
    }
    co_await flush();  // answers to earlier pipelined requests go out before we wait
    ensure_room();
    std::size_t n = 0;
    bool timed_out = false;
    try {
      n = co_await read_some(buf_.data() + end_, buf_.size() - end_, head_deadline);
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    if (timed_out) {
      co_await fail(status::kRequestTimeout, "the request head did not arrive in time");
      co_return false;
    }
    if (n == 0) co_return false;  // closed mid-head
    end_ += n;
  }

  // The body's framing, and room to read a chunked one after the head.
  const RequestHead* head = &parser_.head();
  head_end_ = begin_ + parser_.consumed();
  if (head->body.kind == Framing::kChunked && make_body_room()) {
    parser_.reset();
    if (parser_.parse(buffered()) != ParseStatus::kDone) {
      co_await fail(status::kInternalServerError, "request head moved");
      co_return false;
    }
    head = &parser_.head();
    head_end_ = begin_ + parser_.consumed();
  }
  body_pos_ = head_end_;
  pending_ = {};
  body_broken_ = false;
  continue_sent_ = false;
  expect_continue_ = head->expect_continue;
  switch (head->body.kind) {
    case Framing::kLength:
      body_kind_ = head->body.length > 0 ? BodyKind::kLength : BodyKind::kNone;
      remaining_ = head->body.length;
      break;
    case Framing::kChunked:
      body_kind_ = BodyKind::kChunked;
      chunked_.reset();
      break;
    default:
      body_kind_ = BodyKind::kNone;
      break;
  }
  body_done_ = body_kind_ == BodyKind::kNone;

  // The request: views into the buffer.
  Request req;
  req.conn_ = this;
  req.body_.conn_ = this;
  req.method_ = head->method;
  req.method_name_ = head->method_name;
  req.target_ = head->target;
  req.version_minor_ = head->version_minor;
  req.keep_alive_ = head->keep_alive;
  req.headers_ = head->headers;
  req.peer_ = &peer_;
  req.has_body_ = body_kind_ != BodyKind::kNone;
  if (head->body.kind == Framing::kLength) req.content_length_ = head->body.length;
  const TargetParts parts = split_target(head->target, head->target_form);
  req.raw_query_ = parts.query;
  if (parts.path.find('%') == std::string_view::npos) {
    req.path_ = head->target_form == TargetForm::kAsterisk ? std::string_view("*") : parts.path;
  } else {
    bool bad = false;
    try {
      path_ = decode_path(parts.path);
    } catch (const std::invalid_argument&) {
      bad = true;
    }
    if (bad) {
      co_await fail(status::kBadRequest, "bad percent-escape in the request path");
      co_return false;
    }
    req.path_ = path_;
  }

  bool keep_alive =
      head->keep_alive && !draining_.is_cancelled() &&
      (opt_.max_requests_per_connection == 0 || served_ + 1 < opt_.max_requests_per_connection);

  // Run the handler; what it throws becomes a response. An expectation other than
  // 100-continue cannot be met (RFC 9110 §10.1.1): 417, and the handler does not run.
  Response resp;
  std::exception_ptr failure;
  const bool unmet_expectation =
      !head->expect_continue && head->version_minor >= 1 && head->headers.contains("Expect");
  try {
    if (unmet_expectation) {
      resp = Response(status::kExpectationFailed, "Expectation Failed\n");
      keep_alive = false;  // the client may or may not send its body now
    } else {
      resp = co_await core_.router.dispatch(req);
    }
  } catch (const CancelledError&) {
    throw;
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const HttpError& e) {
      resp = error_response(e);
    } catch (...) {
      report(req, failure);
      resp = Response(status::kInternalServerError, "Internal Server Error\n");
    }
  }

  // A WebSocket route: the handshake's answer, then the connection is the WebSocket's
  // until its handler returns.
  if (resp.kind() == Response::Kind::kWebSocket) {
    const int sent = co_await upgrade(req, *head, resp);
    if (opt_.access_log) {
      AccessLogEntry entry{req.method_name(), req.target(), sent, 0, weft::now() - started, &peer_};
      try {
        opt_.access_log(entry);
      } catch (...) {  // a logging error must not take the connection down
      }
    }
    co_return false;
  }

  // The body the handler left: drain it (within a limit) or give up the connection.
  if (!body_done_) {
    if (body_broken_ || (expect_continue_ && !continue_sent_)) {
      keep_alive = false;  // a client told to wait may or may not send its body now
    } else if (keep_alive && !co_await drain_body()) {
      keep_alive = false;
    }
  }
  if (body_broken_) keep_alive = false;
  if (draining_.is_cancelled()) keep_alive = false;  // shutdown came while the handler ran

  co_await respond(req, resp, keep_alive);

  if (opt_.access_log) {
    AccessLogEntry entry{req.method_name(), req.target(),          resp.status(),
                         body_bytes_sent_,  weft::now() - started, &peer_};
    try {
      opt_.access_log(entry);
    } catch (...) {  // a logging error must not take the connection down
    }
  }
  if (!keep_alive) {
    co_await close_gracefully();
    co_return false;
  }
  begin_ = body_pos_;
  co_return true;
}

namespace {

/// Once `draining` is cancelled (the server shuts down), closes `socket` with 1001.
Task<void> say_going_away(CancellationToken draining, ws::WebSocket& socket) {
  co_await draining.cancelled();
  co_await socket.close(1001, "the server is shutting down");
}

}  // namespace

Task<int> Connection::upgrade(const Request& req, const RequestHead& head, Response& resp) {
  ws::detail::UpgradeAnswer answer =
      ws::detail::answer_upgrade(head, resp.ws_options_.subprotocols);
  // A handshake is a GET without a body (RFC 6455 §4.1): bytes after its head are frames.
  if (answer.status == status::kSwitchingProtocols && body_kind_ != BodyKind::kNone) {
    const std::string why = "a WebSocket handshake has no body";
    answer = {};
    answer.status = status::kBadRequest;
    answer.response = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: " +
                      std::to_string(why.size() + 1) + "\r\n\r\n" + why + "\n";
  }
  out_.append(answer.response);
  if (answer.status != status::kSwitchingProtocols) {
    co_await close_gracefully();
    co_return answer.status;
  }
  co_await flush();
  // The WebSocket takes the connection: the stream (its owner, the server's connection task,
  // is left holding an empty one) and what the client sent behind the handshake.
  const auto rest = std::as_bytes(std::span(buf_.data() + head_end_, end_ - head_end_));
  ws::WebSocket socket(std::move(stream_), ws::Role::kServer, rest, std::move(answer.detail),
                       resp.ws_options_.options);
  begin_ = end_ = 0;
  std::uint16_t code = 1000;
  // The server's shutdown tells the client it is going away (1001) and lets the handler end
  // as for any close (its receive() returns nullopt, its sends fail); only a handler still
  // running when the grace ends is cancelled. The group keeps the teller from outliving the
  // socket, on every path out.
  co_await task_group([&](TaskGroup& tg) -> Task<void> {
    tg.spawn(say_going_away(draining_, socket), "weft::http websocket shutdown");
    try {
      co_await resp.ws_handler_(socket);
    } catch (const CancelledError&) {
      throw;  // the grace is over: the WebSocket drops the connection
    } catch (const ws::Error&) {
      // The client broke the protocol or went away: the connection is already dropped, and
      // it is not the server's failure.
    } catch (const std::system_error&) {
      // The socket failed under a send: likewise the client's side.
    } catch (...) {
      report(req, std::current_exception());
      code = 1011;  // internal error (RFC 6455 §7.4.1)
    }
    // A teller that has begun its closing handshake finishes it; one still waiting goes.
    if (!draining_.is_cancelled()) tg.cancel();
  });
  co_await socket.close(code);
  co_return status::kSwitchingProtocols;
}

void Connection::report(const Request& req, std::exception_ptr e) const {
  if (opt_.on_error) {
    try {
      opt_.on_error(req, e);
    } catch (...) {  // a reporting error must not take the connection down
    }
    return;
  }
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  std::fprintf(stderr, "weft::http::Server: %.*s %.*s from %s failed: %s\n",
               static_cast<int>(req.method_name().size()), req.method_name().data(),
               static_cast<int>(req.target().size()), req.target().data(),
               peer_.to_string().c_str(), what.c_str());
}

// ---------------------------------------------------------------------------------------
// Responses.

void Connection::serialize_head(const Response& resp, int version_minor, bool keep_alive,
                                std::string_view framing) {
  const int code = resp.status();
  out_.append(version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
  const char digits[3] = {static_cast<char>('0' + code / 100 % 10),
                          static_cast<char>('0' + code / 10 % 10),
                          static_cast<char>('0' + code % 10)};
  out_.append(digits, 3);
  out_.push_back(' ');
  out_.append(reason_phrase(code));
  out_.append("\r\n");
  const Fields& fields = resp.headers();
  if (!opt_.server_name.empty() && !fields.contains("Server")) {
    out_.append("Server: ");
    out_.append(opt_.server_name);
    out_.append("\r\n");
  }
  if (!fields.contains("Date")) {
    out_.append("Date: ");
    out_.append(http_date_now());
    out_.append("\r\n");
  }
  if (resp.default_type_ != nullptr && !fields.contains("Content-Type")) {
    out_.append("Content-Type: ");
    out_.append(resp.default_type_);
    out_.append("\r\n");
  }
  out_.append(framing);
  if (!keep_alive) {
    out_.append("Connection: close\r\n");
  } else if (version_minor == 0) {
    out_.append("Connection: keep-alive\r\n");
  }
  for (const Fields::Field& f : fields) {
    if (server_owned(f.name)) continue;
    out_.append(f.name);
    out_.append(": ");
    out_.append(f.value);
    out_.append("\r\n");
  }
  out_.append("\r\n");
}

Task<void> Connection::respond(Request& req, Response& resp, bool& keep_alive) {
  body_bytes_sent_ = 0;
  const bool head_only = req.method() == Method::kHead;
  const bool no_body = status_has_no_body(resp.status());
  if (resp.kind() == Response::Kind::kStream && !no_body) {
    co_await send_stream(req, resp, keep_alive);
    co_return;
  }
  if (resp.kind() == Response::Kind::kFile && !no_body) {
    co_await send_file(req, resp, keep_alive);
    co_return;
  }
  const std::string& body = resp.body();
  if (no_body) {
    serialize_head(resp, req.version_minor(), keep_alive, {});
  } else {
    char framing[48] = "Content-Length: ";
    char* end = std::to_chars(framing + 16, framing + 44, body.size()).ptr;
    *end++ = '\r';
    *end++ = '\n';
    serialize_head(resp, req.version_minor(), keep_alive,
                   std::string_view(framing, static_cast<std::size_t>(end - framing)));
    if (!head_only) {
      out_.append(body);
      body_bytes_sent_ = body.size();
    }
  }
  if (out_.size() >= kFlushAt) co_await flush();
}

Task<void> Connection::send_stream(Request& req, Response& resp, bool& keep_alive) {
  const bool head_only = req.method() == Method::kHead;
  chunked_out_ = req.version_minor() >= 1;
  if (!chunked_out_) keep_alive = false;  // HTTP/1.0: the body ends where the connection does
  serialize_head(resp, req.version_minor(), keep_alive,
                 chunked_out_ ? "Transfer-Encoding: chunked\r\n" : "");
  if (head_only) co_return;
  co_await flush();
  write_failed_ = false;
  BodyWriter writer;
  writer.conn_ = this;
  std::exception_ptr failure;
  try {
    co_await resp.producer_(writer);
  } catch (const CancelledError&) {
    throw;
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    // The head is out: the only way left to say "this body is incomplete" is to close
    // without the last chunk.
    if (!write_failed_) report(req, failure);
    keep_alive = false;
    out_.clear();
    throw std::runtime_error("streamed response failed");
  }
  if (chunked_out_) out_.append("0\r\n\r\n");
}

Task<void> Connection::write_piece(std::span<const std::byte> data) {
  if (data.empty()) co_return;
  if (chunked_out_) {
    append_hex(out_, data.size());
    out_.append("\r\n");
  }
  out_.append(reinterpret_cast<const char*>(data.data()), data.size());
  if (chunked_out_) out_.append("\r\n");
  body_bytes_sent_ += data.size();
  try {
    co_await flush();
  } catch (...) {
    write_failed_ = true;  // the client's side: not the handler's error
    throw;
  }
}

Task<void> Connection::send_file(Request& req, Response& resp, bool keep_alive) {
  const int fd = ::open(resp.file_path().c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) ::close(fd);
    Response missing(status::kNotFound, "Not Found\n");
    co_await respond(req, missing, keep_alive);
    co_return;
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::string framing = "Content-Length: ";
  append_number(framing, size);
  framing += "\r\n";
  serialize_head(resp, req.version_minor(), keep_alive, framing);
  if (req.method() == Method::kHead || size == 0) co_return;
  co_await flush();
  net::TcpStream* tcp = tcp_;
  off_t offset = 0;
  if (tcp != nullptr) {
    // Plain TCP: the kernel copies from the page cache to the socket.
    IoRegistration& reg = tcp->socket().registration();
    while (static_cast<std::uint64_t>(offset) < size) {
      const std::uint32_t seq = reg.ready_seq(Interest::kWrite);
      const ssize_t n =
          ::sendfile(tcp->socket().fd(), fd, &offset,
                     static_cast<std::size_t>(size - static_cast<std::uint64_t>(offset)));
      if (n > 0) {
        body_bytes_sent_ += static_cast<std::uint64_t>(n);
        continue;
      }
      if (n == 0) throw std::runtime_error("sendfile: the file shrank while it was sent");
      if (errno == EINTR) continue;
      if (errno != EAGAIN) throw std::system_error(errno, std::generic_category(), "sendfile");
      if (opt_.write_timeout.count() <= 0) {
        co_await reg.wait(Interest::kWrite, seq);
      } else {
        co_await timeout_at(deadline_in(opt_.write_timeout), reg.wait(Interest::kWrite, seq));
      }
    }
    co_return;
  }
  // Another stream (TLS): read and write through a buffer.
  std::vector<char> chunk(64 * 1024);
  while (static_cast<std::uint64_t>(offset) < size) {
    const ssize_t n = ::pread(fd, chunk.data(), chunk.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("read of the response's file failed");
    offset += n;
    co_await timeout_at(
        deadline_in(opt_.write_timeout),
        stream_.write_all(std::as_bytes(std::span(chunk.data(), static_cast<std::size_t>(n)))));
    body_bytes_sent_ += static_cast<std::uint64_t>(n);
  }
}

Task<void> Connection::fail(int code, std::string_view message) {
  Response resp(code, std::string(message) + "\n");
  serialize_head(resp, 1, false, {});
  // The framing, written here since serialize_head took none.
  out_.resize(out_.size() - 2);
  out_.append("Content-Length: ");
  append_number(out_, resp.body().size());
  out_.append("\r\n\r\n");
  out_.append(resp.body());
  co_await close_gracefully();
}

Task<void> Connection::close_gracefully() {
  // Write what is pending, end our side, and read (and drop) what the client still sends
  // for a moment: closing with unread bytes would make the kernel reset the connection,
  // and the client could lose the response it has not read yet.
  try {
    co_await flush();
    co_await stream_.finish_writing();
    const TimePoint deadline = deadline_in(
        std::min<std::chrono::milliseconds>(opt_.header_timeout, std::chrono::seconds(2)));
    std::size_t dropped = 0;
    if (buf_.empty()) buf_.resize(512);
    while (dropped < kLingerBytes) {
      const std::size_t n = co_await read_some(buf_.data(), buf_.size(), deadline);
      if (n == 0) break;
      dropped += n;
    }
  } catch (const CancelledError&) {
    throw;
  } catch (...) {
  }
}

// ---------------------------------------------------------------------------------------
// Request bodies.

Task<void> Connection::send_continue() {
  continue_sent_ = true;
  out_.append("HTTP/1.1 100 Continue\r\n\r\n");
  co_await flush();
}

Task<std::size_t> Connection::read_body_bytes(char* p, std::size_t n) {
  // The client that asked waits for "100 Continue" before it sends the body.
  if (expect_continue_ && !continue_sent_) co_await send_continue();
  std::size_t got = 0;
  try {
    got = co_await read_some(p, n, deadline_in(opt_.read_timeout));
  } catch (const CancelledError&) {
    throw;
  } catch (...) {
    body_broken_ = true;  // a body cut short: the connection cannot carry another request
    throw;
  }
  if (got == 0) {
    body_broken_ = true;
    throw std::runtime_error("http: the client closed the connection before the body's end");
  }
  co_return got;
}

Task<std::size_t> Connection::read_body(std::span<std::byte> dst) {
  if (body_done_ || dst.empty()) co_return 0;
  if (body_broken_) throw std::runtime_error("http: the request body could not be read");
  if (body_kind_ == BodyKind::kLength) {
    const std::size_t in_buffer = std::min<std::uint64_t>(end_ - body_pos_, remaining_);
    if (in_buffer > 0) {
      const std::size_t n = std::min(in_buffer, dst.size());
      std::memcpy(dst.data(), buf_.data() + body_pos_, n);
      body_pos_ += n;
      remaining_ -= n;
      body_done_ = remaining_ == 0;
      co_return n;
    }
    const std::size_t want = std::min<std::uint64_t>(dst.size(), remaining_);
    const std::size_t n = co_await read_body_bytes(reinterpret_cast<char*>(dst.data()), want);
    remaining_ -= n;
    body_done_ = remaining_ == 0;
    co_return n;
  }
  // Chunked: decode what is buffered after the head, reading more into the same room.
  for (;;) {
    if (!pending_.empty()) {
      const std::size_t n = std::min(pending_.size(), dst.size());
      std::memcpy(dst.data(), pending_.data(), n);
      pending_.remove_prefix(n);
      co_return n;
    }
    const ChunkedDecoder::Result r =
        chunked_.decode(std::string_view(buf_.data() + body_pos_, end_ - body_pos_));
    body_pos_ += r.consumed;
    switch (r.status) {
      case ChunkedDecoder::Status::kData:
        pending_ = r.data;
        continue;
      case ChunkedDecoder::Status::kDone:
        body_done_ = true;
        co_return 0;
      case ChunkedDecoder::Status::kError:
        body_broken_ = true;
        throw HttpError(chunked_.error().status(),
                        "bad chunked request body: " + chunked_.error().message());
      case ChunkedDecoder::Status::kNeedMore:
        break;
    }
    // Everything buffered is consumed: read the next bytes into the room after the head.
    body_pos_ = end_ = head_end_;
    const std::size_t n = co_await read_body_bytes(buf_.data() + end_, buf_.size() - end_);
    end_ += n;
  }
}

Task<void> Connection::read_all(std::string& out) {
  if (body_kind_ == BodyKind::kLength && !body_done_) {
    if (remaining_ > opt_.max_body) {
      throw HttpError(status::kPayloadTooLarge, "request body of " + std::to_string(remaining_) +
                                                    " bytes is over the " +
                                                    std::to_string(opt_.max_body) + "-byte limit");
    }
    const std::size_t at = out.size();
    out.resize(at + remaining_);
    std::size_t got = at;
    while (got < out.size()) {
      got += co_await read_body(as_writable(out.data() + got, out.size() - got));
    }
    co_return;
  }
  char piece[4096];
  for (;;) {
    const std::size_t n = co_await read_body(as_writable(piece, sizeof piece));
    if (n == 0) co_return;
    if (out.size() + n > opt_.max_body) {
      body_broken_ = true;  // the rest is not drained: the connection closes
      throw HttpError(status::kPayloadTooLarge,
                      "request body is over the " + std::to_string(opt_.max_body) + "-byte limit");
    }
    out.append(piece, n);
  }
}

Task<bool> Connection::drain_body() {
  if (body_kind_ == BodyKind::kLength) {
    const std::uint64_t in_buffer = std::min<std::uint64_t>(end_ - body_pos_, remaining_);
    if (remaining_ - in_buffer > opt_.max_drain) co_return false;
  }
  std::uint64_t drained = 0;
  char piece[4096];
  try {
    while (!body_done_) {
      const std::size_t n = co_await read_body(as_writable(piece, sizeof piece));
      drained += n;
      if (drained > opt_.max_drain) co_return false;
    }
  } catch (const CancelledError&) {
    throw;
  } catch (...) {
    co_return false;
  }
  co_return true;
}

}  // namespace detail
}  // namespace weft::http
