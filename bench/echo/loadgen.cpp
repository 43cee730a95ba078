// echo-loadgen: the closed-loop load generator of the echo benchmark, in plain epoll and
// pthreads (no weft), so that it loads weft's echo server and the reference
// epoll-echo-server alike.
//
//   echo-loadgen --port P [--host 127.0.0.1] [--connections N] [--size BYTES]
//                [--count MESSAGES] [--warmup MESSAGES] [--threads T] [--pin CPU,CPU,...]
//                [--timeout SECONDS] [--connect-timeout SECONDS]
//
// Defaults: 1 connection, 64-byte messages, --count 1000, --warmup count/10, 1 thread,
// --timeout 300, --connect-timeout 10. --count and --warmup are per connection.
//
// Each connection runs a closed loop: send one message of --size bytes, wait until all of it
// has come back, check that every byte is what was sent (any difference, an extra byte or a
// closed connection is fatal: exit status 1), note the round trip's latency
// (steady_clock, ns), send the next. Messages are windows into a pseudo-random pattern at an
// offset that changes with the connection and the message, so a byte echoed to the wrong
// connection or from an old message is caught.
//
// The main thread opens all connections first (blocking connect, retried every 20 ms while
// refused, for up to --connect-timeout seconds, so the server may still be starting), then
// deals them round-robin to T threads; thread i is pinned to the i-th --pin entry (wrapping
// around). Every thread drives its connections through its own epoll (edge-triggered,
// non-blocking, TCP_NODELAY) in two phases:
//   1. warm-up: --warmup round trips per connection, not recorded;
//   2. after all threads have finished warming up (a barrier), --count round trips per
//      connection, each latency kept.
// The measured time runs from the barrier to the moment the last thread finished; throughput
// is the measured round trips divided by it. All latency samples are kept (8 bytes each) and
// sorted, so the percentiles are exact (nearest rank). The whole run fails after --timeout.
//
// Output, on stdout: one machine-readable line of key=value pairs, then one for people:
//
//   rt_per_sec=<f> p50_us=<f> p99_us=<f> p999_us=<f> mean_us=<f> max_us=<f> round_trips=<n>
//     warmup_round_trips=<n> seconds=<f> connections=<n> size=<n> threads=<n>   (one line)
//   echo-loadgen: <n> round trips in <f> s over <n> connections x <n> B ...
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "posix_helpers.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kProgram = "echo-loadgen";
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kPatternSlack = 4096;  // message offsets into the pattern vary this much
constexpr int kMaxEvents = 256;
constexpr std::uint64_t kMaxSamples = std::uint64_t{1} << 28;
constexpr auto kConnectRetry = std::chrono::milliseconds(20);

struct Options {
  std::string host = "127.0.0.1";
  int port = -1;
  unsigned connections = 1;
  std::size_t size = 64;
  std::uint64_t count = 1000;
  std::uint64_t warmup = ~std::uint64_t{0};  // unset: count / 10
  unsigned threads = 1;
  std::vector<int> pin;
  std::uint64_t timeout_s = 300;
  std::uint64_t connect_timeout_s = 10;
};

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr,
               "%s: %s\nusage: echo-loadgen --port P [--host IPV4] [--connections N] "
               "[--size BYTES] [--count MESSAGES] [--warmup MESSAGES] [--threads T] "
               "[--pin CPU,CPU,...] [--timeout SECONDS] [--connect-timeout SECONDS]\n",
               kProgram.data(), what.c_str());
  std::exit(2);
}

// Stores `number` into `field` if it lies in [low, high]; false otherwise.
template <typename Field>
bool set_in_range(Field& field, std::uint64_t number, std::uint64_t low, std::uint64_t high) {
  if (number < low || number > high) return false;
  field = static_cast<Field>(number);
  return true;
}

// Applies one "--name value" pair; false if the name is unknown or the value is bad.
bool apply_option(Options& options, std::string_view name, std::string_view value) {
  if (name == "--host") {
    options.host = value;
    return true;
  }
  if (name == "--pin") return echo::parse_cpu_list(value, options.pin);
  std::uint64_t n = 0;
  if (!echo::parse_u64(value, n)) return false;
  if (name == "--port") return set_in_range(options.port, n, 1, 65535);
  if (name == "--connections") return set_in_range(options.connections, n, 1, 1'000'000);
  if (name == "--size") return set_in_range(options.size, n, 1, std::size_t{1} << 30);
  if (name == "--count") return set_in_range(options.count, n, 1, kMaxSamples);
  if (name == "--warmup") return set_in_range(options.warmup, n, 0, kMaxSamples);
  if (name == "--threads") return set_in_range(options.threads, n, 1, 4096);
  if (name == "--timeout") return set_in_range(options.timeout_s, n, 1, 86'400);
  if (name == "--connect-timeout") return set_in_range(options.connect_timeout_s, n, 0, 3'600);
  return false;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i += 2) {
    const std::string name = argv[i];
    if (i + 1 >= argc) usage_error("missing value after " + name);
    if (!apply_option(options, name, argv[i + 1])) {
      usage_error("bad option " + name + " " + argv[i + 1]);
    }
  }
  if (options.port < 0) usage_error("--port is required");
  if (options.warmup == ~std::uint64_t{0}) options.warmup = options.count / 10;
  if (options.count * options.connections > kMaxSamples) {
    usage_error("--count x --connections is too many samples to keep");
  }
  options.threads = std::min(options.threads, options.connections);
  return options;
}

// Deterministic pseudo-random bytes (xorshift64), long enough for every message window.
std::vector<char> make_pattern(std::size_t size) {
  std::vector<char> pattern(size + kPatternSlack);
  std::uint64_t state = 0x9e3779b97f4a7c15;
  for (char& byte : pattern) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    byte = static_cast<char>(state >> 56);
  }
  return pattern;
}

