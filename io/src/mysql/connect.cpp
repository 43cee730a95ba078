// mysql::connect and the Connection's life: Connector/C's mysql_real_connect_start/_cont,
// waiting on the socket through the worker's reactor; closing.
//
// The library would resolve a host name itself (getaddrinfo, blocking): a name is resolved
// here, by weft::net::resolve, and the library is given the numeric address; except under
// TlsMode::kVerifyFull, where the library checks the server's certificate against the host it
// was given: it is given the name, and resolves it in the connect's first call, which runs on
// the blocking pool as every call of a connect that may negotiate TLS does (connect_on_pool).
//
// TLS is the library's (OpenSSL on the socket, negotiated in the connect); the modes map onto
// its options in set_tls_options.
#include <errmsg.h>
#include <fcntl.h>
#include <mysql.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

// After mysql.h: the library's I/O layer (MARIADB_PVIO, its methods), for socket_mode_hook.
#include <ma_pvio.h>

#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "conn_state.hpp"
#include "tls_socket_bio.hpp"
#include "weft/io/mysql/connection.hpp"
#include "weft/io/net/address.hpp"
#include "weft/io/net/resolve.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/cancel.hpp"
#include "weft/sync/event.hpp"

namespace weft::mysql {
namespace detail {

void ConnState::before_close() noexcept {
  if (open_result) {
    // A result read row by row would drain the rest of its rows when freed; over a socket
    // that is shut down (abandon) or lost, that fails at once.
    mysql_free_result(open_result);
    open_result = nullptr;
  }
}

void ConnState::close() noexcept {
  if (!m) return;
  before_close();
  const int fd = static_cast<int>(mysql_get_socket(m));
  if (fd >= 0 && fd == reg.fd()) {
    reg.reset();
  } else {
    reg.reset_closed();
  }
  if (fd >= 0) {
    // mysql_close sends COM_QUIT with a blocking write: only if the socket takes it now,
    // else it is shut down first and the write fails at once.
    pollfd p{fd, POLLOUT, 0};
    if (lost || ::poll(&p, 1, 0) != 1 || (p.revents & POLLOUT) == 0) ::shutdown(fd, SHUT_RDWR);
  }
  if (sigpipe_prone) {
    // mysql_close writes COM_QUIT and TLS's close_notify: see call().
    weft::detail::SigpipeBlock block;
    mysql_close(m);
    block.take_pending();
  } else {
    mysql_close(m);
  }
  m = nullptr;
  statements.drop_all();  // detached by mysql_close: freed without I/O
}

}  // namespace detail

namespace {

// Exported by the library (its I/O plugins' interface) but declared in no installed header:
// registers a function called after every read and write of every connection.
extern "C" int ma_pvio_register_callback(my_bool register_callback,
                                         void (*callback)(int mode, MYSQL* mysql,
                                                          const unsigned char* buffer,
                                                          std::size_t length));

/// Connector/C makes a socket blocking once its connect is done, and reads and writes TLS
/// with OpenSSL on the socket itself: in the non-blocking API a TLS read (the handshake's
/// too) would then block the worker until the server sends. The library calls this after each
/// read (mode 0) and write of every connection. On a connection of the non-blocking API that
/// asked for TLS and has not begun it (the reads of the server's greeting, before the
/// handshake) it makes the socket non-blocking, through the library's own method so that its
/// record of the mode agrees: OpenSSL then returns WANT_READ or WANT_WRITE, and the call
/// suspends as a plain one does. A connection of the blocking API is left alone.
void socket_mode_hook(int mode, MYSQL* m, const unsigned char* /*buffer*/, std::size_t /*length*/) {
  if (mode != 0 || !m || !m->options.use_ssl) return;
  MARIADB_PVIO* p = m->net.pvio;
  if (!p || p->ctls || !p->methods || !p->methods->is_blocking(p)) return;
  my_bool nonblocking_api = 0;
  if (mysql_get_option(m, MYSQL_OPT_NONBLOCK, &nonblocking_api) != 0 || !nonblocking_api) {
    return;
  }
  p->methods->blocking(p, 0, nullptr);
}

/// mysql_library_init is not thread-safe and mysql_init calls it the first time: once here.
/// It also sets SIGPIPE to be ignored, for the whole process; the disposition is put back,
/// since a program's signals are its own: the library sends with MSG_NOSIGNAL, so a write to
/// a closed socket fails with EPIPE without the signal (over TLS, ConnState::call blocks it).
/// And it registers socket_mode_hook.
void init_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    ::sigaction(SIGPIPE, nullptr, &old);
    const int r = mysql_library_init(0, nullptr, nullptr);
    ::sigaction(SIGPIPE, &old, nullptr);
    if (r != 0) throw std::bad_alloc();
    ma_pvio_register_callback(1, &socket_mode_hook);
  });
}

