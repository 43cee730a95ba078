// weft::net::start_server / open_connection / Server: an echo of lines over TCP and Unix
// sockets, many clients at once, a handler's exception reported with the peer while the
// server goes on, close() refusing new connections but letting live ones finish,
// shutdown() cancelling the connections that outlive the grace period, cancellation of
// serve_forever, the connection limit, and the wrap step (ServerOptions::wrap) that turns
// each accepted connection into the stream its handler reads.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <weft/weft.hpp>

#include "rot13_stream.hpp"
#include "stress_scale.hpp"

using namespace std::chrono_literals;
using weft::net::AnyStream;
using weft::net::BufferedReader;
using weft::net::BufferedStream;
using weft::net::Server;
using weft::net::TcpStream;
using weft::test::rot13;
using weft::test::Rot13Stream;

namespace {

weft::RuntimeOptions virtual_clock(std::size_t workers = 1) {
  return {.workers = workers, .clock = weft::ClockKind::Virtual};
}

/// Echoes lines until the client ends its side.
weft::Task<void> echo_lines(BufferedStream s) {
  for (;;) {
    std::string line = co_await s.read_line();
    if (line.empty()) break;
    co_await s.write(line);
    co_await s.flush();
  }
  co_await s.close();
}

/// Sends `n` lines and checks every echo; true if all came back.
weft::Task<bool> client(std::uint16_t port, int id, int n) {
  BufferedStream c = co_await weft::net::open_connection("127.0.0.1", port);
  bool ok = true;
  for (int i = 0; i < n; ++i) {
    const std::string line = std::to_string(id) + ":" + std::to_string(i) + "\n";
    co_await c.write(line);
    co_await c.flush();
    ok = ok && (co_await c.read_line()) == line;
  }
  co_await c.finish_writing();
  ok = ok && (co_await c.read_line()).empty();
  co_return ok;
}

/// `t`'s result; if it takes 10 s (virtual time), a test failure naming `what` and
/// `otherwise`, so that a server that does not serve fails the test instead of hanging it.
template <class T>
weft::Task<T> within_10s(weft::Task<T> t, T otherwise, std::string what) {
  try {
    co_return co_await weft::wait_for(std::move(t), 10s);
  } catch (const weft::TimeoutError&) {
    ADD_FAILURE() << "not within 10 s: " << what;
  }
  co_return otherwise;
}

class ServerWorkers : public ::testing::TestWithParam<std::size_t> {};

}  // namespace

TEST_P(ServerWorkers, EchoesLinesForManyClientsAtOnce) {
  const int clients = 50;
  weft::run(
      [](int clients) -> weft::Task<void> {
        Server server = co_await weft::net::start_server(echo_lines, "127.0.0.1", 0);
        auto serving = weft::spawn(server.serve_forever());
        const std::uint16_t port = server.local_address().port();
        std::vector<weft::JoinHandle<bool>> cs;
        for (int i = 0; i < clients; ++i) cs.push_back(weft::spawn(client(port, i, 20)));
        int ok = 0;
        for (auto& h : cs) ok += (co_await h) ? 1 : 0;
        EXPECT_EQ(ok, clients);
        EXPECT_EQ(server.accepted(), static_cast<std::size_t>(clients));
        EXPECT_EQ(co_await server.shutdown(1s), 0u);
        co_await serving;
        EXPECT_EQ(server.connections(), 0u);
      }(clients),
      {.workers = GetParam()});
}

INSTANTIATE_TEST_SUITE_P(Workers, ServerWorkers, ::testing::Values(1, 2));

TEST(Server, OnlyTheStartFunctionsMakeAServerOfAListener) {
  // A Server is made from its shared state, which is no part of the API.
  static_assert(!std::is_constructible_v<Server, std::shared_ptr<weft::net::detail::ServerState>>);
  static_assert(std::is_nothrow_default_constructible_v<Server>);  // an empty Server
}

