// weft-echo-server: the TCP echo server of the echo benchmark, written with weft the way a
// user would write it: an accept loop, and one task per connection that reads into its
// buffer and write_all()s what it read. run_echo.py drives it with the same load generator
// (loadgen.cpp) as the hand-written reference, epoll-echo-server.
//
//   weft-echo-server [--host 127.0.0.1] [--port 0] [--workers N] [--pin CPU,CPU,...]
//                    [--buffer BYTES] [--reuse-port] [--shared-buffer] [--metrics]
//                    [--metrics-port P] [--trace]
//
// --workers: the runtime's workers (default: weft's default, $WEFT_WORKERS or the CPUs).
// --buffer: each connection's read buffer (default 64 KiB, the reference's read chunk).
// --shared-buffer: the reference's buffering instead: a connection waits with readable(),
// reads with try_read into one buffer per worker (of --buffer bytes) and writes it back with
// try_write; only what the socket refuses is copied into the connection's own buffer and
// written with write_all. 1,024 connections then share two buffers that stay in cache
// instead of owning 64 MiB between them.
//
// --metrics: at exit, print each worker's counters (polls, steals, parks, epoll events it
// delivered) on stderr, one "METRICS worker=..." line each.
// --metrics-port: serve the runtime's metrics in Prometheus text on
// http://HOST:P/metrics (weft::http, add_metrics_route), for weft-profile --metrics-url.
// --trace: the runtime traces from the start (Runtime::start_tracing), for what tracing
// costs a server; the trace itself is not written.
//
// --pin: the process is restricted to the listed CPUs (sched_setaffinity before the runtime
// starts, so every thread it makes inherits the set). RuntimeOptions::pin_workers pins
// worker i to CPU i, so when the list is exactly 0,1,...,N-1 each worker is pinned to its
// own CPU as well, as the reference pins its threads; with any other list the workers share
// the listed CPUs and the kernel places them within the set.
//
// Listening. Without --reuse-port there is one listening socket and one accept task. With
// --reuse-port there is one listening socket per worker, all bound to one port with
// SO_REUSEPORT (the kernel spreads new connections over them), and one accept task per
// listener. A socket joins the epoll of the worker on which a task first waits on it, and
// weft has no "spawn on worker i", so each accept task first settles on a worker of its own:
// it reads its worker's index from the thread name (workers are named "<thread_name>-<i>"),
// claims that worker if no other accept task has, and otherwise yields, which lets an idle
// worker steal it, and looks again. Once every accept task holds a worker, the last one
// prints the "listening" line; the loadgen connects only after that, so each task's first
// accept() finds nothing, waits, and so registers its listener on the claimed worker. If the
// tasks cannot all settle within kSettleTimeout (no idle worker ever steals), the server
// stops with an error rather than measure a lopsided setup. A connection task is spawned on
// its accept task's worker. With --reuse-port its socket joins that worker's epoll as it is
// accepted (ListenOptions::reuse_port), so the connection stays with the listener the kernel
// chose, even if an idle worker steals its new task; without, it joins the epoll of the
// worker where its first read waits.
//
// Once listening the server prints "listening HOST:PORT" on stdout and flushes. SIGINT and
// SIGTERM are blocked in every thread (before the runtime starts) and taken by a watcher
// thread with sigwait(), which cancels the server task: the task group cancels the accept
// loops and every connection, waits for them, and the process exits with status 0.
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <weft/io/http.hpp>
#include <weft/weft.hpp>

#include "posix_helpers.hpp"

namespace {

using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;

constexpr std::string_view kProgram = "weft-echo-server";
constexpr std::string_view kThreadName = "echo";
constexpr std::size_t kDefaultBuffer = 64 * 1024;
constexpr auto kSettleTimeout = std::chrono::seconds(5);

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t workers = 0;
  std::vector<int> pin;
  std::size_t buffer = kDefaultBuffer;
  bool reuse_port = false;
  bool shared_buffer = false;
  bool metrics = false;
  std::uint16_t metrics_port = 0;  // 0: none
  bool trace = false;
};

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr,
               "%s: %s\nusage: %s [--host IPV4] [--port P] [--workers N] [--pin CPU,CPU,...] "
               "[--buffer BYTES] [--reuse-port] [--shared-buffer] [--metrics] [--metrics-port P] "
               "[--trace]\n",
               kProgram.data(), what.c_str(), kProgram.data());
  std::exit(2);
}