ErrorFields fields_of(MYSQL* m) {
  return ErrorFields{.code = mysql_errno(m),
                     .sqlstate = mysql_sqlstate(m),
                     .message = mysql_error(m),
                     .query = {}};
}

bool is_numeric_host(const std::string& host) {
  try {
    (void)net::SocketAddress::ip(host, 0);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

/// Sets the library's TLS options for `o.tls`. The library asks for TLS when use_ssl is set
/// (MYSQL_OPT_SSL_ENFORCE sets just that) and the server offers it, and goes on in plain
/// text when it does not, unless it is to verify the server's certificate; it checks the
/// chain when given certificate authorities, and the host name too with
/// MYSQL_OPT_SSL_VERIFY_SERVER_CERT. What it lets pass in plain text that the mode does not
/// is refused after the connect (connect()). True if the connect may negotiate TLS.
bool set_tls_options(MYSQL* m, const ConnectOptions& o, bool unix) {
  if (o.tls == TlsMode::kDisable || (o.tls == TlsMode::kPrefer && unix)) return false;
  const my_bool yes = 1;
  mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &yes);
  if (!o.tls_cert_file.empty()) mysql_options(m, MYSQL_OPT_SSL_CERT, o.tls_cert_file.c_str());
  if (!o.tls_key_file.empty()) mysql_options(m, MYSQL_OPT_SSL_KEY, o.tls_key_file.c_str());
  if (o.tls == TlsMode::kVerifyCa || o.tls == TlsMode::kVerifyFull) {
    // Without a file of its own, OpenSSL's directory of trusted certificates: the library
    // checks the chain during the handshake only when it is given one or the other.
    if (!o.tls_ca_file.empty()) {
      mysql_options(m, MYSQL_OPT_SSL_CA, o.tls_ca_file.c_str());
    } else {
      mysql_options(m, MYSQL_OPT_SSL_CAPATH, X509_get_default_cert_dir());
    }
  }
  if (o.tls == TlsMode::kVerifyFull) mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
  return true;
}

/// Runs `f`, one call of a connect, on the blocking pool, with SIGPIPE blocked; `status` is
/// what it returns. If the task is cancelled meanwhile, `fd` (the socket, or -1 before the
/// first call made it) is shut down, which ends a wait of the library's at once, the call is
/// waited for, the connection abandoned, and the cancellation goes on.
template <class F, class Cont>
Task<void> call_on_pool(detail::ConnState& s, int& status, F& f, Cont& cont, int fd) {
  s.arm();
  Event done;
  weft::detail::spawn_blocking([&]() noexcept {
    weft::detail::SigpipeBlock block;
    status = f();
    block.take_pending();
    done.set();
  });
  std::exception_ptr cancelled;
  try {
    co_await done.wait();
  } catch (...) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    co_await shield(done.wait());
    s.abandon(status, cont);
    std::rethrow_exception(cancelled);
  }
}

/// A descriptor of its own for the connect's socket, closed with it: the library may close
/// its descriptor in a call that fails, and the number may be another's by the time a
/// cancellation shuts the socket down.
class SocketDup {
 public:
  SocketDup() noexcept = default;
  SocketDup(const SocketDup&) = delete;
  SocketDup& operator=(const SocketDup&) = delete;
  ~SocketDup() {
    if (fd_ >= 0) ::close(fd_);
  }
  /// Keeps a duplicate of `fd`, the connect's socket now: made again only when the library
  /// made another socket (the next address of a name).
  void follow(int fd) noexcept {
    if (fd == source_) return;
    if (fd_ >= 0) ::close(fd_);
    source_ = fd;
    fd_ = fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
  }
  int fd() const noexcept { return fd_; }

 private:
  int source_ = -1;
  int fd_ = -1;
};

/// Runs a connect that may negotiate TLS to its end: each library call on the blocking pool
/// (call_on_pool), each wait for the socket on the reactor. The library's TLS handshake waits
/// for the server with poll(2) inside a call, rather than suspending the call as its other
/// waits do: on a worker, a server that stalls in the handshake would hold it. A cancellation
/// abandons the connection.
template <class Start, class Cont>
Task<void> connect_on_pool(detail::ConnState& s, Start& start, Cont& cont) {
  int status = 0;
  SocketDup socket;
  co_await call_on_pool(s, status, start, cont, -1);
  while (status != 0) {
    int events = MYSQL_WAIT_TIMEOUT;  // a wait with no direction: only a timeout it set
    if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE)) {
      s.adopt();
      socket.follow(s.reg.fd());
      std::exception_ptr cancelled;
      try {
        events = co_await s.ready(status);
      } catch (...) {
        cancelled = std::current_exception();
      }
      if (cancelled) {
        s.abandon(status, cont);
        std::rethrow_exception(cancelled);
      }
    }
    auto next = [&cont, events] { return cont(events); };
    co_await call_on_pool(s, status, next, cont, socket.fd());
  }
}

