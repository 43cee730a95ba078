// epoll-echo-server: the hand-written reference TCP echo server of the echo benchmark. It uses
// no weft at all (plain Linux APIs and pthreads), so weft's echo server has something fast and
// simple to be measured against with the same load generator (loadgen.cpp, run_echo.py).
//
//   epoll-echo-server [--host 127.0.0.1] [--port 0] [--threads N] [--pin CPU,CPU,...]
//
// Design: N worker threads (default: the hardware threads), each with its own listening
// socket, all bound to the same address with SO_REUSEPORT so the kernel spreads incoming
// connections over them, and its own epoll instance. A connection lives on the thread that
// accepted it for its whole life; no state is shared between workers. Everything is
// edge-triggered and non-blocking: a readable socket is read until EAGAIN and each chunk is
// written straight back; what the socket does not take is kept in the connection's pending
// buffer and flushed on EPOLLOUT (both directions are registered once, so no epoll_ctl per
// message). While a connection has more than kMaxPending bytes pending it is not read, which
// pushes back on a client that sends without reading. EOF or an error closes the connection.
//
// Accepting runs until EAGAIN. When the process (or system) is out of descriptors or memory,
// accept stops and is retried after kAcceptBackoff instead of spinning on a listening socket
// that stays readable; the pending connections wait in the kernel's backlog meanwhile.
//
// With --port 0 the kernel picks the port; once all listening sockets are bound and listening
// the server prints "listening HOST:PORT" on stdout and flushes, so a script can read it.
// SIGINT and SIGTERM are blocked in every thread and read by the main thread from a signalfd;
// it then makes a shared eventfd readable, which every worker's epoll watches, joins the
// workers and exits with status 0 without printing anything.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "posix_helpers.hpp"

namespace {

constexpr std::string_view kProgram = "epoll-echo-server";
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxPending = 1024 * 1024;
constexpr int kMaxEvents = 256;
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);
// epoll_event.data.u64 holds a connection's fd, or one of these two tags.
constexpr std::uint64_t kStopTag = ~std::uint64_t{0};
constexpr std::uint64_t kListenTag = kStopTag - 1;

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  unsigned threads = 0;
  std::vector<int> pin;
};

[[noreturn]] void usage_error(std::string_view what) {
  std::fprintf(stderr,
               "%.*s: %.*s\nusage: %.*s [--host IPV4] [--port P] [--threads N] "
               "[--pin CPU,CPU,...]\n",
               static_cast<int>(kProgram.size()), kProgram.data(), static_cast<int>(what.size()),
               what.data(), static_cast<int>(kProgram.size()), kProgram.data());
  std::exit(2);
}

// Applies one "--name value" pair; false if the name is unknown or the value is bad.
bool apply_option(Options& options, std::string_view name, std::string_view value) {
  std::uint64_t number = 0;
  if (name == "--host") {
    options.host = value;
    return true;
  }
  if (name == "--pin") return echo::parse_cpu_list(value, options.pin);
  if (!echo::parse_u64(value, number)) return false;
  if (name == "--port" && number <= 65535) {
    options.port = static_cast<std::uint16_t>(number);
    return true;
  }
  if (name == "--threads" && number >= 1 && number <= 4096) {
    options.threads = static_cast<unsigned>(number);
    return true;
  }
  return false;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view name = argv[i];
    if (i + 1 >= argc) usage_error("missing value after " + std::string(name));
    if (!apply_option(options, name, argv[i + 1])) {
      usage_error("bad option " + std::string(name) + " " + argv[i + 1]);
    }
  }
  if (options.threads == 0) options.threads = std::max(1u, std::thread::hardware_concurrency());
  return options;
}

sockaddr_in make_address(const std::string& host, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    usage_error("--host must be an IPv4 address: " + host);
  }
  return address;
}

// A non-blocking listening socket with SO_REUSEPORT, bound to `address` and listening.
int open_listener(const sockaddr_in& address) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) echo::die_errno(kProgram, "socket", errno);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    echo::die_errno(kProgram, "SO_REUSEPORT", errno);
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    echo::die_errno(kProgram, "bind", errno);
  }
  if (listen(fd, SOMAXCONN) != 0) echo::die_errno(kProgram, "listen", errno);
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    echo::die_errno(kProgram, "getsockname", errno);
  }
  return ntohs(address.sin_port);
}

