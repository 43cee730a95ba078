#include "weft/io/http/client.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>
#include <tuple>
#include <utility>

#include <weft/io/net/any_stream.hpp>
#include <weft/io/net/resolve.hpp>
#include <weft/io/tls/stream.hpp>
#include <weft/runtime/cancel.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/sync/pool.hpp>
#include <weft/sync/semaphore.hpp>

#include "chunked_decoder.hpp"
#include "response_parser.hpp"

namespace weft::http {

namespace detail {

/// The read buffer of a connection: room for the largest head the parser accepts and as
/// much again for the body bytes that follow it.
constexpr std::size_t kBufferSize = 32 * 1024;
/// A request body up to this size is copied behind the head and sent with it in one write.
constexpr std::size_t kInlineBody = 16 * 1024;
/// A redirect's body up to this size is read and dropped, so its connection is kept.
constexpr std::size_t kRedirectDrain = 64 * 1024;
/// A kept connection idle this long is checked (still_open) before it is reused. Servers
/// close idle connections after seconds (nginx 75, Apache 5), so a connection reused sooner
/// is live but for a race the idempotent retry covers, and the busy path pays nothing.
constexpr auto kCheckAfterIdle = std::chrono::seconds(1);

/// One connection to a server, kept in its host's pool between requests. The response head
/// is parsed in place at the start of `buf`, and stays there while the response lives;
/// body bytes read past it are buffered in [rbeg, rend).
struct ClientConnection {
  net::AnyStream stream;
  std::unique_ptr<char[]> buf = std::make_unique<char[]>(kBufferSize);
  std::size_t rbeg = 0, rend = 0;
  std::string out;  ///< the request head, serialized anew for each request
  ResponseParser parser;
  ChunkedDecoder chunked;
  std::uint64_t requests = 0;  ///< responses completed on it
  bool reusable = false;       ///< set when a response's body ended and allowed reuse
};

using ConnectionPool = Pool<ClientConnection>;

struct PoolKey {
  bool tls;
  std::string host;
  std::uint16_t port;
};
struct PoolKeyLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    return std::tie(a.tls, a.host, a.port) < std::tie(b.tls, b.host, b.port);
  }
};
struct PoolKeyView {
  bool tls;
  std::string_view host;
  std::uint16_t port;
};
inline bool operator<(const PoolKey& a, const PoolKeyView& b) noexcept {
  return std::tie(a.tls, a.host, a.port) < std::tie(b.tls, b.host, b.port);
}

struct ClientState {
  explicit ClientState(ClientOptions o) : options(std::move(o)), permits(validate(options)) {
    if (!options.tls) options.tls = tls::Context::client();
  }
  static std::ptrdiff_t validate(const ClientOptions& o) {
    if (o.limit == 0) throw std::invalid_argument("http::Client: limit must be at least 1");
    if (o.limit_per_host == 0) {
      throw std::invalid_argument("http::Client: limit_per_host must be at least 1");
    }
    if (o.max_redirects < 0) throw std::invalid_argument("http::Client: negative max_redirects");
    for (Duration d : {o.connect_timeout, o.total_timeout, o.read_timeout, o.keep_alive_idle}) {
      if (d <= Duration::zero())
        throw std::invalid_argument("http::Client: a timeout must be positive");
    }
    return static_cast<std::ptrdiff_t>(o.limit);
  }

  std::shared_ptr<ConnectionPool> pool_for(const Url& url);

  ClientOptions options;
  Semaphore permits;
  std::atomic<std::uint64_t> connections_made{0};
  std::mutex mu;
  std::map<PoolKey, std::shared_ptr<ConnectionPool>, PoolKeyLess> pools;
};

/// What a ClientResponse holds.
struct ResponseState {
  std::shared_ptr<ClientState> client;
  ConnectionPool::Lease lease;
  SemaphoreGuard permit;
  Url url;
  Method method = Method::kGet;
  int redirects = 0;
  ResponseHead head;
  // The head's bytes and fields once the connection went back to its pool: in place when
  // they fit (most heads do), so that a response costs no allocation for them.
  static constexpr std::size_t kInlineHead = 512;
  static constexpr std::size_t kInlineFields = 16;
  char head_inline[kInlineHead];
  HeaderField fields_inline[kInlineFields];
  std::string head_copy;
  std::vector<HeaderField> fields_copy;
  Framing framing = Framing::kNone;
  std::uint64_t remaining = 0;  ///< kLength: body bytes not yet read
  bool done = false;
  TimePoint total_deadline = TimePoint::max();
  Duration total_timeout = Duration::max();
  Duration read_timeout = Duration::max();
};

