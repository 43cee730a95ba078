// pg::connect: libpq's PQconnectStartParams/PQconnectPoll, waiting on the socket through the
// worker's reactor.
//
// Host names are resolved here, by weft::net::resolve (off the workers for a name, at once
// for a numeric address), and handed to libpq as `hostaddr` next to the original `host`
// (which libpq still uses for TLS verification, Kerberos and .pgpass). libpq would otherwise
// call getaddrinfo itself, on the worker, in PQconnectStartParams and again in PQconnectPoll
// each time it moves on to the next host of a list; running only the start on the blocking
// pool would not cover the latter. A name with several addresses becomes as many entries of
// the host list, so libpq still tries them in order, as it does with its own lookup.
//
// libpq may replace the socket while connecting (a new one per address tried, and after a
// refused SSL or GSS negotiation), reusing the same descriptor number. So each wait uses a
// registration of its own, dropped before the next PQconnectPoll: never one that outlives
// the descriptor it was made for.
#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "conn_state.hpp"
#include "weft/io/net/resolve.hpp"
#include "weft/io/pg/connection.hpp"
#include "weft/runtime/cancel.hpp"

namespace weft::pg {
namespace {

using Options = std::vector<std::pair<std::string, std::string>>;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = s.find(',', start);
    parts.push_back(s.substr(start, comma - start));
    if (comma == std::string::npos) return parts;
    start = comma + 1;
  }
}

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (std::size_t i = 0; i < parts.size(); ++i) s += (i ? "," : "") + parts[i];
  return s;
}

/// The options `conninfo` sets (PQconninfoParse: libpq's own parser, both forms).
Options parse(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string msg = err ? err : "out of memory";
    PQfreemem(err);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    throw std::invalid_argument("weft::pg::connect: invalid conninfo: " + msg);
  }
  Options out;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (o->val) out.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(opts);
  return out;
}

std::string* find(Options& o, const std::string& key) {
  for (auto& [k, v] : o) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string& get_or_add(Options& o, const std::string& key) {
  if (std::string* v = find(o, key)) return *v;
  return o.emplace_back(key, "").second;
}

/// "host=H port=P" for messages (libpq's defaults when unset).
std::string describe(Options& o) {
  const std::string* host = find(o, "host");
  const std::string* port = find(o, "port");
  return "host=" + (host && !host->empty() ? *host : std::string("(default)")) +
         " port=" + (port && !port->empty() ? *port : std::string("(default)"));
}

bool is_socket_dir(const std::string& host) {
  return host.empty() || host[0] == '/' || host[0] == '@';
}

/// Resolves every host name of the list into `hostaddr` (see the opening comment). Leaves
/// the options alone when they give hostaddr already or name only socket directories.
Task<void> resolve_hosts(Options& o) {
  if (const std::string* a = find(o, "hostaddr"); a && !a->empty()) co_return;
  std::string* host = find(o, "host");
  if (!host) {
    const char* env = std::getenv("PGHOST");
    if (!env || !*env) co_return;
    host = &get_or_add(o, "host");
    *host = env;
  }
  const std::vector<std::string> hosts = split(*host);
  const std::string* port = find(o, "port");
  const std::vector<std::string> ports = port ? split(*port) : std::vector<std::string>{""};
  if (ports.size() != 1 && ports.size() != hosts.size()) {
    throw std::invalid_argument("weft::pg::connect: " + std::to_string(ports.size()) +
                                " ports for " + std::to_string(hosts.size()) + " hosts");
  }
  bool any_name = false;
  for (const std::string& h : hosts) any_name = any_name || !is_socket_dir(h);
  if (!any_name) co_return;

  std::vector<std::string> new_hosts, new_addrs, new_ports;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const std::string& p = ports.size() == 1 ? ports[0] : ports[i];
    if (is_socket_dir(hosts[i])) {
      new_hosts.push_back(hosts[i]);
      new_addrs.emplace_back();
      new_ports.push_back(p);
      continue;
    }
    for (const net::SocketAddress& a : co_await net::resolve(hosts[i], 0)) {
      new_hosts.push_back(hosts[i]);
      new_addrs.push_back(a.host());
      new_ports.push_back(p);
    }
  }
  *find(o, "host") = join(new_hosts);
  get_or_add(o, "hostaddr") = join(new_addrs);
  get_or_add(o, "port") = join(new_ports);
}