TEST(Server, AHandlersExceptionIsReportedWithThePeerAndTheServerGoesOn) {
  weft::run(
      []() -> weft::Task<void> {
        std::atomic<int> reported{0};
        std::string what;
        weft::net::ServerOptions o;
        o.on_error = [&](const weft::net::SocketAddress& peer, std::exception_ptr e) {
          EXPECT_EQ(peer.host(), "127.0.0.1");
          try {
            std::rethrow_exception(e);
          } catch (const std::runtime_error& ex) {
            what = ex.what();
          }
          reported.fetch_add(1);
        };
        auto handler = [](BufferedStream s) -> weft::Task<void> {
          std::string line = co_await s.read_line();
          if (line == "fail\n") throw std::runtime_error("handler gave up");
          co_await s.write(line);
          co_await s.close();
        };
        Server server = co_await weft::net::start_server(handler, "127.0.0.1", 0, o);
        auto serving = weft::spawn(server.serve_forever());
        const std::uint16_t port = server.local_address().port();
        {
          BufferedStream c = co_await weft::net::open_connection("127.0.0.1", port);
          co_await c.write("fail\n");
          co_await c.flush();
          EXPECT_EQ(co_await c.read_line(), "");  // the failed handler's connection closed
        }
        BufferedStream c = co_await weft::net::open_connection("127.0.0.1", port);
        co_await c.write("still there\n");
        co_await c.flush();
        EXPECT_EQ(co_await c.read_line(), "still there\n");
        EXPECT_EQ(reported.load(), 1);
        EXPECT_EQ(what, "handler gave up");
        server.close();
        co_await serving;
      }(),
      virtual_clock());
}

TEST(Server, CloseRefusesNewConnectionsAndLetsLiveOnesFinish) {
  weft::run(
      []() -> weft::Task<void> {
        Server server = co_await weft::net::start_server(echo_lines, "127.0.0.1", 0);
        auto serving = weft::spawn(server.serve_forever());
        const std::uint16_t port = server.local_address().port();
        BufferedStream c = co_await weft::net::open_connection("127.0.0.1", port);
        co_await c.write("before\n");
        co_await c.flush();
        EXPECT_EQ(co_await c.read_line(), "before\n");
        server.close();
        // close() cancels the accept loop, which closes the listening socket as it ends; a
        // connect that slips in before that is reset with the backlog, so try until refused.
        for (int i = 0; i < 100; ++i) {
          bool refused = false;
          try {
            (void)co_await weft::net::open_connection("127.0.0.1", port);
          } catch (const std::system_error& e) {
            refused = e.code().value() == ECONNREFUSED;
          }
          if (refused) break;
          co_await weft::yield_now();
        }
        EXPECT_THROW((void)co_await weft::net::open_connection("127.0.0.1", port),
                     std::system_error);
        co_await c.write("after close\n");
        co_await c.flush();
        EXPECT_EQ(co_await c.read_line(), "after close\n");
        EXPECT_FALSE(serving.done());
        co_await c.finish_writing();
        EXPECT_EQ(co_await c.read_line(), "");
        co_await server.wait_closed();
        co_await serving;
      }(),
      virtual_clock());
}

TEST(Server, ShutdownCancelsTheConnectionsThatOutliveTheGrace) {
  weft::run(
      []() -> weft::Task<void> {
        std::atomic<int> cancelled{0}, started{0};
        weft::Event both_started;
        auto handler = [&](BufferedStream s) -> weft::Task<void> {
          if (started.fetch_add(1) + 1 == 2) both_started.set();
          try {
            (void)co_await s.read_line();  // the client never writes
          } catch (const weft::CancelledError&) {
            cancelled.fetch_add(1);
            throw;
          }
        };
        Server server = co_await weft::net::start_server(handler, "127.0.0.1", 0);
        auto serving = weft::spawn(server.serve_forever());
        const std::uint16_t port = server.local_address().port();
        BufferedStream c1 = co_await weft::net::open_connection("127.0.0.1", port);
        BufferedStream c2 = co_await weft::net::open_connection("127.0.0.1", port);
        co_await both_started.wait();
        EXPECT_EQ(server.connections(), 2u);
        const auto start = weft::now();
        EXPECT_EQ(co_await server.shutdown(5s), 2u);
        EXPECT_GE(weft::now() - start, 5s);
        EXPECT_EQ(cancelled.load(), 2);
        co_await serving;
        EXPECT_EQ(co_await c1.read_line(), "");  // the server side closed
      }(),
      virtual_clock());
}