void add_to_epoll(int epoll_fd, int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = tag;
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
    echo::die_errno(kProgram, "epoll_ctl", errno);
  }
}

bool is_resource_shortage(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

// One worker thread: a listening socket, an epoll instance and the connections it accepted.
class Worker {
 public:
  Worker(int listen_fd, int stop_fd) : listen_fd_(listen_fd), read_buffer_(kReadChunk) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) echo::die_errno(kProgram, "epoll_create1", errno);
    add_to_epoll(epoll_fd_, listen_fd_, EPOLLIN | EPOLLET, kListenTag);
    add_to_epoll(epoll_fd_, stop_fd, EPOLLIN, kStopTag);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  ~Worker() {
    for (std::size_t fd = 0; fd < connections_.size(); ++fd) {
      if (connections_[fd].open) close(static_cast<int>(fd));
    }
    close(epoll_fd_);
    close(listen_fd_);
  }

  // Serves until the stop eventfd becomes readable.
  void run() {
    std::array<epoll_event, kMaxEvents> events;
    while (true) {
      const int count = epoll_wait(epoll_fd_, events.data(), kMaxEvents, wait_timeout_ms());
      if (count < 0 && errno != EINTR) echo::die_errno(kProgram, "epoll_wait", errno);
      for (int i = 0; i < count; ++i) {
        const std::uint64_t tag = events[i].data.u64;
        if (tag == kStopTag) return;
        if (tag == kListenTag) {
          if (!accept_paused_) accept_all();
        } else {
          on_connection_event(static_cast<int>(tag), events[i].events);
        }
      }
      if (accept_paused_ && Clock::now() >= accept_retry_at_) {
        accept_paused_ = false;
        accept_all();
      }
    }
  }

 private:
  using Clock = std::chrono::steady_clock;

  struct Connection {
    bool open = false;
    bool read_paused = false;
    std::size_t flushed = 0;
    std::vector<char> pending;
  };

  int wait_timeout_ms() const {
    if (!accept_paused_) return -1;
    const auto left = accept_retry_at_ - Clock::now();
    return static_cast<int>(
        std::max<std::int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(left).count()));
  }

  void accept_all() {
    while (true) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        open_connection(fd);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      } else if (is_resource_shortage(errno)) {
        accept_paused_ = true;
        accept_retry_at_ = Clock::now() + kAcceptBackoff;
        return;
      } else if (errno == EBADF || errno == EINVAL || errno == ENOTSOCK || errno == EFAULT) {
        echo::die_errno(kProgram, "accept4", errno);
      }
      // EINTR, ECONNABORTED, EPROTO, EPERM and the network errors: try the next one.
    }
  }

  void open_connection(int fd) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (static_cast<std::size_t>(fd) >= connections_.size()) connections_.resize(fd + 1);
    connections_[fd] = Connection{};
    connections_[fd].open = true;
    add_to_epoll(epoll_fd_, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                 static_cast<std::uint64_t>(fd));
  }

  void close_connection(int fd) {
    close(fd);
    connections_[fd] = Connection{};
  }

  void on_connection_event(int fd, std::uint32_t events) {
    Connection& connection = connections_[fd];
    if ((events & EPOLLOUT) != 0 && !connection.pending.empty()) {
      if (!flush(fd, connection)) return;
    }
    // EPOLLIN, EPOLLRDHUP, EPOLLHUP and EPOLLERR all end in read(): data, 0 or the error.
    if ((events & ~std::uint32_t{EPOLLOUT}) != 0 && !connection.read_paused) echo_all(fd);
  }

  // Reads until EAGAIN, writing every chunk back; closes the connection on EOF or an error.
  void echo_all(int fd) {
    Connection& connection = connections_[fd];
    while (true) {
      if (connection.pending.size() - connection.flushed >= kMaxPending) {
        connection.read_paused = true;
        return;
      }
      const ssize_t got = read(fd, read_buffer_.data(), read_buffer_.size());
      if (got > 0) {
        if (!write_back(fd, connection, static_cast<std::size_t>(got))) return;
      } else if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      } else if (got < 0 && errno == EINTR) {
        continue;
      } else {
        close_connection(fd);
        return;
      }
    }
  }

  // Sends read_buffer_[0, size) unless older bytes are pending; keeps what the socket refuses.
  // Returns false if the connection was closed.
  bool write_back(int fd, Connection& connection, std::size_t size) {
    std::size_t sent = 0;
    if (connection.pending.empty()) {
      const ssize_t wrote = send(fd, read_buffer_.data(), size, MSG_NOSIGNAL);
      if (wrote < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        close_connection(fd);
        return false;
      }
      sent = wrote > 0 ? static_cast<std::size_t>(wrote) : 0;
    }
    if (sent < size) {
      connection.pending.insert(connection.pending.end(), read_buffer_.data() + sent,
                                read_buffer_.data() + size);
    }
    return true;
  }

  // Writes pending bytes until done or EAGAIN; resumes reading a paused connection once
  // everything went out. Returns false if the connection was closed.
  bool flush(int fd, Connection& connection) {
    while (connection.flushed < connection.pending.size()) {
      const ssize_t wrote = send(fd, connection.pending.data() + connection.flushed,
                                 connection.pending.size() - connection.flushed, MSG_NOSIGNAL);
      if (wrote > 0) {
        connection.flushed += static_cast<std::size_t>(wrote);
      } else if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        compact(connection);
        return true;
      } else if (wrote < 0 && errno != EINTR) {
        close_connection(fd);
        return false;
      }
    }
    connection.pending.clear();
    connection.flushed = 0;
    if (connection.read_paused) {
      connection.read_paused = false;
      echo_all(fd);
      return connections_[fd].open;
    }
    return true;
  }

  static void compact(Connection& connection) {
    connection.pending.erase(
        connection.pending.begin(),
        connection.pending.begin() + static_cast<std::ptrdiff_t>(connection.flushed));
    connection.flushed = 0;
  }

  int epoll_fd_ = -1;
  int listen_fd_;
  std::vector<char> read_buffer_;
  std::vector<Connection> connections_;  // indexed by fd; only this worker's fds are open
  bool accept_paused_ = false;
  Clock::time_point accept_retry_at_;
};