std::string message_of(PGconn* c) {
  std::string m = PQerrorMessage(c);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

std::string notice_field(const PGresult* r, int code) {
  const char* f = PQresultErrorField(r, code);
  return f ? f : "";
}

/// libpq's notice receiver: called inside PQconsumeInput or PQgetResult, so on the worker
/// running the query.
void deliver_notice(void* arg, const PGresult* r) {
  auto* s = static_cast<detail::ConnState*>(arg);
  Notice n;
  n.severity = notice_field(r, PG_DIAG_SEVERITY_NONLOCALIZED);
  n.sqlstate = notice_field(r, PG_DIAG_SQLSTATE);
  n.message = notice_field(r, PG_DIAG_MESSAGE_PRIMARY);
  n.detail = notice_field(r, PG_DIAG_MESSAGE_DETAIL);
  n.hint = notice_field(r, PG_DIAG_MESSAGE_HINT);
  // libpq passes an error that came outside a query here too (a terminated backend's FATAL
  // while idle): kept as the cause of the loss that follows (conn_state.hpp).
  if (n.severity == "ERROR" || n.severity == "FATAL" || n.severity == "PANIC") {
    s->idle_error = ErrorFields{.sqlstate = n.sqlstate,
                                .message = n.message,
                                .detail = n.detail,
                                .hint = n.hint,
                                .query = {}};
  }
  if (!s->on_notice) return;
  try {
    s->on_notice(n);
  } catch (...) {
    // documented: dropped; libpq's C frames above must not see it
  }
}

}  // namespace

Task<Connection> connect(std::string conninfo, ConnectOptions options) {
  Options opts = parse(conninfo);
  const std::string target = describe(opts);
  try {
    co_await resolve_hosts(opts);
  } catch (const net::ResolveError& e) {
    throw ConnectionError(target, e.what());
  }
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : opts) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);

  auto s = std::make_unique<detail::ConnState>();
  s->target = target;
  s->conn = PQconnectStartParams(keys.data(), values.data(), /*expand_dbname=*/0);
  if (!s->conn) throw std::bad_alloc();
  if (PQstatus(s->conn) == CONNECTION_BAD) throw ConnectionError(target, message_of(s->conn));
  // libpq prints notices to stderr by default: they go to the hook, or nowhere. Set before
  // the startup, which may bring some (a WARNING for a bad setting of the role, or the
  // FATAL of a backend terminated as it starts, which libpq hands over as a notice).
  s->on_notice = std::move(options.on_notice);
  PQsetNoticeReceiver(s->conn, &deliver_notice, s.get());
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) throw ConnectionError(target, message_of(s->conn));
    {
      IoRegistration reg(PQsocket(s->conn));
      const Interest in = st == PGRES_POLLING_READING ? Interest::kRead : Interest::kWrite;
      co_await reg.wait(in, reg.ready_seq(in));
    }
    st = PQconnectPoll(s->conn);
  }
  if (PQsetnonblocking(s->conn, 1) != 0) throw ConnectionError(target, message_of(s->conn));
  s->cancel = PQgetCancel(s->conn);
  if (!s->cancel) throw std::bad_alloc();
  s->reg = IoRegistration(PQsocket(s->conn));
  s->statements = detail::StatementCache(options.statement_cache_size);
  co_return Connection(std::move(s));
}

Task<Connection> connect(std::string conninfo, std::chrono::milliseconds timeout,
                         ConnectOptions options) {
  co_return co_await wait_for(connect(std::move(conninfo), options), timeout);
}

}  // namespace weft::pg