TEST(Server, CancellingServeForeverCancelsEveryConnectionAndWaitsForThem) {
  weft::run(
      []() -> weft::Task<void> {
        std::atomic<int> started{0}, ended{0};
        weft::Event all_started;
        auto handler = [&](BufferedStream s) -> weft::Task<void> {
          if (started.fetch_add(1) + 1 == 5) all_started.set();
          struct Count {
            std::atomic<int>& n;
            ~Count() { n.fetch_add(1); }
          } count{ended};
          (void)co_await s.read_line();
        };
        Server server = co_await weft::net::start_server(handler, "127.0.0.1", 0);
        auto serving = weft::spawn(server.serve_forever());
        const std::uint16_t port = server.local_address().port();
        std::vector<BufferedStream> cs;
        for (int i = 0; i < 5; ++i) {
          cs.push_back(co_await weft::net::open_connection("127.0.0.1", port));
        }
        co_await all_started.wait();
        EXPECT_EQ(started.load(), 5);
        EXPECT_EQ(server.connections(), 5u);
        serving.cancel();
        EXPECT_THROW(co_await serving, weft::CancelledError);
        EXPECT_EQ(ended.load(), 5);  // every handler finished before serve_forever did
        EXPECT_EQ(server.connections(), 0u);
      }(),
      virtual_clock(2));
}

TEST(Server, AtMostMaxConnectionsAreServedAtOnce) {
  weft::run(
      []() -> weft::Task<void> {
        std::atomic<int> now{0}, most{0};
        auto handler = [&](BufferedStream s) -> weft::Task<void> {
          int n = now.fetch_add(1) + 1;
          int m = most.load();
          while (n > m && !most.compare_exchange_weak(m, n)) {
          }
          co_await weft::sleep(10ms);
          co_await s.write("done\n");
          now.fetch_sub(1);
          co_await s.close();
        };
        weft::net::ServerOptions o;
        o.max_connections = 2;
        Server server = co_await weft::net::start_server(handler, "127.0.0.1", 0, o);
        auto serving = weft::spawn(server.serve_forever());
        const std::uint16_t port = server.local_address().port();
        std::vector<weft::JoinHandle<std::string>> cs;
        for (int i = 0; i < 6; ++i) {
          cs.push_back(weft::spawn([](std::uint16_t port) -> weft::Task<std::string> {
            BufferedStream c = co_await weft::net::open_connection("127.0.0.1", port);
            co_return co_await c.read_line();
          }(port)));
        }
        for (auto& h : cs) EXPECT_EQ(co_await h, "done\n");
        EXPECT_EQ(most.load(), 2);
        EXPECT_EQ(server.accepted(), 6u);
        server.close();
        co_await serving;
      }(),
      virtual_clock(2));
}

TEST(Server, ServingTwiceOrAfterCloseIsAUsageError) {
  weft::run(
      []() -> weft::Task<void> {
        Server server = co_await weft::net::start_server(echo_lines, "127.0.0.1", 0);
        auto serving = weft::spawn(server.serve_forever());
        EXPECT_THROW((void)server.serve_forever(), weft::UsageError);
        server.close();
        co_await serving;
        Server other = co_await weft::net::start_server(echo_lines, "127.0.0.1", 0);
        other.close();
        EXPECT_THROW((void)other.serve_forever(), weft::UsageError);
        co_await other.wait_closed();  // returns at once: it never served
      }(),
      virtual_clock());
}

TEST(Server, AnEmptyHandlerIsRejected) {
  weft::run(
      []() -> weft::Task<void> {
        EXPECT_THROW((void)co_await weft::net::start_server({}, "127.0.0.1", 0),
                     std::invalid_argument);
      }(),
      virtual_clock());
}

TEST(Server, ServesOnAUnixSocket) {
  const std::string path = "@weft-server-test-" + std::to_string(::getpid());
  weft::run(
      [](std::string path) -> weft::Task<void> {
        Server server = weft::net::start_unix_server(echo_lines, path);
        auto serving = weft::spawn(server.serve_forever());
        BufferedStream c = co_await weft::net::open_unix_connection(path);
        co_await c.write("over unix\n");
        co_await c.flush();
        EXPECT_EQ(co_await c.read_line(), "over unix\n");
        co_await c.finish_writing();
        EXPECT_EQ(co_await c.read_line(), "");
        EXPECT_EQ(co_await server.shutdown(1s), 0u);
        co_await serving;
      }(path),
      virtual_clock());
}