// Applies one "--name value" pair; false if the name is unknown or the value is bad.
bool apply_option(Options& options, std::string_view name, std::string_view value) {
  if (name == "--host") {
    options.host = value;
    return true;
  }
  if (name == "--pin") return echo::parse_cpu_list(value, options.pin);
  std::uint64_t number = 0;
  if (!echo::parse_u64(value, number)) return false;
  if (name == "--port" && number <= 65535) {
    options.port = static_cast<std::uint16_t>(number);
    return true;
  }
  if (name == "--metrics-port" && number >= 1 && number <= 65535) {
    options.metrics_port = static_cast<std::uint16_t>(number);
    return true;
  }
  if (name == "--workers" && number >= 1 && number <= 1024) {
    options.workers = number;
    return true;
  }
  if (name == "--buffer" && number >= 1 && number <= (std::uint64_t{1} << 30)) {
    options.buffer = number;
    return true;
  }
  return false;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "--reuse-port") {
      options.reuse_port = true;
      continue;
    }
    if (name == "--shared-buffer") {
      options.shared_buffer = true;
      continue;
    }
    if (name == "--metrics") {
      options.metrics = true;
      continue;
    }
    if (name == "--trace") {
      options.trace = true;
      continue;
    }
    if (i + 1 >= argc) usage_error("missing value after " + name);
    if (!apply_option(options, name, argv[i + 1])) {
      usage_error("bad option " + name + " " + argv[i + 1]);
    }
    ++i;
  }
  return options;
}

// Restricts the process to the --pin CPUs; true if worker i may also be pinned to CPU i.
bool restrict_to_cpus(const std::vector<int>& cpus, std::size_t workers) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const int cpu : cpus) CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    echo::die_errno(kProgram, "sched_setaffinity", errno);
  }
  if (cpus.size() != workers) return false;
  for (std::size_t i = 0; i < workers; ++i) {
    if (cpus[i] != static_cast<int>(i)) return false;
  }
  return true;
}

// The index of the worker running the calling task, from its thread name "echo-<i>".
std::size_t current_worker_index() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  const std::string_view text(name);
  std::uint64_t index = 0;
  if (!text.starts_with(kThreadName) || text.size() <= kThreadName.size() + 1 ||
      !echo::parse_u64(text.substr(kThreadName.size() + 1), index)) {
    echo::die(kProgram, "not on a worker thread: " + std::string(text));
  }
  return index;
}

// What the accept tasks of a --reuse-port server share while they settle on their workers.
struct Settling {
  explicit Settling(std::size_t workers) : claimed(workers) {}
  std::vector<std::atomic<bool>> claimed;  // per worker: an accept task lives there
  std::atomic<std::size_t> settled{0};
};

void print_listening(const std::string& host, std::uint16_t port) {
  std::printf("listening %s:%u\n", host.c_str(), port);
  std::fflush(stdout);
}

// Echoes everything the peer sends until it closes; a reset connection ends the same way.
weft::Task<void> echo_connection(TcpStream stream, std::size_t buffer_size) {
  // Not zeroed: a kernel copy fills it before anything reads it.
  const auto buffer = std::make_unique_for_overwrite<std::byte[]>(buffer_size);
  try {
    while (true) {
      const std::size_t got = co_await stream.read(std::span(buffer.get(), buffer_size));
      if (got == 0) break;
      co_await stream.write_all(std::span(buffer.get(), got));
    }
  } catch (const std::system_error&) {
  }
}

// The calling worker's read buffer for --shared-buffer (each worker is one thread).
std::span<std::byte> worker_buffer(std::size_t size) {
  thread_local std::vector<std::byte> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return std::span(buffer).first(size);
}

// echo_connection with --shared-buffer: the worker's buffer is used only between a
// try_read and the try_write right after it, with no suspension in between.
weft::Task<void> echo_connection_shared(TcpStream stream, std::size_t buffer_size) {
  std::vector<std::byte> refused;  // what the socket did not take at once
  try {
    while (true) {
      co_await stream.readable();
      const std::span<std::byte> buffer = worker_buffer(buffer_size);  // after the wait
      const std::optional<std::size_t> got = stream.try_read(buffer);
      if (!got) continue;  // woken without data: wait again
      if (*got == 0) break;
      const std::size_t sent = stream.try_write(buffer.first(*got)).value_or(0);
      if (sent < *got) {
        refused.assign(buffer.begin() + static_cast<std::ptrdiff_t>(sent),
                       buffer.begin() + static_cast<std::ptrdiff_t>(*got));
        co_await stream.write_all(refused);
      }
    }
  } catch (const std::system_error&) {
  }
}

weft::Task<void> accept_loop(TcpListener& listener, weft::TaskGroup& group,
                             const Options& options) {
  while (true) {
    auto [stream, peer] = co_await listener.accept();
    if (options.shared_buffer) {
      group.spawn(echo_connection_shared(std::move(stream), options.buffer));
    } else {
      group.spawn(echo_connection(std::move(stream), options.buffer));
    }
  }
}

