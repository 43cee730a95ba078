// Helpers of the http::Server tests: a server running on its own runtime (the test's thread
// drives clients with blocking calls), a blocking raw-socket client on 127.0.0.1 with a
// receive timeout (so a server that does not answer fails the test, never hangs it), and
// a runner for curl and /usr/bin/python3 that captures their output.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <weft/io/http.hpp>
#include <weft/weft.hpp>

namespace weft::test {

/// An http::Server serving `router` on 127.0.0.1 (a free port), on a runtime of its own.
class TestServer {
 public:
  /// On the Unix-domain socket `unix_path` instead, if not empty.
  explicit TestServer(http::Router router, http::ServerOptions options = {},
                      std::size_t workers = 2, const std::string& unix_path = {})
      : rt_(std::make_unique<Runtime>(RuntimeOptions{.workers = workers})),
        server_(std::make_unique<http::Server>(std::move(router), std::move(options))) {
    if (unix_path.empty()) {
      rt_->block_on(server_->listen("127.0.0.1", 0));
      port_ = server_->local_address().port();
    } else {
      server_->listen_unix(unix_path);
    }
    serving_ = rt_->spawn(server_->serve_forever());
  }
  ~TestServer() { stop(); }

  /// shutdown(grace), then waits for serve_forever; the count of cancelled connections.
  std::size_t stop(std::chrono::milliseconds grace = std::chrono::seconds(5)) {
    if (!serving_) return 0;
    std::size_t n = rt_->block_on(server_->shutdown(grace));
    join(std::move(serving_));
    return n;
  }
  /// Runs stop() on the runtime while the test goes on: join it with wait_stopped().
  void stop_async(std::chrono::milliseconds grace) {
    stopping_ = rt_->spawn(server_->shutdown(grace));
  }
  std::size_t wait_stopped() {
    std::size_t n = rt_->block_on([](JoinHandle<std::size_t> h) -> Task<std::size_t> {
      co_return co_await h;
    }(std::move(stopping_)));
    join(std::move(serving_));
    return n;
  }

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  http::Server& server() { return *server_; }
  Runtime& runtime() { return *rt_; }

 private:
  void join(JoinHandle<void> h) {
    rt_->block_on([](JoinHandle<void> h) -> Task<void> { co_await h; }(std::move(h)));
    serving_ = {};
  }

  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<http::Server> server_;
  std::uint16_t port_ = 0;
  JoinHandle<void> serving_;
  JoinHandle<std::size_t> stopping_;
};

/// A blocking TCP client with a receive timeout.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      throw std::runtime_error("connect failed");
    }
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  /// Sends all of `s`; false if the connection broke.
  bool send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  /// Reads until the peer closes (or the timeout, or a reset); everything read.
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  /// Reads one response (head plus a Content-Length or chunked body); "" on timeout/close.
  std::string read_response() {
    for (;;) {
      if (std::optional<std::size_t> n = complete_response(pending_)) {
        std::string r = pending_.substr(0, *n);
        pending_.erase(0, *n);
        return r;
      }
      char buf[4096];
      ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) {
        std::string r = std::move(pending_);
        pending_.clear();
        return r;
      }
      pending_.append(buf, static_cast<std::size_t>(got));
    }
  }
  /// Whether the peer closed: a read returns 0 (or a reset) before the timeout.
  bool closed_by_peer() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
  int fd() const { return fd_; }

 private:
  /// The length of the first complete response in `s`, if there is one.
  static std::optional<std::size_t> complete_response(const std::string& s) {
    std::size_t head_end = s.find("\r\n\r\n");
    if (head_end == std::string::npos) return std::nullopt;
    head_end += 4;
    std::string head = s.substr(0, head_end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (head.find(" 100 continue") != std::string::npos && head.rfind("http/1.1 100", 0) == 0) {
      return head_end;
    }
    std::size_t cl = head.find("\r\ncontent-length:");
    if (cl != std::string::npos) {
      std::size_t n = std::stoul(head.substr(cl + 17));
      if (s.size() >= head_end + n) return head_end + n;
      return std::nullopt;
    }
    if (head.find("transfer-encoding: chunked") != std::string::npos) {
      std::size_t end = s.find("\r\n0\r\n\r\n", head_end - 2);
      if (end == std::string::npos) return std::nullopt;
      return end + 7;
    }
    return head_end;  // no body (204, 304, or one delimited by close: read_all it)
  }

  int fd_ = -1;
  std::string pending_;
};

/// The body of an HTTP response (after the blank line).
inline std::string body_of(const std::string& response) {
  std::size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

/// The output of a shell command and its exit status.
struct CommandResult {
  int status = -1;
  std::string out;
};

/// Runs `cmd` with /bin/sh, capturing stdout (add 2>&1 for stderr).
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

/// Fails the test naming the missing program unless `path` is executable.
inline bool require_program(const char* path) {
  if (::access(path, X_OK) == 0) return true;
  ADD_FAILURE() << path << " is missing: tools/setup installs it";
  return false;
}

}  // namespace weft::test