namespace {

std::string describe_request(Method m, const Url& url) {
  return std::string(method_name(m)) + " " + url.to_string();
}

std::string seconds(Duration d) {
  const double s = std::chrono::duration<double>(d).count();
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, s);
  return std::string(buf, p) + " s";
}

bool idempotent(Method m) noexcept {
  switch (m) {
    case Method::kGet:
    case Method::kHead:
    case Method::kPut:
    case Method::kDelete:
    case Method::kOptions:
    case Method::kTrace:
      return true;
    default:
      return false;
  }
}

/// The server ended the connection where the response was not complete.
[[noreturn]] void throw_closed(Method m, const Url& url, const char* where) {
  throw ClientConnectionError(
      std::make_error_code(std::errc::connection_aborted),
      describe_request(m, url) + ": the server closed the connection " + where);
}

/// An exception that is not ours, as the error of the request.
[[noreturn]] void rethrow_for(Method m, const Url& url, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const ClientConnectionError&) {
    throw;
  } catch (const ClientError&) {
    throw;
  } catch (const CancelledError&) {
    throw;
  } catch (const TimeoutError& t) {
    throw TimeoutError(describe_request(m, url) + ": " + t.what());
  } catch (const std::system_error& s) {
    throw ClientConnectionError(s.code(), describe_request(m, url) + ": " + s.what());
  } catch (const net::ResolveError& r) {
    throw ClientConnectionError(std::make_error_code(std::errc::host_unreachable),
                                describe_request(m, url) + ": " + r.what());
  } catch (const net::IncompleteRead&) {
    throw_closed(m, url, "before the response ended");
  }
}

/// Reads into `buf` under the earlier of the two deadlines; `read_deadline` names the read
/// timeout, `total_deadline` the total one.
Task<std::size_t> read_bounded(net::AnyStream& s, std::span<std::byte> buf,
                               TimePoint total_deadline, Duration read_timeout,
                               Duration total_timeout) {
  const TimePoint read_deadline = read_timeout == Duration::max()
                                      ? TimePoint::max()
                                      : weft::detail::deadline_after(read_timeout);
  const TimePoint deadline = std::min(read_deadline, total_deadline);
  if (deadline == TimePoint::max()) co_return co_await s.read(buf);
  const bool is_total = total_deadline <= read_deadline;
  {
    weft::detail::TimeoutScope scope(weft::detail::require_task("http::Client"), deadline);
    try {
      std::size_t n = co_await s.read(buf);
      scope.close();
      co_return n;
    } catch (const CancelledError&) {
      if (!scope.close()) throw;
    }
  }
  throw TimeoutError(is_total ? "total timeout (" + seconds(total_timeout) + ") exceeded"
                              : "read timeout (" + seconds(read_timeout) + ") exceeded");
}

/// Opens a connection (the pool's create hook).
Task<ClientConnection> open_connection(ClientState* st, bool tls, std::string host,
                                       std::uint16_t port) {
  const Duration timeout = st->options.connect_timeout;
  std::optional<weft::detail::TimeoutScope> scope;
  if (timeout != Duration::max()) {
    scope.emplace(weft::detail::require_task("http::Client"),
                  weft::detail::deadline_after(timeout));
  }
  try {
    net::TcpStream tcp = co_await net::connect_host(host, port);
    tcp.set_nodelay(true);
    ClientConnection c;
    if (tls) {
      c.stream = co_await tls::connect(std::move(tcp), *st->options.tls, host);
    } else {
      c.stream = std::move(tcp);
    }
    if (scope) scope->close();
    st->connections_made.fetch_add(1, std::memory_order_relaxed);
    co_return c;
  } catch (const CancelledError&) {
    if (!scope || !scope->close()) throw;
  }
  throw TimeoutError("connect timeout (" + seconds(timeout) + ") exceeded");
}

void append_number(std::string& out, std::uint64_t v, int base = 10) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, base);
  out.append(buf, p);
}

