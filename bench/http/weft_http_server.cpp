// weft-http-server: the benchmark's weft server (bench/http/run_http.py, README "HTTP").
// "Hello, World!" (13 bytes, text/plain) on GET / and GET /hello, keep-alive, no access log.
//
//   weft-http-server --host 127.0.0.1 --port 0 --workers N [--tls-cert F --tls-key F]
//                    [--single-listener]
//
// Prints "listening HOST:PORT" once it accepts; stops on SIGTERM (graceful shutdown, 2 s)
// with status 0. With more than one worker it opens one SO_REUSEPORT
// listener per worker, as nginx's `reuseport` does, unless --single-listener.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <weft/io/http.hpp>
#include <weft/io/signal.hpp>
#include <weft/io/tls.hpp>
#include <weft/weft.hpp>

namespace {

struct Args {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t workers = 1;
  std::string cert, key;
  bool single_listener = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "weft-http-server: %s\nusage: weft-http-server --host H --port P --workers N "
               "[--tls-cert F --tls-key F] [--single-listener]\n",
               why);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value of " + arg).c_str());
      return argv[++i];
    };
    if (arg == "--host") {
      a.host = value();
    } else if (arg == "--port") {
      a.port = static_cast<std::uint16_t>(std::stoi(value()));
    } else if (arg == "--workers") {
      a.workers = static_cast<std::size_t>(std::stoi(value()));
    } else if (arg == "--tls-cert") {
      a.cert = value();
    } else if (arg == "--tls-key") {
      a.key = value();
    } else if (arg == "--single-listener") {
      a.single_listener = true;
    } else {
      usage(("unknown argument " + arg).c_str());
    }
  }
  if (a.cert.empty() != a.key.empty()) usage("--tls-cert and --tls-key go together");
  if (a.workers == 0) usage("--workers must be positive");
  return a;
}

weft::Task<void> serve(const Args& a) {
  using weft::http::Request;
  using weft::http::Response;
  auto hello = [](Request&) -> weft::Task<Response> { co_return Response::text("Hello, World!"); };
  weft::http::Router router;
  router.get("/", hello);
  router.get("/hello", hello);
  weft::http::ServerOptions options;
  options.reuse_port = a.workers > 1 && !a.single_listener;
  if (!a.cert.empty()) {
    options.wrap = weft::tls::server_wrap(
        weft::tls::Context::server({.certificate_chain_file = a.cert, .private_key_file = a.key}));
  }
  weft::http::Server server(std::move(router), std::move(options));
  co_await server.listen(a.host, a.port);
  auto serving = weft::spawn(server.serve_forever());
  const weft::net::SocketAddress at = server.local_address();
  std::printf("listening %s:%u\n", at.host().c_str(), static_cast<unsigned>(at.port()));
  std::fflush(stdout);
  co_await weft::signal::wait(SIGTERM);
  co_await server.shutdown(std::chrono::seconds(2));
  co_await serving;
  if (std::getenv("WEFT_HTTP_SERVER_METRICS") != nullptr) {
    // Where the work ran: per worker polls, steals, parks and the epoll events it delivered.
    const auto m = weft::current_runtime().metrics().workers;
    for (std::size_t i = 0; i < m.size(); ++i) {
      std::fprintf(stderr, "worker %zu: polls %llu steals %llu parks %llu io_events %llu\n", i,
                   static_cast<unsigned long long>(m[i].polls),
                   static_cast<unsigned long long>(m[i].steals),
                   static_cast<unsigned long long>(m[i].parks),
                   static_cast<unsigned long long>(m[i].io_events));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  weft::signal::block({SIGTERM});
  weft::run(serve(args), {.workers = args.workers});
  return 0;
}
