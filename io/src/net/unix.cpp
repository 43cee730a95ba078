// weft::net::UnixStream and UnixListener (unix.hpp).
#include "weft/io/net/unix.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "weft/runtime/cancel.hpp"

namespace weft::net {

namespace {

void require_unix(const SocketAddress& addr, const char* what) {
  if (addr.family() != AF_UNIX || addr.host().empty()) {
    throw std::invalid_argument(std::string("weft::net::") + what +
                                ": not a named Unix socket address: " + addr.to_string());
  }
}

/// Removes the socket file at `path` if no one listens on it: a connect to it is refused.
/// Leaves anything else (no file, another kind of file, a live or busy socket) alone, for
/// bind to report. The probe is a non-blocking connect, which a Unix socket answers at once.
void remove_if_stale(const SocketAddress& addr, const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return;
  Socket probe = Socket::open(AF_UNIX, SOCK_STREAM);
  if (::connect(probe.fd(), addr.data(), addr.size()) == 0 || errno != ECONNREFUSED) return;
  ::unlink(path.c_str());
}

}  // namespace

Task<UnixStream> UnixStream::connect(std::string_view path) {
  return connect(SocketAddress::unix_path(path));
}

Task<UnixStream> UnixStream::connect(SocketAddress to) {
  require_unix(to, "UnixStream::connect");
  TcpStream s = co_await TcpStream::connect(std::move(to));
  co_return UnixStream(std::move(s.socket()));
}

Task<UnixStream> UnixStream::connect(SocketAddress to, std::chrono::milliseconds timeout) {
  co_return co_await wait_for(connect(std::move(to)), timeout);
}

std::pair<UnixStream, UnixStream> UnixStream::pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
    throw socket_error(errno, "socketpair(AF_UNIX)");
  }
  Socket a;
  try {
    a = Socket(fds[0]);
  } catch (...) {
    ::close(fds[1]);
    throw;
  }
  Socket b(fds[1]);
  return {UnixStream(std::move(a)), UnixStream(std::move(b))};
}

PeerCredentials UnixStream::peer_credentials() {
  ucred cred{};
  socklen_t len = sizeof cred;
  const Socket& s = stream_.socket();
  if (::getsockopt(s.fd(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    const int err = errno;  // before describe(), which makes syscalls
    throw socket_error(err, s.describe("getsockopt(SO_PEERCRED)"));
  }
  return {cred.pid, cred.uid, cred.gid};
}

UnixListener::UnixListener(UnixListener&& o) noexcept
    : listener_(std::move(o.listener_)),
      path_(std::exchange(o.path_, {})),
      owns_file_(std::exchange(o.owns_file_, false)),
      dev_(o.dev_),
      ino_(o.ino_) {}

UnixListener& UnixListener::operator=(UnixListener&& o) noexcept {
  if (this != &o) {
    close();
    listener_ = std::move(o.listener_);
    path_ = std::exchange(o.path_, {});
    owns_file_ = std::exchange(o.owns_file_, false);
    dev_ = o.dev_;
    ino_ = o.ino_;
  }
  return *this;
}

UnixListener UnixListener::bind(std::string_view path, UnixListenOptions options) {
  return bind(SocketAddress::unix_path(path), options);
}

UnixListener UnixListener::bind(const SocketAddress& addr, UnixListenOptions options) {
  require_unix(addr, "UnixListener::bind");
  UnixListener l;
  l.path_ = addr.host();
  const bool abstract = l.path_.front() == '@';
  if (options.unlink_stale && !abstract) remove_if_stale(addr, l.path_);
  try {
    l.listener_ = TcpListener::bind(addr, {.backlog = options.backlog});
  } catch (const std::system_error& e) {
    if (e.code().value() != EADDRINUSE || abstract) throw;
    const char* hint = options.unlink_stale
                           ? " (a server listens there, or it is not a socket)"
                           : " (the path exists; UnixListenOptions::unlink_stale removes a "
                             "stale socket file)";
    throw socket_error(EADDRINUSE, "bind " + addr.to_string() + hint);
  }
  struct stat st {};
  if (!abstract && options.unlink_on_close && ::lstat(l.path_.c_str(), &st) == 0) {
    l.owns_file_ = true;
    l.dev_ = st.st_dev;
    l.ino_ = st.st_ino;
  }
  return l;
}

Task<std::pair<UnixStream, SocketAddress>> UnixListener::accept() {
  auto [stream, peer] = co_await listener_.accept();
  co_return std::pair<UnixStream, SocketAddress>(UnixStream(std::move(stream.socket())), peer);
}

void UnixListener::close() noexcept {
  if (owns_file_) {
    // Only the file bind made: another listener may have replaced it at the same path.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
      ::unlink(path_.c_str());
    }
    owns_file_ = false;
  }
  listener_.close();
  path_.clear();
}

}  // namespace weft::net