/// Writes the request head into `out` (reused: no allocation once it has grown).
void serialize_head(std::string& out, Method m, const Url& url, const Fields& defaults,
                    const Fields& own, const RequestBody& body) {
  out.clear();
  out += method_name(m);
  out += ' ';
  out += url.path;
  if (url.has_query) {
    out += '?';
    out += url.query;
  }
  out += " HTTP/1.1\r\nHost: ";
  const bool v6 = url.host.find(':') != std::string::npos;
  if (v6) out += '[';
  out += url.host;
  if (v6) out += ']';
  if (url.port != (url.is_tls() ? 443 : 80)) {
    out += ':';
    append_number(out, url.port);
  }
  out += "\r\n";
  for (const Fields::Field& f : defaults) {
    if (own.contains(f.name)) continue;
    out += f.name;
    out += ": ";
    out += f.value;
    out += "\r\n";
  }
  for (const Fields::Field& f : own) {
    if (iequals(f.name, "host") || iequals(f.name, "content-length") ||
        iequals(f.name, "transfer-encoding")) {
      continue;
    }
    out += f.name;
    out += ": ";
    out += f.value;
    out += "\r\n";
  }
  if (body.is_stream()) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (!body.empty() || m == Method::kPost || m == Method::kPut || m == Method::kPatch) {
    out += "Content-Length: ";
    append_number(out, body.data().size());
    out += "\r\n";
  }
  out += "\r\n";
}

Task<void> send_request(ClientConnection& c, const RequestBody& body) {
  if (body.is_stream()) {
    co_await c.stream.write_all(std::as_bytes(std::span(c.out)));
    AsyncGenerator<std::string> gen = body.stream_maker()();
    std::string size_line;
    while (std::optional<std::string> chunk = co_await gen.next()) {
      if (chunk->empty()) continue;
      size_line.clear();
      append_number(size_line, chunk->size(), 16);
      size_line += "\r\n";
      iovec iov[3] = {{size_line.data(), size_line.size()},
                      {chunk->data(), chunk->size()},
                      {const_cast<char*>("\r\n"), 2}};
      co_await c.stream.writev(iov);
    }
    co_await c.stream.write_all(std::as_bytes(std::span(std::string_view("0\r\n\r\n"))));
  } else if (body.data().size() <= kInlineBody) {
    c.out += body.data();
    co_await c.stream.write_all(std::as_bytes(std::span(c.out)));
  } else {
    iovec iov[2] = {{c.out.data(), c.out.size()},
                    {const_cast<char*>(body.data().data()), body.data().size()}};
    co_await c.stream.writev(iov);
  }
}

}  // namespace

namespace {

/// False if the server closed the idle connection `c` or sent on it unasked (a request sent
/// on it would fail): one non-blocking read on the socket, which finds nothing on a live
/// one. What it reads ends the connection anyway.
bool still_open(ClientConnection& c) {
  net::TcpStream* tcp = c.stream.tcp();
  if (!tcp) return true;
  std::byte b{};
  try {
    return !tcp->try_read(std::span(&b, 1)).has_value();
  } catch (const std::system_error&) {
    return false;  // reset by the server
  }
}

}  // namespace

std::shared_ptr<ConnectionPool> ClientState::pool_for(const Url& url) {
  const bool tls = url.is_tls();
  std::lock_guard lock(mu);
  auto it = pools.find(PoolKeyView{tls, url.host, url.port});
  if (it != pools.end()) return it->second;
  PoolHooks<ClientConnection> hooks;
  hooks.create = [this, tls, host = url.host, port = url.port]() {
    return open_connection(this, tls, host, port);
  };
  hooks.recycle = [](ClientConnection& c) { return c.reusable ? Recycle::Keep : Recycle::Discard; };
  hooks.check = [](ClientConnection& c) -> Task<bool> { co_return still_open(c); };
  PoolOptions po;
  po.check_after_idle = kCheckAfterIdle;
  po.name = "http::Client " + url.scheme + "://" + url.authority();
  po.max_size = options.limit_per_host;
  po.max_idle_time = options.keep_alive_idle;
  auto pool = std::make_shared<ConnectionPool>(std::move(hooks), std::move(po));
  pools.emplace(PoolKey{tls, url.host, url.port}, pool);
  return pool;
}