// Moves the calling task until it runs on a worker no other accept task has claimed, claims
// it and returns its index; the last task to settle prints the "listening" line.
weft::Task<std::size_t> settle_on_own_worker(Settling& settling, const std::string& host,
                                             std::uint16_t port) {
  const auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
  while (true) {
    const std::size_t index = current_worker_index();
    if (!settling.claimed[index].exchange(true)) {
      if (settling.settled.fetch_add(1) + 1 == settling.claimed.size()) {
        print_listening(host, port);
      }
      co_return index;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      echo::die(kProgram, "--reuse-port: the accept tasks did not spread over the workers");
    }
    co_await weft::yield_now();
  }
}

weft::Task<void> settle_and_accept(std::vector<TcpListener>& listeners, Settling& settling,
                                   weft::TaskGroup& group, const Options& options) {
  const std::uint16_t port = listeners.front().local_address().port();
  const std::size_t index = co_await settle_on_own_worker(settling, options.host, port);
  co_await accept_loop(listeners[index], group, options);
}

// GET /metrics on the metrics port, until cancelled with the rest of the server.
weft::Task<void> serve_metrics(const Options& options) {
  weft::http::Router router;
  weft::http::add_metrics_route(router);
  weft::http::Server server(std::move(router));
  co_await server.listen(options.host, options.metrics_port);
  co_await server.serve_forever();
}

weft::Task<void> serve(std::vector<TcpListener>& listeners, const Options& options) {
  Settling settling(listeners.size());
  co_await weft::task_group([&](weft::TaskGroup& group) -> weft::Task<void> {
    if (options.metrics_port != 0) group.spawn(serve_metrics(options));
    if (!options.reuse_port) {
      print_listening(options.host, listeners.front().local_address().port());
      group.spawn(accept_loop(listeners.front(), group, options));
      co_return;
    }
    for (std::size_t i = 0; i < listeners.size(); ++i) {
      group.spawn(settle_and_accept(listeners, settling, group, options));
    }
    co_return;
  });
}

// One listener, or with --reuse-port one per worker on the port the first one got.
std::vector<TcpListener> open_listeners(const Options& options, std::size_t workers) {
  const weft::net::ListenOptions listen{.backlog = SOMAXCONN, .reuse_port = options.reuse_port};
  std::vector<TcpListener> listeners;
  listeners.push_back(TcpListener::bind(SocketAddress::ip(options.host, options.port), listen));
  const SocketAddress bound = listeners.front().local_address();
  while (options.reuse_port && listeners.size() < workers) {
    listeners.push_back(TcpListener::bind(bound, listen));
  }
  return listeners;
}

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

void print_metrics(const weft::Runtime& runtime) {
  const auto workers = runtime.metrics().workers;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const weft::WorkerMetrics& w = workers[i];
    std::fprintf(
        stderr, "METRICS worker=%zu polls=%llu steals=%llu parks=%llu io_events=%llu\n", i,
        static_cast<unsigned long long>(w.polls), static_cast<unsigned long long>(w.steals),
        static_cast<unsigned long long>(w.parks), static_cast<unsigned long long>(w.io_events));
  }
}

int run_server(const Options& options) {
  weft::RuntimeOptions runtime_options{.workers = options.workers,
                                       .thread_name = std::string(kThreadName)};
  if (!options.pin.empty()) {
    runtime_options.pin_workers = restrict_to_cpus(options.pin, options.workers);
  }
  weft::Runtime runtime(std::move(runtime_options));
  if (options.trace) runtime.start_tracing();
  std::vector<TcpListener> listeners = open_listeners(options, runtime.workers());
  weft::JoinHandle<void> server = runtime.spawn(serve(listeners, options), "serve");

  // Takes SIGINT/SIGTERM and cancels the server; the main thread wakes it with SIGTERM if
  // the server ended by itself.
  std::atomic<bool> stopping{false};
  std::thread watcher([&] {
    const sigset_t signals = stop_signals();
    int signal = 0;
    sigwait(&signals, &signal);
    if (!stopping.exchange(true)) server.cancel();
  });
  int status = 0;
  try {
    runtime.block_on(
        [](weft::JoinHandle<void>& handle) -> weft::Task<void> { co_await handle; }(server));
  } catch (const weft::CancelledError&) {
    if (!stopping.load()) status = 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", kProgram.data(), error.what());
    status = 1;
  }
  if (!stopping.exchange(true)) pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  if (options.metrics) print_metrics(runtime);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  echo::raise_open_file_limit();
  signal(SIGPIPE, SIG_IGN);
  const sigset_t signals = stop_signals();
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) {  // before any thread starts
    echo::die(kProgram, "pthread_sigmask failed");
  }
  try {
    return run_server(options);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", kProgram.data(), error.what());
    return 1;
  }
}
