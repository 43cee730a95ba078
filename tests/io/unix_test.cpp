// weft::net::UnixStream and UnixListener: echo over a path and an abstract name, the socket
// file's life (bind refuses an existing path, unlink_stale removes only a dead socket, close
// removes only the file bind made), errors naming the path without leaking descriptors,
// socket pairs and peer credentials.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "open_fds.hpp"
#include "stress_scale.hpp"

using weft::net::SocketAddress;
using weft::net::UnixListener;
using weft::net::UnixStream;

namespace {

using weft_test::open_fds;

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s));
}

std::string text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

/// Leaves a socket file at `path` that no one listens on (a server that died).
void make_stale_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  SocketAddress a = SocketAddress::unix_path(path);
  ASSERT_EQ(::bind(fd, a.data(), a.size()), 0) << path;
  ::close(fd);
}

/// An abstract name no other test process uses.
std::string abstract_name(const char* what) {
  return "@weft-test-" + std::to_string(::getpid()) + "-" + what;
}

/// A fresh directory for socket files, removed with whatever is left in it.
class Unix : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weft-unix-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (DIR* d = ::opendir(dir_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") ::unlink((dir_ + "/" + name).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(dir_.c_str());
  }
  std::string path(const char* name) const { return dir_ + "/" + name; }

  std::string dir_;
};

/// Echoes what it reads until end of stream, then half-closes.
weft::Task<void> echo(UnixStream s) {
  std::vector<std::byte> buf(4096);
  for (;;) {
    std::size_t n = co_await s.read(buf);
    if (n == 0) break;
    co_await s.write_all(std::span(buf).first(n));
  }
  s.shutdown();
}

weft::Task<void> serve(UnixListener& l, int connections) {
  std::vector<weft::JoinHandle<void>> hs;
  for (int i = 0; i < connections; ++i) {
    auto [s, peer] = co_await l.accept();
    EXPECT_EQ(peer.family(), AF_UNIX);
    hs.push_back(weft::spawn(echo(std::move(s))));
  }
  for (auto& h : hs) co_await h;
}

/// Connects to `path`, writes `msg`, half-closes and reads until end of stream.
weft::Task<std::string> round_trip(std::string path, std::string msg) {
  UnixStream c = co_await UnixStream::connect(path);
  co_await c.write_all(bytes(msg));
  c.shutdown();
  std::string got;
  std::byte buf[256];
  for (;;) {
    std::size_t n = co_await c.read(buf);
    if (n == 0) break;
    got += text(std::span(buf).first(n));
  }
  co_return got;
}

TEST_F(Unix, EchoesOverAPathAndRemovesTheSocketFileOnClose) {
  const std::string p = path("echo.sock");
  weft::RuntimeOptions o;
  o.workers = 2;
  weft::run(
      [](std::string p) -> weft::Task<void> {
        UnixListener l = UnixListener::bind(p);
        EXPECT_TRUE(is_socket(p));
        EXPECT_EQ(l.path(), p);
        EXPECT_EQ(l.local_address(), SocketAddress::unix_path(p));
        auto server = weft::spawn(serve(l, 2));
        EXPECT_EQ(co_await round_trip(p, "over a path"), "over a path");
        EXPECT_EQ(co_await round_trip(p, std::string(100000, 'u')), std::string(100000, 'u'));
        co_await server;
        l.close();
        EXPECT_FALSE(exists(p));
        EXPECT_EQ(l.path(), "");
      }(p),
      o);
}

TEST_F(Unix, TheListenersDestructorRemovesTheSocketFile) {
  const std::string p = path("dtor.sock");
  {
    UnixListener l = UnixListener::bind(p);
    UnixListener moved = std::move(l);
    l.close();  // the moved-from listener owns nothing
    EXPECT_TRUE(is_socket(p));
  }
  EXPECT_FALSE(exists(p));
}

TEST_F(Unix, UnlinkOnCloseOffLeavesTheFile) {
  const std::string p = path("keep.sock");
  UnixListener::bind(p, {.unlink_on_close = false}).close();
  EXPECT_TRUE(is_socket(p));
}

TEST_F(Unix, EchoesOverAnAbstractNameWithoutAFile) {
  const std::string name = abstract_name("echo");
  weft::run([](std::string name) -> weft::Task<void> {
    UnixListener l = UnixListener::bind(name);
    EXPECT_EQ(l.local_address().host(), name);
    EXPECT_EQ(l.local_address().to_string(), "unix:" + name);
    auto server = weft::spawn(serve(l, 1));
    EXPECT_EQ(co_await round_trip(name, "abstract"), "abstract");
    co_await server;
  }(name));
}