namespace {

/// Moves the head out of the connection's buffer into the response, so that the connection
/// can go back to its pool while the response (and its headers) lives on.
void keep_head(ResponseState& s) {
  if (!s.lease) return;
  const char* base = s.lease->buf.get();
  const std::size_t len = s.lease->parser.consumed();
  char* to = s.head_inline;
  if (len > ResponseState::kInlineHead) {
    s.head_copy.assign(base, len);
    to = s.head_copy.data();
  } else {
    std::memcpy(to, base, len);
  }
  auto move = [&](std::string_view v) {
    return v.empty() ? v : std::string_view(to + (v.data() - base), v.size());
  };
  const std::size_t n = s.head.headers.size();
  HeaderField* fields = s.fields_inline;
  if (n > ResponseState::kInlineFields) {
    s.fields_copy.resize(n);
    fields = s.fields_copy.data();
  }
  for (std::size_t i = 0; i < n; ++i) {
    fields[i] = {move(s.head.headers[i].name), move(s.head.headers[i].value)};
  }
  s.head.reason = move(s.head.reason);
  s.head.upgrade = move(s.head.upgrade);
  s.head.headers = HeaderView(std::span<const HeaderField>(fields, n));
}

/// The body has ended: the connection goes back to its pool (kept if the response allows).
void finish(ResponseState& s) {
  s.done = true;
  if (!s.lease) return;
  keep_head(s);
  ClientConnection& c = *s.lease;
  c.reusable = s.head.keep_alive && s.framing != Framing::kUntilClose;
  ++c.requests;
  s.lease.release();
  if (s.permit) s.permit.release();
}

/// Lets go of the connection with the body not read to its end: kept if the rest of the
/// body is buffered already, else closed.
void drop(ResponseState& s) noexcept {
  if (!s.lease || s.done) return;
  ClientConnection& c = *s.lease;
  bool complete = false;
  const std::size_t buffered = c.rend - c.rbeg;
  if (s.framing == Framing::kLength) {
    complete = s.remaining <= buffered;
    if (complete) c.rbeg += s.remaining;
  } else if (s.framing == Framing::kChunked) {
    while (c.rbeg < c.rend) {
      ChunkedDecoder::Result r = c.chunked.decode({c.buf.get() + c.rbeg, c.rend - c.rbeg});
      c.rbeg += r.consumed;
      if (r.status == ChunkedDecoder::Status::kDone) {
        complete = true;
        break;
      }
      if (r.status != ChunkedDecoder::Status::kData) break;
    }
  }
  if (complete) {
    try {
      finish(s);
      return;
    } catch (...) {
      // copying the head failed: the connection is closed below
    }
  }
  s.done = true;
  if (s.lease) s.lease.discard();
  if (s.permit) s.permit.release();
}

/// Reads body bytes into `out` (at least one; 0 at the end of the body).
Task<std::size_t> read_body(ResponseState& s, std::span<std::byte> out) {
  if (s.done || out.empty()) co_return 0;
  ClientConnection& c = *s.lease;
  try {
    switch (s.framing) {
      case Framing::kNone:
        finish(s);
        co_return 0;
      case Framing::kLength:
      case Framing::kUntilClose: {
        std::size_t want = out.size();
        if (s.framing == Framing::kLength) want = std::min<std::uint64_t>(want, s.remaining);
        std::size_t n = 0;
        if (c.rbeg < c.rend) {
          n = std::min(want, c.rend - c.rbeg);
          std::memcpy(out.data(), c.buf.get() + c.rbeg, n);
          c.rbeg += n;
        } else {
          n = co_await read_bounded(c.stream, out.first(want), s.total_deadline, s.read_timeout,
                                    s.total_timeout);
          if (n == 0) {
            if (s.framing == Framing::kUntilClose) {
              finish(s);
              co_return 0;
            }
            throw_closed(s.method, s.url, "before the body ended");
          }
        }
        if (s.framing == Framing::kLength) {
          s.remaining -= n;
          if (s.remaining == 0) finish(s);
        }
        co_return n;
      }
      case Framing::kChunked:
        for (;;) {
          if (c.rbeg == c.rend) {
            const std::size_t head = c.parser.consumed();
            c.rbeg = c.rend = head;
            std::size_t n = co_await read_bounded(
                c.stream, std::as_writable_bytes(std::span(c.buf.get() + head, kBufferSize - head)),
                s.total_deadline, s.read_timeout, s.total_timeout);
            if (n == 0) throw_closed(s.method, s.url, "before the chunked body ended");
            c.rend += n;
          }
          // At most out.size() bytes in: the data handed out then fits in `out`.
          const std::size_t avail = std::min(c.rend - c.rbeg, out.size());
          ChunkedDecoder::Result r = c.chunked.decode({c.buf.get() + c.rbeg, avail});
          c.rbeg += r.consumed;
          switch (r.status) {
            case ChunkedDecoder::Status::kData:
              std::memcpy(out.data(), r.data.data(), r.data.size());
              co_return r.data.size();
            case ChunkedDecoder::Status::kNeedMore:
              break;
            case ChunkedDecoder::Status::kDone:
              finish(s);
              co_return 0;
            case ChunkedDecoder::Status::kError:
              throw ClientError(describe_request(s.method, s.url) +
                                ": invalid chunked body: " + c.chunked.error().message());
          }
        }
    }
  } catch (const CancelledError&) {
    drop(s);
    throw;
  } catch (...) {
    drop(s);
    rethrow_for(s.method, s.url, std::current_exception());
  }
  co_return 0;
}

/// Reads the whole rest of the body into `out` (a std::string or vector of bytes).
template <class Out>
Task<Out> read_all(ResponseState* s, std::optional<std::size_t> limit_opt) {
  Out out;
  if (!s) co_return out;
  const std::size_t limit = limit_opt.value_or(s->client->options.max_body_size);
  if (s->framing == Framing::kLength) {
    if (s->remaining > limit) {
      drop(*s);
      throw std::length_error(describe_request(s->method, s->url) + ": body of " +
                              std::to_string(s->remaining) + " bytes over the limit of " +
                              std::to_string(limit));
    }
    out.reserve(static_cast<std::size_t>(s->remaining));
  }
  for (;;) {
    std::size_t size = out.size();
    std::size_t room =
        s->framing == Framing::kLength ? static_cast<std::size_t>(s->remaining) : 16 * 1024;
    if (s->done || room == 0) {
      if (!s->done) finish(*s);
      co_return out;
    }
    // One byte past the limit tells a body at the limit from one over it.
    room = std::min(room, limit - size + 1);
    out.resize(size + room);
    std::size_t n =
        co_await read_body(*s, std::as_writable_bytes(std::span(out.data() + size, room)));
    out.resize(size + n);
    if (out.size() > limit) {
      drop(*s);
      throw std::length_error(describe_request(s->method, s->url) + ": body over the limit of " +
                              std::to_string(limit) + " bytes");
    }
    if (n == 0) co_return out;
  }
}

/// Sends one request (retrying once a stale keep-alive connection is found) and reads the
/// response head.
Task<std::unique_ptr<ResponseState>> send_once(std::shared_ptr<ClientState> st, Method method,
                                               const Url& url, const RequestOptions& opts,
                                               TimePoint total_deadline, Duration total_timeout,
                                               Duration read_timeout) {
  SemaphoreGuard permit = co_await st->permits.acquire();
  // Held, so close_idle() dropping the pool from the map cannot pull it from under us.
  std::shared_ptr<ConnectionPool> pool = st->pool_for(url);
  const bool may_retry = idempotent(method);
  for (std::size_t attempt = 0;; ++attempt) {
    ConnectionPool::Lease lease;
    try {
      lease = co_await pool->acquire();
    } catch (const CancelledError&) {
      throw;
    } catch (...) {
      rethrow_for(method, url, std::current_exception());
    }
    ClientConnection& c = *lease;
    const bool reused = c.requests > 0;
    bool got_bytes = false;
    std::exception_ptr failure;
    try {
      c.reusable = false;
      serialize_head(c.out, method, url, st->options.default_headers, opts.headers, opts.body);
      co_await send_request(c, opts.body);
      // The head is parsed in place from the start of the buffer.
      if (c.rbeg < c.rend) {
        std::memmove(c.buf.get(), c.buf.get() + c.rbeg, c.rend - c.rbeg);
        c.rend -= c.rbeg;
      } else {
        c.rend = 0;
      }
      c.rbeg = 0;
      c.parser.reset(method);
      for (;;) {
        ParseStatus ps =
            c.rend > 0 ? c.parser.parse({c.buf.get(), c.rend}) : ParseStatus::kNeedMore;
        if (ps == ParseStatus::kError) {
          throw ClientError(describe_request(method, url) +
                            ": invalid response: " + c.parser.error().message());
        }
        if (ps == ParseStatus::kDone) {
          const ResponseHead& h = c.parser.head();
          if (h.interim() && h.status != 101) {  // 100 Continue, 103 Early Hints: skip
            const std::size_t used = c.parser.consumed();
            std::memmove(c.buf.get(), c.buf.get() + used, c.rend - used);
            c.rend -= used;
            c.parser.reset(method);
            continue;
          }
          break;
        }
        if (c.rend == kBufferSize) {
          throw ClientError(describe_request(method, url) + ": response head too large");
        }
        std::size_t n = co_await read_bounded(
            c.stream, std::as_writable_bytes(std::span(c.buf.get() + c.rend, kBufferSize - c.rend)),
            total_deadline, read_timeout, total_timeout);
        if (n == 0) throw_closed(method, url, "before sending a response");
        got_bytes = true;
        c.rend += n;
      }
    } catch (const CancelledError&) {
      lease.discard();
      throw;
    } catch (const ClientError&) {
      lease.discard();
      throw;
    } catch (const TimeoutError& t) {
      lease.discard();
      throw TimeoutError(describe_request(method, url) + ": " + t.what());
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      lease.discard();
      // A keep-alive connection the server closed meanwhile: try another.
      if (reused && !got_bytes && may_retry && attempt <= st->options.limit_per_host) continue;
      rethrow_for(method, url, failure);
    }
    auto s = std::make_unique<ResponseState>();
    s->client = st;
    s->url = url;
    s->method = method;
    s->head = c.parser.head();
    s->framing = s->head.body.kind;
    s->remaining = s->head.body.length;
    s->total_deadline = total_deadline;
    s->total_timeout = total_timeout;
    s->read_timeout = read_timeout;
    c.rbeg = c.parser.consumed();
    c.chunked.reset();
    s->lease = std::move(lease);
    s->permit = std::move(permit);
    if (s->framing == Framing::kNone) finish(*s);
    co_return s;
  }
}

bool is_redirect(int status) noexcept {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Task<ClientResponse> run_request(std::shared_ptr<ClientState> st, Method method, Url url,
                                 std::exception_ptr bad_url, RequestOptions opts) {
  if (bad_url) std::rethrow_exception(bad_url);
  const Duration total_timeout = opts.total_timeout.value_or(st->options.total_timeout);
  const Duration read_timeout = opts.read_timeout.value_or(st->options.read_timeout);
  const int max_redirects = opts.max_redirects.value_or(st->options.max_redirects);
  const TimePoint total_deadline = total_timeout == Duration::max()
                                       ? TimePoint::max()
                                       : weft::detail::deadline_after(total_timeout);
  std::optional<weft::detail::TimeoutScope> scope;
  if (total_deadline != TimePoint::max()) {
    scope.emplace(weft::detail::require_task("http::Client::request"), total_deadline);
  }
  try {
    for (int redirects = 0;; ++redirects) {
      std::unique_ptr<ResponseState> s =
          co_await send_once(st, method, url, opts, total_deadline, total_timeout, read_timeout);
      s->redirects = redirects;
      const std::optional<std::string_view> location = s->head.headers.get("Location");
      if (!opts.allow_redirects || !is_redirect(s->head.status) || !location) {
        if (scope) scope->close();
        co_return ClientResponse(std::move(s));
      }
      if (redirects >= max_redirects) {
        throw TooManyRedirects(describe_request(method, url) + ": more than " +
                               std::to_string(max_redirects) + " redirects");
      }
      Url next;
      try {
        next = url.resolve(*location);
      } catch (const std::invalid_argument& e) {
        throw ClientError(describe_request(method, url) +
                          ": cannot follow the redirect: " + e.what());
      }
      const int status = s->head.status;
      if (status == 303 || ((status == 301 || status == 302) && method == Method::kPost)) {
        if (method != Method::kHead) method = Method::kGet;
        opts.body = RequestBody();
      }
      // Read a short body to keep the connection; a long one closes it.
      const bool drain =
          !s->done && !(s->framing == Framing::kLength && s->remaining > kRedirectDrain);
      ClientResponse r(std::move(s));
      if (drain) {
        try {
          (void)co_await r.text(kRedirectDrain);
        } catch (const std::length_error&) {
          // dropped with its connection
        }
      }
      url = std::move(next);
    }
  } catch (const CancelledError&) {
    if (!scope || !scope->close()) throw;
  }
  throw TimeoutError(describe_request(method, url) + ": total timeout (" + seconds(total_timeout) +
                     ") exceeded");
}

}  // namespace

}  // namespace detail