TEST(Server, AUnixServersHandlerReachesItsUnixStreamThroughStream) {
  const std::string path = "@weft-server-test-creds-" + std::to_string(::getpid());
  weft::run(
      [](std::string path) -> weft::Task<void> {
        auto handler = [](BufferedStream s) -> weft::Task<void> {
          weft::net::AnyStream& raw = s.stream();
          const bool unix_stream = raw.target<weft::net::UnixStream>() != nullptr;
          co_await s.write(unix_stream && raw.tcp() == nullptr ? "unix " : "not unix ");
          if (unix_stream) {
            const auto cred = raw.target<weft::net::UnixStream>()->peer_credentials();
            co_await s.write(std::to_string(cred.pid) + "\n");
          }
          co_await s.close();
        };
        Server server = weft::net::start_unix_server(handler, path);
        auto serving = weft::spawn(server.serve_forever());
        BufferedStream c = co_await weft::net::open_unix_connection(path);
        EXPECT_EQ(co_await c.read_line(), "unix " + std::to_string(::getpid()) + "\n");
        EXPECT_EQ(co_await server.shutdown(1s), 0u);
        co_await serving;
      }(path),
      virtual_clock());
}

TEST(ServerWrap, TheWrapStepsStreamIsWhatTheHandlerReadsAndWrites) {
  weft::run(
      []() -> weft::Task<void> {
        std::vector<std::string> heard;
        weft::net::ServerOptions o;
        o.wrap = [](TcpStream s) -> weft::Task<AnyStream> {
          co_return Rot13Stream(std::move(s), "<bye>");
        };
        auto handler = [&](BufferedStream s) -> weft::Task<void> {
          EXPECT_NE(s.stream().target<Rot13Stream>(), nullptr);
          EXPECT_NE(s.stream().tcp(), nullptr);  // Rot13Stream exposes its connection
          for (;;) {
            std::string line = co_await s.read_line();
            if (line.empty()) break;
            heard.push_back(line);
            co_await s.write("you said " + line);
          }
          co_await s.finish_writing();
        };
        Server server = co_await weft::net::start_server(handler, "127.0.0.1", 0, o);
        auto serving = weft::spawn(server.serve_forever());
        // The client speaks on the wire what the wrap step decodes.
        TcpStream c = co_await TcpStream::connect(server.local_address());
        co_await c.write_all(rot13("Hello\nAgain\n"));
        c.shutdown();
        BufferedReader r(c);
        EXPECT_EQ(co_await r.read_all(), rot13("you said Hello\nyou said Again\n") + "<bye>");
        EXPECT_EQ(heard, (std::vector<std::string>{"Hello\n", "Again\n"}));
        EXPECT_EQ(co_await server.shutdown(1s), 0u);
        co_await serving;
      }(),
      virtual_clock());
}

TEST(ServerWrap, AWrapStepThatThrowsIsReportedAndItsSlotServesTheNextConnection) {
  weft::run(
      []() -> weft::Task<void> {
        std::vector<std::string> errors;
        std::atomic<int> wraps{0};
        weft::net::ServerOptions o;
        o.max_connections = 1;  // the failed connection must give its slot back
        o.on_error = [&](const weft::net::SocketAddress& peer, std::exception_ptr e) {
          EXPECT_EQ(peer.host(), "127.0.0.1");
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            errors.push_back(ex.what());
          }
        };
        o.wrap = [&](TcpStream s) -> weft::Task<AnyStream> {
          const int n = wraps.fetch_add(1);
          if (n == 0) throw std::runtime_error("handshake with the first client failed");
          if (n == 1) co_return AnyStream();
          co_return std::move(s);
        };
        Server server = co_await weft::net::start_server(echo_lines, "127.0.0.1", 0, o);
        auto serving = weft::spawn(server.serve_forever());
        const std::uint16_t port = server.local_address().port();
        for (int i = 0; i < 2; ++i) {  // the throwing wrap, then the empty stream
          BufferedStream c = co_await weft::net::open_connection("127.0.0.1", port);
          EXPECT_EQ(co_await within_10s(c.read_line(), std::string("timeout"),
                                        "the failed connection's end"),
                    "");  // closed, not served
        }
        // A slot still held by a failed connection would leave this one in the backlog.
        EXPECT_TRUE(co_await within_10s(client(port, 3, 2), false, "the connection after them"));
        EXPECT_EQ(errors.size(), 2u);
        errors.resize(2);
        EXPECT_EQ(errors[0], "handshake with the first client failed");
        EXPECT_NE(errors[1].find("wrap"), std::string::npos) << errors[1];
        EXPECT_NE(errors[1].find("empty"), std::string::npos) << errors[1];
        EXPECT_EQ(server.accepted(), 3u);
        EXPECT_EQ(co_await server.shutdown(1s), 0u);
        co_await serving;
        EXPECT_EQ(server.connections(), 0u);
      }(),
      virtual_clock());
}