// A connected, non-blocking TCP_NODELAY socket; retries while the server refuses.
int connect_with_retry(const sockaddr_in& address, Clock::time_point deadline) {
  while (true) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) echo::die_errno(kProgram, "socket", errno);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      return fd;
    }
    const int err = errno;
    close(fd);
    const bool retry = err == ECONNREFUSED || err == EINTR || err == EAGAIN || err == ETIMEDOUT;
    if (!retry || Clock::now() >= deadline) echo::die_errno(kProgram, "connect", err);
    std::this_thread::sleep_for(kConnectRetry);
  }
}

// One load-generating thread: its connections, its epoll and its latency samples.
class Client {
 public:
  Client(const Options& options, const std::vector<char>& pattern, std::vector<int> fds)
      : options_(options), pattern_(pattern), read_buffer_(kReadChunk) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) echo::die_errno(kProgram, "epoll_create1", errno);
    for (const int fd : fds) {
      epoll_event event{};
      event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      event.data.u64 = connections_.size();
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
        echo::die_errno(kProgram, "epoll_ctl", errno);
      }
      Connection& connection = connections_.emplace_back();
      connection.fd = fd;
      connection.id = static_cast<std::uint64_t>(fd);
    }
    samples_.reserve(connections_.size() * options_.count);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  ~Client() {
    for (const Connection& connection : connections_) close(connection.fd);
    close(epoll_fd_);
  }

  // Warms up, waits at `phase` for the other threads, then runs the measured phase.
  void run(int cpu, std::barrier<>& phase, Clock::time_point deadline) {
    if (cpu >= 0) {
      if (const int err = echo::pin_current_thread(cpu); err != 0) {
        echo::die_errno(kProgram, "pinning to CPU " + std::to_string(cpu), err);
      }
    }
    run_phase(options_.warmup, false, deadline);
    phase.arrive_and_wait();
    begin_ = Clock::now();
    run_phase(options_.count, true, deadline);
    end_ = Clock::now();
  }

  const std::vector<std::uint64_t>& samples() const { return samples_; }
  Clock::time_point begin() const { return begin_; }
  Clock::time_point end() const { return end_; }

 private:
  struct Connection {
    int fd = -1;
    std::uint64_t id = 0;        // varies the message contents; the fd, unique in the process
    std::uint64_t sequence = 0;  // messages started so far, both phases
    std::uint64_t left = 0;      // round trips still to do in this phase
    const char* message = nullptr;
    std::size_t sent = 0;
    std::size_t received = 0;
    Clock::time_point started;
  };

  void run_phase(std::uint64_t round_trips, bool record, Clock::time_point deadline) {
    if (round_trips == 0) return;
    record_ = record;
    active_ = connections_.size();
    const Clock::time_point now = Clock::now();
    for (Connection& connection : connections_) {
      connection.left = round_trips;
      start_message(connection, now);
    }
    std::array<epoll_event, kMaxEvents> events;
    while (active_ > 0) {
      const int count = epoll_wait(epoll_fd_, events.data(), kMaxEvents, 1000);
      if (count < 0 && errno != EINTR) echo::die_errno(kProgram, "epoll_wait", errno);
      for (int i = 0; i < count; ++i) {
        on_event(connections_[events[i].data.u64], events[i].events);
      }
      if (Clock::now() >= deadline) {
        echo::die(kProgram, "timed out with " + std::to_string(active_) +
                                " connections still waiting for their echo");
      }
    }
  }

  void start_message(Connection& connection, Clock::time_point now) {
    const std::uint64_t offset = (connection.id * 7919 + connection.sequence * 61) % kPatternSlack;
    ++connection.sequence;
    connection.message = pattern_.data() + offset;
    connection.sent = 0;
    connection.received = 0;
    connection.started = now;
    send_some(connection);
  }

  void send_some(Connection& connection) {
    while (connection.sent < options_.size) {
      const ssize_t wrote = send(connection.fd, connection.message + connection.sent,
                                 options_.size - connection.sent, MSG_NOSIGNAL);
      if (wrote > 0) {
        connection.sent += static_cast<std::size_t>(wrote);
      } else if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      } else if (wrote < 0 && errno != EINTR) {
        echo::die_errno(kProgram, "send", errno);
      }
    }
  }

  void on_event(Connection& connection, std::uint32_t events) {
    if ((events & EPOLLOUT) != 0 && connection.left > 0) send_some(connection);
    if ((events & ~std::uint32_t{EPOLLOUT}) != 0) receive_all(connection);
  }

  // Reads until EAGAIN, checking every byte against the message in flight.
  void receive_all(Connection& connection) {
    while (true) {
      const ssize_t got = recv(connection.fd, read_buffer_.data(), read_buffer_.size(), 0);
      if (got > 0) {
        check_echo(connection, static_cast<std::size_t>(got));
      } else if (got == 0) {
        echo::die(kProgram, "the server closed a connection");
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      } else if (errno != EINTR) {
        echo::die_errno(kProgram, "recv", errno);
      }
    }
  }

  void check_echo(Connection& connection, std::size_t got) {
    if (got > connection.sent - connection.received) {
      echo::die(kProgram, "the server echoed more bytes than were sent");
    }
    if (std::memcmp(read_buffer_.data(), connection.message + connection.received, got) != 0) {
      echo::die(kProgram, "echoed bytes differ from the sent ones (message " +
                              std::to_string(connection.sequence) + ", byte offset " +
                              std::to_string(connection.received) + ")");
    }
    connection.received += got;
    if (connection.received == options_.size) complete(connection);
  }

  void complete(Connection& connection) {
    const Clock::time_point now = Clock::now();
    if (record_) samples_.push_back((now - connection.started).count());
    if (--connection.left > 0) {
      start_message(connection, now);
    } else {
      --active_;
    }
  }

  const Options& options_;
  const std::vector<char>& pattern_;
  int epoll_fd_ = -1;
  std::vector<char> read_buffer_;
  std::vector<Connection> connections_;
  std::vector<std::uint64_t> samples_;  // latencies in steady_clock ticks (ns)
  std::size_t active_ = 0;              // connections with round trips left in this phase
  bool record_ = false;
  Clock::time_point begin_;
  Clock::time_point end_;
};