// ---- ClientResponse --------------------------------------------------------------------

ClientResponse::ClientResponse() noexcept = default;
ClientResponse::ClientResponse(std::unique_ptr<detail::ResponseState> state) noexcept
    : s_(std::move(state)) {}
ClientResponse::ClientResponse(ClientResponse&&) noexcept = default;
ClientResponse& ClientResponse::operator=(ClientResponse&& o) noexcept {
  if (this != &o) {
    release();
    s_ = std::move(o.s_);
  }
  return *this;
}
ClientResponse::~ClientResponse() {
  release();
}

void ClientResponse::release() noexcept {
  if (s_) detail::drop(*s_);
}

namespace {
const Url& empty_url() {
  static const Url u;
  return u;
}
}  // namespace

int ClientResponse::status() const noexcept {
  return s_ ? s_->head.status : 0;
}
std::string_view ClientResponse::reason() const noexcept {
  return s_ ? s_->head.reason : std::string_view();
}
int ClientResponse::version_minor() const noexcept {
  return s_ ? s_->head.version_minor : 1;
}
HeaderView ClientResponse::headers() const noexcept {
  return s_ ? s_->head.headers : HeaderView();
}
const Url& ClientResponse::url() const noexcept {
  return s_ ? s_->url : empty_url();
}
Method ClientResponse::method() const noexcept {
  return s_ ? s_->method : Method::kGet;
}
int ClientResponse::redirects() const noexcept {
  return s_ ? s_->redirects : 0;
}
bool ClientResponse::body_complete() const noexcept {
  return !s_ || s_->done;
}