TEST(ServerWrap, ASlowWrapStepDoesNotHoldUpTheNextConnection) {
  weft::run(
      []() -> weft::Task<void> {
        std::atomic<int> wraps{0};
        weft::Event first_wrapping, second_served;
        weft::net::ServerOptions o;
        o.wrap = [&](TcpStream s) -> weft::Task<AnyStream> {
          if (wraps.fetch_add(1) == 0) {
            first_wrapping.set();
            co_await second_served.wait();  // a handshake that waits on a slow peer
          }
          co_return std::move(s);
        };
        auto handler = [&](BufferedStream s) -> weft::Task<void> {
          co_await echo_lines(std::move(s));
          second_served.set();
        };
        Server server = co_await weft::net::start_server(handler, "127.0.0.1", 0, o);
        auto serving = weft::spawn(server.serve_forever());
        const std::uint16_t port = server.local_address().port();
        auto first = weft::spawn(client(port, 1, 1));
        co_await first_wrapping.wait();
        // Were the wrap step run by the accept loop, this connection would never be served.
        EXPECT_TRUE(co_await within_10s(client(port, 2, 1), false, "the second connection"));
        second_served.set();  // lets the first wrap step go on in any case
        EXPECT_TRUE(co_await first);
        EXPECT_EQ(co_await server.shutdown(1s), 0u);
        co_await serving;
      }(),
      virtual_clock(2));
}

TEST(ServerWrap, AWrapStepStillRunningAtShutdownIsCancelledAndNotReported) {
  weft::run(
      []() -> weft::Task<void> {
        std::atomic<int> reported{0}, cancelled{0};
        weft::Event wrapping;
        weft::net::ServerOptions o;
        o.on_error = [&](const weft::net::SocketAddress&, std::exception_ptr) {
          reported.fetch_add(1);
        };
        o.wrap = [&](TcpStream s) -> weft::Task<AnyStream> {
          wrapping.set();
          try {
            co_await weft::sleep(1h);  // a peer that never finishes its handshake
          } catch (const weft::CancelledError&) {
            cancelled.fetch_add(1);
            throw;
          }
          co_return std::move(s);
        };
        Server server = co_await weft::net::start_server(echo_lines, "127.0.0.1", 0, o);
        auto serving = weft::spawn(server.serve_forever());
        BufferedStream c =
            co_await weft::net::open_connection("127.0.0.1", server.local_address().port());
        co_await wrapping.wait();
        EXPECT_EQ(server.connections(), 1u);
        EXPECT_EQ(co_await server.shutdown(5s), 1u);
        co_await serving;
        EXPECT_EQ(cancelled.load(), 1);
        EXPECT_EQ(reported.load(), 0);
        EXPECT_EQ(server.connections(), 0u);
        EXPECT_EQ(co_await c.read_line(), "");
      }(),
      virtual_clock());
}

TEST(OpenConnection, ARefusedConnectionNamesTheAddress) {
  weft::run(
      []() -> weft::Task<void> {
        // A port nobody listens on: bind one, note it, close it.
        auto l = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("127.0.0.1", 0));
        const std::uint16_t port = l.local_address().port();
        l.close();
        try {
          (void)co_await weft::net::open_connection("127.0.0.1", port);
          ADD_FAILURE() << "connected to a closed port";
        } catch (const std::system_error& e) {
          EXPECT_EQ(e.code().value(), ECONNREFUSED);
          EXPECT_NE(std::string(e.what()).find("connect 127.0.0.1:" + std::to_string(port)),
                    std::string::npos)
              << e.what();
        }
      }(),
      virtual_clock());
}

TEST(ServerStress, ManyClientsOnTwoWorkersAreEachServedCompletely) {
  const int clients = static_cast<int>(weft::test::scaled(300, 20));
  const int lines = static_cast<int>(weft::test::scaled(50, 5));
  weft::run(
      [](int clients, int lines) -> weft::Task<void> {
        Server server = co_await weft::net::start_server(echo_lines, "127.0.0.1", 0);
        auto serving = weft::spawn(server.serve_forever());
        const std::uint16_t port = server.local_address().port();
        std::vector<weft::JoinHandle<bool>> cs;
        for (int i = 0; i < clients; ++i) cs.push_back(weft::spawn(client(port, i, lines)));
        int ok = 0;
        for (auto& h : cs) ok += (co_await h) ? 1 : 0;
        EXPECT_EQ(ok, clients);
        EXPECT_EQ(co_await server.shutdown(10s), 0u);
        co_await serving;
      }(clients, lines),
      {.workers = 2});
}