const char* tls_mode_name(TlsMode mode) noexcept {
  switch (mode) {
    case TlsMode::kRequire:
      return "kRequire";
    case TlsMode::kVerifyCa:
      return "kVerifyCa";
    case TlsMode::kVerifyFull:
      return "kVerifyFull";
    default:
      return "kPrefer";
  }
}

}  // namespace

Connection::Connection() noexcept = default;
Connection::Connection(std::unique_ptr<detail::ConnState> s) noexcept : s_(std::move(s)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

void Connection::close() noexcept {
  if (s_) s_->close();
}

bool Connection::is_open() const noexcept {
  return s_ && s_->m != nullptr;
}

bool Connection::is_alive() noexcept {
  if (!is_open() || s_->busy.load(std::memory_order_acquire)) return false;
  const int fd = static_cast<int>(mysql_get_socket(s_->m));
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (fd >= 0 && ::poll(&p, 1, 0) == 0) return true;
  s_->lost = true;
  s_->lost_error.code = 2013;
  s_->lost_error.sqlstate = "HY000";
  s_->lost_error.message = "the server closed the connection while it was idle";
  s_->close();
  return false;
}

std::uint64_t Connection::thread_id() const noexcept {
  return is_open() ? mysql_thread_id(s_->m) : 0;
}

std::size_t Connection::cached_statements() const noexcept {
  return s_ ? s_->statements.size() : 0;
}

std::string Connection::server_version() const {
  return is_open() ? mysql_get_server_info(s_->m) : "";
}

bool Connection::uses_tls() const noexcept {
  return is_open() && mysql_get_ssl_cipher(s_->m) != nullptr;
}

std::string Connection::tls_cipher() const {
  const char* cipher = is_open() ? mysql_get_ssl_cipher(s_->m) : nullptr;
  return cipher ? cipher : "";
}

Task<Connection> connect(ConnectOptions o) {
  init_library();
  const bool unix = !o.unix_socket.empty();
  const std::string target = unix ? o.unix_socket : o.host + ":" + std::to_string(o.port);
  std::string host = o.host;
  // The library resolves the name itself, off the worker (see the opening comment).
  const bool library_resolves = !unix && o.tls == TlsMode::kVerifyFull && !is_numeric_host(host);
  if (!unix && !library_resolves && !is_numeric_host(host)) {
    const std::vector<net::SocketAddress> addrs = co_await net::resolve(o.host, o.port);
    host = addrs.front().host();  // resolve() throws rather than return none
  }

  auto s = std::make_unique<detail::ConnState>();
  s->max_result_bytes = o.max_result_bytes;
  s->m = mysql_init(nullptr);
  if (!s->m) throw std::bad_alloc();
  MYSQL* m = s->m;
  mysql_options(m, MYSQL_OPT_NONBLOCK, nullptr);
  const unsigned protocol = unix ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
  mysql_options(m, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_options(m, MYSQL_SET_CHARSET_NAME, o.charset.c_str());
  // LOAD DATA LOCAL lets the server ask for any file the client can read: off.
  const unsigned no_infile = 0;
  mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &no_infile);
  const bool may_use_tls = set_tls_options(m, o, unix);
  s->sigpipe_prone = may_use_tls;
  MYSQL* ret = nullptr;
  const auto start = [&] {
    return mysql_real_connect_start(&ret, m, unix ? "localhost" : host.c_str(), o.user.c_str(),
                                    o.password.c_str(),
                                    o.database.empty() ? nullptr : o.database.c_str(),
                                    unix ? 0 : o.port, unix ? o.unix_socket.c_str() : nullptr, 0);
  };
  auto cont = [&](int ev) { return mysql_real_connect_cont(&ret, m, ev); };
  if (may_use_tls) {
    // (library_resolves implies TLS: its getaddrinfo runs on the pool too.)
    co_await connect_on_pool(*s, start, cont);
  } else {
    const int st = s->call(start);
    if (st != 0) co_await detail::complete(*s, st, cont, nullptr);
  }
  if (!ret) {
    ErrorFields f = fields_of(m);
    s->lost = true;
    s->close();
    throw ConnectionError(target, std::move(f));
  }
  const bool tls = detail::use_nosignal_socket_bio(m);
  s->sigpipe_prone = false;
  if (!tls && o.tls != TlsMode::kDisable && o.tls != TlsMode::kPrefer) {
    s->close();
    throw ConnectionError(
        target,
        ErrorFields{.code = CR_SSL_CONNECTION_ERROR,
                    .sqlstate = "HY000",
                    .message = std::string("the server does not offer TLS (ConnectOptions::tls "
                                           "is ") +
                               tls_mode_name(o.tls) + ")",
                    .query = {}});
  }
  s->arm();
  s->statements.set_capacity(o.statement_cache_size);
  s->options = std::move(o);
  co_return Connection(std::move(s));
}

Task<Connection> connect(ConnectOptions options, std::chrono::milliseconds timeout) {
  co_return co_await wait_for(connect(std::move(options)), timeout);
}

}  // namespace weft::mysql