Task<std::string> ClientResponse::text(std::optional<std::size_t> limit) {
  return detail::read_all<std::string>(s_.get(), limit);
}
Task<std::vector<std::byte>> ClientResponse::bytes(std::optional<std::size_t> limit) {
  return detail::read_all<std::vector<std::byte>>(s_.get(), limit);
}
Task<std::size_t> ClientResponse::read(std::span<std::byte> buf) {
  if (!s_) throw UsageError("http::ClientResponse::read on an empty response");
  return detail::read_body(*s_, buf);
}

// ---- Client ----------------------------------------------------------------------------

Client::Client(ClientOptions options)
    : state_(std::make_shared<detail::ClientState>(std::move(options))) {}

Client::~Client() {
  close_idle();
}

Task<ClientResponse> Client::start(Method method, std::string_view url, RequestOptions options) {
  // Parsed here, before the coroutine, so that the frame holds the parts (short ones in
  // place) rather than a copy of the text; a bad URL is thrown where the request is awaited.
  Url parsed;
  std::exception_ptr bad;
  try {
    parsed = Url::parse(url);
  } catch (...) {
    bad = std::current_exception();
  }
  return detail::run_request(state_, method, std::move(parsed), std::move(bad), std::move(options));
}

Task<ClientResponse> Client::request(Method method, std::string_view url, RequestOptions options) {
  return start(method, url, std::move(options));
}
Task<ClientResponse> Client::request(Method method, std::string_view url) {
  return start(method, url, RequestOptions{});
}
Task<ClientResponse> Client::get(std::string_view url) {
  return start(Method::kGet, url, RequestOptions{});
}
Task<ClientResponse> Client::post(std::string_view url, RequestBody body) {
  RequestOptions options;
  options.body = std::move(body);
  return start(Method::kPost, url, std::move(options));
}
Task<ClientResponse> Client::get(std::string_view url, RequestOptions options) {
  return request(Method::kGet, url, std::move(options));
}
Task<ClientResponse> Client::post(std::string_view url, RequestBody body, RequestOptions options) {
  options.body = std::move(body);
  return request(Method::kPost, url, std::move(options));
}

void Client::close_idle() noexcept {
  // Idle connections are closed by their pools' idle timers; dropping the pools closes them
  // at once (leases still out keep their pools' cores alive).
  std::lock_guard lock(state_->mu);
  state_->pools.clear();
}

std::uint64_t Client::connections_made() const noexcept {
  return state_->connections_made.load(std::memory_order_relaxed);
}
const ClientOptions& Client::options() const noexcept {
  return state_->options;
}

}  // namespace weft::http
