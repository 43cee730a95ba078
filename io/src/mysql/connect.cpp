// mysql::connect and the Connection's life: Connector/C's mysql_real_connect_start/_cont,
// waiting on the socket through the worker's reactor; closing.
//
// The library would resolve a host name itself (getaddrinfo, blocking): a name is resolved
// here, by weft::net::resolve, and the library is given the numeric address. TLS is not
// negotiated yet (the library's default is to not ask for it).
#include <mysql.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "conn_state.hpp"
#include "weft/io/mysql/connection.hpp"
#include "weft/io/net/address.hpp"
#include "weft/io/net/resolve.hpp"
#include "weft/runtime/cancel.hpp"

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
  mysql_close(m);
  m = nullptr;
  statements.drop_all();  // detached by mysql_close: freed without I/O
}

}  // namespace detail

namespace {

/// mysql_library_init is not thread-safe and mysql_init calls it the first time: once here.
/// It also sets SIGPIPE to be ignored, for the whole process; the disposition is put back,
/// since a program's signals are its own: the library sends with MSG_NOSIGNAL, so a write to
/// a closed socket fails with EPIPE without the signal.
void init_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    ::sigaction(SIGPIPE, nullptr, &old);
    const int r = mysql_library_init(0, nullptr, nullptr);
    ::sigaction(SIGPIPE, &old, nullptr);
    if (r != 0) throw std::bad_alloc();
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

Task<Connection> connect(ConnectOptions o) {
  init_library();
  const bool unix = !o.unix_socket.empty();
  const std::string target = unix ? o.unix_socket : o.host + ":" + std::to_string(o.port);
  std::string host = o.host;
  if (!unix && !is_numeric_host(host)) {
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
  MYSQL* ret = nullptr;
  s->arm();
  int st = mysql_real_connect_start(&ret, m, unix ? "localhost" : host.c_str(), o.user.c_str(),
                                    o.password.c_str(),
                                    o.database.empty() ? nullptr : o.database.c_str(),
                                    unix ? 0 : o.port, unix ? o.unix_socket.c_str() : nullptr, 0);
  if (st != 0) {
    co_await detail::complete(
        *s, st, [&](int ev) { return mysql_real_connect_cont(&ret, m, ev); }, nullptr);
  }
  if (!ret) {
    ErrorFields f = fields_of(m);
    s->lost = true;
    s->close();
    throw ConnectionError(target, std::move(f));
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
