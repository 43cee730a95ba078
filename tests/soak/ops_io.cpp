// The soak's I/O operations: echo traffic over Unix socket pairs and over TCP connections
// to a listener on 127.0.0.1 (started once by start_io), raw and line by line through a
// BufferedReader, with reads and writes that deadlines cut short.
//
// A writer task sends random bytes while the operation reads the echo; both sides hash the
// byte stream (ByteTally), and the echo must equal what was sent, byte for byte, in order.
// A read or write that times out must have moved nothing: a timed-out write is retried
// from where the count says, so a write that wrote and still raised TimeoutError shows as
// doubled bytes. The TCP echo handlers add what they read to server totals, compared at the
// end with the clients' (stop_io's caller, soak.cpp).
#include <array>
#include <string>
#include <vector>

#include "world.hpp"

namespace soak {
namespace {

using weft::net::BufferedReader;
using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;
using weft::net::UnixStream;

/// Per-direction totals over every TCP connection: the sum of connections' byte counts and
/// of their hashes (hashes of different connections are summed, so the order in which
/// connections finish does not matter).
struct Totals {
  std::atomic<std::uint64_t> conns{0}, bytes{0}, hash_sum{0};
  void add(const ByteTally& t) noexcept {
    conns.fetch_add(1);
    bytes.fetch_add(t.bytes);
    hash_sum.fetch_add(t.hash);
  }
};

struct Io {
  TcpListener listener;
  weft::JoinHandle<void> acceptor;
  Totals server_in;   // what the echo handlers read
  Totals client_out;  // what the clients sent (and had echoed back intact)
};

Io& io() {
  static Io x;
  return x;
}

/// Echoes `s` until the end of its stream, then half-closes. Returns what it read.
template <class S>
weft::Task<ByteTally> echo(S& s) {
  std::array<std::byte, 4096> buf;
  ByteTally in;
  for (;;) {
    const std::size_t n = co_await s.read(std::span(buf));
    if (n == 0) break;
    in.add(buf.data(), n);
    co_await s.write_all(std::span<const std::byte>(buf.data(), n));
  }
  s.shutdown(weft::net::Shutdown::kWrite);
  co_return in;
}

weft::Task<void> unix_echo_server(UnixStream s) {
  (void)co_await echo(s);
}

weft::Task<void> tcp_echo_handler(TcpStream s) {
  ByteTally in = co_await echo(s);
  io().server_in.add(in);
}

weft::Task<void> accept_loop(TcpListener* l) {
  for (;;) {
    auto conn = co_await l->accept();
    count(Ev::kConnections);
    (void)go(tcp_echo_handler(std::move(conn.first)), "tcp echo handler");
  }
}

/// Random bytes for a writer, from its own seed.
std::vector<std::byte> random_bytes(Rng& rng, std::size_t n, bool text) {
  std::vector<std::byte> v(n);
  for (auto& b : v) {
    b = text ? static_cast<std::byte>('a' + rng.below(26)) : static_cast<std::byte>(rng.below(256));
  }
  return v;
}

/// Writes `total` random bytes (or lines) to `s` in random chunks, some writes cut short by
/// deadlines, then half-closes. `sent` gets what it wrote.
template <class S>
weft::Task<void> writer(S* s, std::size_t total, bool lines, Rng rng, ByteTally* sent) {
  std::size_t done = 0;
  while (done < total) {
    std::size_t n = std::min<std::size_t>(total - done, rng.in(1, rng.one_in(4) ? 16384 : 512));
    std::vector<std::byte> chunk = random_bytes(rng, n, lines);
    if (lines) chunk.back() = std::byte{'\n'};
    std::span<const std::byte> rest(chunk);
    while (!rest.empty()) {
      if (rng.one_in(3)) {
        std::size_t w = 0;
        try {
          w = co_await weft::wait_for(s->write(rest), rng.micros(0, 300));
        } catch (const weft::TimeoutError&) {
          count(Ev::kTimeoutFired);
        }
        sent->add(rest.data(), w);
        rest = rest.subspan(w);
      } else {
        co_await s->write_all(rest);
        sent->add(rest.data(), rest.size());
        rest = {};
      }
    }
    done += n;
    if (rng.one_in(8)) co_await weft::sleep(rng.micros(0, 200));
  }
  s->shutdown(weft::net::Shutdown::kWrite);
}

/// Reads the echo until the end of the stream, some reads cut short by deadlines.
template <class S>
weft::Task<void> read_echo(S& s, Rng& rng, ByteTally& got) {
  std::vector<std::byte> buf(rng.in(1, 8192));
  for (;;) {
    std::size_t n = 0;
    if (rng.one_in(3)) {
      try {
        n = co_await weft::wait_for(s.read(std::span(buf)), rng.micros(0, 300));
      } catch (const weft::TimeoutError&) {
        count(Ev::kReadTimedOut);
        continue;
      }
    } else {
      n = co_await s.read(std::span(buf));
    }
    if (n == 0) co_return;
    got.add(buf.data(), n);
  }
}

/// Reads the echo line by line through a BufferedReader (a timed-out read_line keeps what
/// it buffered), until the end of the stream.
weft::Task<void> read_echo_lines(TcpStream& s, Rng& rng, ByteTally& got) {
  BufferedReader<TcpStream> r(s);
  for (;;) {
    std::string line;
    if (rng.one_in(3)) {
      try {
        line = co_await weft::wait_for(r.read_line(), rng.micros(0, 300));
      } catch (const weft::TimeoutError&) {
        count(Ev::kReadTimedOut);
        continue;
      }
    } else {
      line = co_await r.read_line();
    }
    if (line.empty()) co_return;
    if (line.back() != '\n') fail("io_tcp_lines: a line came back without its newline");
    got.add(reinterpret_cast<const std::byte*>(line.data()), line.size());
  }
}

/// Sends random traffic over `s` from a writer task and reads the echo here; checks it.
/// Returns what was sent (when it all came back intact).
template <class S>
weft::Task<ByteTally> echo_client(S& s, Rng& rng, bool lines, const char* where) {
  const std::size_t total = rng.one_in(4) ? rng.in(1, 262144) : rng.in(1, 4096);
  ByteTally sent, got;
  weft::JoinHandle<void> w = go(writer(&s, total, lines, rng.fork(), &sent), "echo writer");
  bool read_ok = true;
  try {
    if constexpr (std::is_same_v<S, TcpStream>) {
      if (lines) {
        co_await read_echo_lines(s, rng, got);
      } else {
        co_await read_echo(s, rng, got);
      }
    } else {
      co_await read_echo(s, rng, got);
    }
  } catch (...) {
    read_ok = false;
    fail(std::string(where) + ": reading the echo raised " + describe_current());
  }
  if (!read_ok) w.cancel();  // the writer may be blocked on a peer nobody reads
  Ended e = co_await settle(w, where);
  if (e != Ended::kValue || !read_ok) co_return ByteTally{};
  if (got.bytes != sent.bytes || got.hash != sent.hash) {
    fail(std::string(where) + ": sent " + std::to_string(sent.bytes) +
         " bytes, the echo brought back " + std::to_string(got.bytes) +
         (got.bytes == sent.bytes ? " different ones" : ""));
  }
  world().io_bytes.fetch_add(got.bytes);
  co_return sent;
}

weft::Task<void> op_io_unix(Rng& rng) {
  auto [a, b] = UnixStream::pair();
  weft::JoinHandle<void> server = go(unix_echo_server(std::move(b)), "unix echo server");
  (void)co_await echo_client(a, rng, false, "io_unix");
  a.close();
  Ended e = co_await settle(server, "io_unix server");
  if (e != Ended::kValue) fail("io_unix: the echo server did not end cleanly");
}

weft::Task<void> tcp_client(Rng& rng, bool lines, const char* where) {
  TcpStream c;
  if (rng.one_in(2)) {
    c = co_await TcpStream::connect(world().shared.tcp_addr);
  } else {
    c = co_await TcpStream::connect(world().shared.tcp_addr, std::chrono::milliseconds(20000));
  }
  if (rng.one_in(2)) c.set_nodelay(true);
  ByteTally sent = co_await echo_client(c, rng, lines, where);
  io().client_out.add(sent);
}

weft::Task<void> op_io_tcp(Rng& rng) {
  co_await tcp_client(rng, false, "io_tcp");
}

weft::Task<void> op_io_tcp_lines(Rng& rng) {
  co_await tcp_client(rng, true, "io_tcp_lines");
}

}  // namespace

std::vector<OpKind> io_ops() {
  return {
      {"io_unix", 4, &op_io_unix},
      {"io_tcp", 4, &op_io_tcp},
      {"io_tcp_lines", 3, &op_io_tcp_lines},
  };
}

weft::Task<void> start_io() {
  io().listener = TcpListener::bind(SocketAddress::ip("127.0.0.1", 0));
  world().shared.tcp_addr = io().listener.local_address();
  io().acceptor = go(accept_loop(&io().listener), "tcp acceptor");
  co_return;
}

weft::Task<void> stop_io() {
  io().acceptor.cancel();
  Ended e = co_await settle(io().acceptor, "tcp acceptor");
  if (e != Ended::kCancelled) fail("io: the TCP acceptor did not end with its cancellation");
  io().acceptor = {};
  io().listener.close();
}

void check_io_totals() {
  const Totals& in = io().server_in;
  const Totals& out = io().client_out;
  if (in.conns.load() != out.conns.load() || in.bytes.load() != out.bytes.load() ||
      in.hash_sum.load() != out.hash_sum.load()) {
    fail("io: the TCP echo handlers read " + std::to_string(in.bytes.load()) + " bytes over " +
         std::to_string(in.conns.load()) + " connections, the clients sent " +
         std::to_string(out.bytes.load()) + " over " + std::to_string(out.conns.load()) +
         (in.bytes.load() == out.bytes.load() ? " (different bytes)" : ""));
  }
}

std::uint64_t tcp_connections() {
  return io().client_out.conns.load();
}

}  // namespace soak