void run_worker(int listen_fd, int stop_fd, int cpu) {
  if (cpu >= 0) {
    if (const int err = echo::pin_current_thread(cpu); err != 0) {
      echo::die_errno(kProgram, "pinning to CPU " + std::to_string(cpu), err);
    }
  }
  Worker worker(listen_fd, stop_fd);
  worker.run();
}

// Binds every worker's listening socket; the first one picks the port when `port` is 0.
std::vector<int> open_listeners(const Options& options) {
  sockaddr_in address = make_address(options.host, options.port);
  std::vector<int> listeners;
  listeners.push_back(open_listener(address));
  address.sin_port = htons(bound_port(listeners.front()));
  while (listeners.size() < options.threads) listeners.push_back(open_listener(address));
  return listeners;
}

int blocked_signal_fd() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) {
    echo::die(kProgram, "pthread_sigmask failed");
  }
  const int fd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (fd < 0) echo::die_errno(kProgram, "signalfd", errno);
  return fd;
}

void wait_for_signal(int signal_fd) {
  signalfd_siginfo info{};
  while (read(signal_fd, &info, sizeof(info)) < 0 && errno == EINTR) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  echo::raise_open_file_limit();
  signal(SIGPIPE, SIG_IGN);
  const int signal_fd = blocked_signal_fd();  // before any thread, so all inherit the mask
  const int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) echo::die_errno(kProgram, "eventfd", errno);

  const std::vector<int> listeners = open_listeners(options);
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < options.threads; ++i) {
    const int cpu = options.pin.empty() ? -1 : options.pin[i % options.pin.size()];
    workers.emplace_back(run_worker, listeners[i], stop_fd, cpu);
  }
  std::printf("listening %s:%u\n", options.host.c_str(), bound_port(listeners.front()));
  std::fflush(stdout);

  wait_for_signal(signal_fd);
  const std::uint64_t one = 1;
  if (write(stop_fd, &one, sizeof(one)) != sizeof(one)) echo::die_errno(kProgram, "eventfd", errno);
  for (std::thread& worker : workers) worker.join();
  close(stop_fd);
  close(signal_fd);
  return 0;
}