TEST_F(Unix, BindOnAnExistingPathFailsNamingItAndLeaksNoDescriptor) {
  const std::string p = path("taken.sock");
  make_stale_socket(p);
  const int before = open_fds();
  for (int i = 0; i < 3; ++i) {
    try {
      UnixListener::bind(p);
      ADD_FAILURE() << "bound an existing path";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EADDRINUSE);
      EXPECT_NE(std::string(e.what()).find("bind unix:" + p), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("unlink_stale"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(open_fds(), before);
  EXPECT_TRUE(is_socket(p));  // a failed bind leaves the file as it was
}

TEST_F(Unix, UnlinkStaleRemovesADeadSocketFileAndBinds) {
  const std::string p = path("stale.sock");
  make_stale_socket(p);
  weft::run([](std::string p) -> weft::Task<void> {
    UnixListener l = UnixListener::bind(p, {.unlink_stale = true});
    auto server = weft::spawn(serve(l, 1));
    EXPECT_EQ(co_await round_trip(p, "fresh"), "fresh");
    co_await server;
  }(p));
  EXPECT_FALSE(exists(p));
}

TEST_F(Unix, UnlinkStaleLeavesALiveSocketAlone) {
  const std::string p = path("live.sock");
  UnixListener live = UnixListener::bind(p);
  try {
    UnixListener::bind(p, {.unlink_stale = true});
    ADD_FAILURE() << "took over a live socket";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE);
    EXPECT_NE(std::string(e.what()).find("a server listens there"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(is_socket(p));
  weft::run([](std::string p, UnixListener& live) -> weft::Task<void> {
    // The probe's connection waits in the backlog; the live server still serves.
    auto server = weft::spawn(serve(live, 2));
    EXPECT_EQ(co_await round_trip(p, "still mine"), "still mine");
    co_await server;
  }(p, live));
}

TEST_F(Unix, UnlinkStaleLeavesARegularFileAlone) {
  const std::string p = path("data.txt");
  int fd = ::open(p.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  try {
    UnixListener::bind(p, {.unlink_stale = true});
    ADD_FAILURE() << "bound over a regular file";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE);
  }
  EXPECT_TRUE(exists(p));
  EXPECT_FALSE(is_socket(p));
}

TEST_F(Unix, CloseDoesNotRemoveAFileThatReplacedItsOwn) {
  const std::string p = path("replaced.sock");
  UnixListener first = UnixListener::bind(p);
  ASSERT_EQ(::unlink(p.c_str()), 0);  // someone removed it, and a second server took the path
  UnixListener second = UnixListener::bind(p);
  first.close();
  EXPECT_TRUE(is_socket(p));
  second.close();
  EXPECT_FALSE(exists(p));
}

TEST_F(Unix, ConnectToAMissingPathNamesItAndLeaksNoDescriptor) {
  const std::string p = path("nobody.sock");
  weft::run([](std::string p) -> weft::Task<void> {
    const int before = open_fds();
    for (int i = 0; i < 3; ++i) {
      try {
        co_await UnixStream::connect(p);
        ADD_FAILURE() << "connected to a missing path";
      } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
        EXPECT_NE(std::string(e.what()).find("connect unix:" + p), std::string::npos) << e.what();
      }
    }
    EXPECT_EQ(open_fds(), before);
  }(p));
}

TEST_F(Unix, ConnectToADeadSocketIsRefused) {
  const std::string p = path("dead.sock");
  make_stale_socket(p);
  weft::run([](std::string p) -> weft::Task<void> {
    try {
      co_await UnixStream::connect(p);
      ADD_FAILURE() << "connected to a dead socket";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ECONNREFUSED);
    }
  }(p));
}

TEST(UnixAddress, BadPathsAndAddressesAreInvalidArguments) {
  EXPECT_THROW(UnixListener::bind(""), std::invalid_argument);
  EXPECT_THROW(UnixListener::bind(std::string(200, 'x')), std::invalid_argument);
  EXPECT_THROW(UnixListener::bind(SocketAddress::ip("127.0.0.1", 0)), std::invalid_argument);
  EXPECT_THROW((void)UnixStream::connect(""), std::invalid_argument);
  weft::run([]() -> weft::Task<void> {
    EXPECT_THROW(co_await UnixStream::connect(SocketAddress::ip("127.0.0.1", 9)),
                 std::invalid_argument);
  }());
}

TEST(UnixAddress, AnAbstractNameInUseIsAddressInUse) {
  const std::string name = abstract_name("twice");
  UnixListener a = UnixListener::bind(name);
  try {
    UnixListener::bind(name);
    ADD_FAILURE() << "bound an abstract name twice";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE);
    EXPECT_NE(std::string(e.what()).find("bind unix:" + name), std::string::npos) << e.what();
  }
}

TEST(UnixPair, TheTwoEndsTalkAndKnowTheirPeer) {
  weft::run([]() -> weft::Task<void> {
    auto [a, b] = UnixStream::pair();
    co_await a.write_all("ping");
    std::byte buf[4];
    co_await b.read_exact(buf);
    EXPECT_EQ(text(buf), "ping");
    a.shutdown();
    EXPECT_EQ(co_await b.read(buf), 0u);
    weft::net::PeerCredentials cred = b.peer_credentials();
    EXPECT_EQ(cred.pid, ::getpid());
    EXPECT_EQ(cred.uid, ::getuid());
    EXPECT_EQ(cred.gid, ::getgid());
    EXPECT_EQ(a.peer_address().to_string(), "unix:");  // unnamed
  }());
}

TEST(UnixPair, TheStreamIsATcpStreamUnderneath) {
  weft::run([]() -> weft::Task<void> {
    auto [a, b] = UnixStream::pair();
    weft::net::TcpStream& ta = a.stream();
    co_await ta.write_all("via TcpStream");
    std::byte buf[13];
    co_await b.read_exact(buf);
    EXPECT_EQ(text(buf), "via TcpStream");
  }());
}

/// Connects, writes a numbered message `rounds` times and checks each echo.
weft::Task<int> unix_client(std::string path, int id, int rounds) {
  UnixStream c = co_await UnixStream::connect(path);
  std::string msg = "client " + std::to_string(id);
  std::vector<std::byte> buf(msg.size());
  int ok = 0;
  for (int r = 0; r < rounds; ++r) {
    co_await c.write_all(bytes(msg));
    co_await c.read_exact(buf);
    if (text(buf) == msg) ++ok;
  }
  c.shutdown();
  co_return ok;
}

class UnixStress : public Unix {};

TEST_F(UnixStress, ManyConnectionsAcrossWorkersEchoEveryMessage) {
  const int conns = static_cast<int>(weft::test::scaled(100, 10));
  const int rounds = static_cast<int>(weft::test::scaled(100, 10));
  weft::RuntimeOptions o;
  o.workers = 4;
  const std::string p = path("stress.sock");
  int ok = weft::run(
      [](std::string p, int conns, int rounds) -> weft::Task<int> {
        UnixListener l = UnixListener::bind(p);
        auto server = weft::spawn(serve(l, conns));
        std::vector<weft::Task<int>> cs;
        for (int i = 0; i < conns; ++i) cs.push_back(unix_client(p, i, rounds));
        std::vector<int> results = co_await weft::gather(std::move(cs));
        co_await server;
        int total = 0;
        for (int r : results) total += r;
        co_return total;
      }(p, conns, rounds),
      o);
  EXPECT_EQ(ok, conns * rounds);
}

}  // namespace

TEST_F(Unix, TryReadAndTryWriteWithReadableWork) {
  const std::string name = abstract_name("try");
  weft::run([](std::string name) -> weft::Task<void> {
    UnixListener l = UnixListener::bind(name);
    UnixStream c = co_await UnixStream::connect(name);
    auto [s, peer] = co_await l.accept();
    std::byte buf[8];
    EXPECT_EQ(c.try_read(buf), std::nullopt);
    const std::string_view msg = "unix";
    EXPECT_EQ(s.try_write(std::as_bytes(std::span(msg))), std::optional<std::size_t>(4));
    std::optional<std::size_t> n;
    for (int tries = 0; tries < 100 && !n; ++tries) {  // a wake-up without data tries again
      co_await c.readable();
      n = c.try_read(buf);
    }
    EXPECT_EQ(n, std::optional<std::size_t>(4));
    co_await s.writable();  // the last try_write fitted: at once
  }(name));
}