static_assert(std::is_same_v<Clock::period, std::nano>, "latencies are kept in nanoseconds");

// Nearest-rank percentile of sorted samples, in microseconds.
double percentile_us(const std::vector<std::uint64_t>& sorted, double quantile) {
  const auto rank = static_cast<std::size_t>(std::ceil(quantile * sorted.size()));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1] / 1e3;
}

void report(const Options& options, const std::vector<std::unique_ptr<Client>>& clients) {
  std::vector<std::uint64_t> samples;
  Clock::time_point begin = clients.front()->begin();
  Clock::time_point end = clients.front()->end();
  for (const auto& client : clients) {
    samples.insert(samples.end(), client->samples().begin(), client->samples().end());
    begin = std::min(begin, client->begin());
    end = std::max(end, client->end());
  }
  std::sort(samples.begin(), samples.end());
  double total_ns = 0;
  for (const std::uint64_t sample : samples) total_ns += static_cast<double>(sample);

  const double seconds = std::chrono::duration<double>(end - begin).count();
  const double rt_per_sec = samples.size() / seconds;
  const double p50 = percentile_us(samples, 0.5);
  const double p99 = percentile_us(samples, 0.99);
  const double p999 = percentile_us(samples, 0.999);
  const double max = samples.back() / 1e3;
  const auto warmup = static_cast<unsigned long long>(options.warmup * options.connections);
  std::printf(
      "rt_per_sec=%.1f p50_us=%.3f p99_us=%.3f p999_us=%.3f mean_us=%.3f max_us=%.3f "
      "round_trips=%zu warmup_round_trips=%llu seconds=%.6f connections=%u size=%zu "
      "threads=%u\n",
      rt_per_sec, p50, p99, p999, total_ns / samples.size() / 1e3, max, samples.size(), warmup,
      seconds, options.connections, options.size, options.threads);
  std::printf(
      "echo-loadgen: %zu round trips in %.3f s over %u connections x %zu B on %u threads: "
      "%.0f rt/s; latency p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
      samples.size(), seconds, options.connections, options.size, options.threads, rt_per_sec, p50,
      p99, p999, max);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  echo::raise_open_file_limit();
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(options.port));
  if (inet_pton(AF_INET, options.host.c_str(), &address.sin_addr) != 1) {
    usage_error("--host must be an IPv4 address: " + options.host);
  }

  const Clock::time_point connect_deadline =
      Clock::now() + std::chrono::seconds(options.connect_timeout_s);
  std::vector<std::vector<int>> fds(options.threads);
  for (unsigned i = 0; i < options.connections; ++i) {
    fds[i % options.threads].push_back(connect_with_retry(address, connect_deadline));
  }

  const std::vector<char> pattern = make_pattern(options.size);
  std::vector<std::unique_ptr<Client>> clients;
  for (std::vector<int>& thread_fds : fds) {
    clients.push_back(std::make_unique<Client>(options, pattern, std::move(thread_fds)));
  }
  std::barrier<> phase(options.threads);
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(options.timeout_s);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < options.threads; ++i) {
    const int cpu = options.pin.empty() ? -1 : options.pin[i % options.pin.size()];
    threads.emplace_back([&, i, cpu] { clients[i]->run(cpu, phase, deadline); });
  }
  for (std::thread& thread : threads) thread.join();
  report(options, clients);
  return 0;
}
