// graceful_shutdown: a TCP server that shuts down cleanly on SIGTERM while clients are
// connected. The pattern, as asyncio writes it:
//
//   async def main():
//       stop = asyncio.Event()
//       asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
//       drain = asyncio.Event()                                # handlers watch it
//       server = await asyncio.start_server(handle, "127.0.0.1", 0)
//       await stop.wait()
//       server.close(); drain.set()                            # 1. stop accepting, drain
//       done, pending = await asyncio.wait(connections, timeout=5)   # 2. let them finish
//       for task in pending: task.cancel()                     # 3. cancel the rest...
//       await asyncio.gather(*pending, return_exceptions=True) #    ...and wait for them
//
// weft's drain signal is a CancellationToken: the accept loop runs under it
// (run_until_cancelled), and every handler gets a copy. Each connection asks for a job
// ("<name> <seconds>", with " resumable" if the job can stop early and be resumed later)
// and gets an answer when it ends. The program plays its own clients: it starts a 2 s job,
// a resumable 60 s job and a 60 s job, sends itself SIGTERM (kill(getpid(), SIGTERM)) while
// all three run, and reports what the clients saw. The drain signal stops the resumable job
// at once (it tells its client to resume later); the 2 s job finishes within the 5 s grace
// period; the other 60 s one is cancelled at the deadline; a connection attempted after the
// shutdown is refused.
//
// SIGTERM is blocked in main() before the runtime starts, so every thread inherits the mask
// and the signal waits in the kernel for weft::signal instead of killing the process. The
// jobs meet at a Barrier with the driver before they start, so that on the virtual clock
// (which the example checks use) no timer runs while a request is still on its way.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

#include <weft/weft.hpp>

using namespace std::chrono_literals;
using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;

namespace {

double elapsed() {
  static const weft::TimePoint start = weft::now();
  return std::chrono::duration<double>(weft::now() - start).count();
}

/// Everything the peer sends until it half-closes.
weft::Task<std::string> read_to_end(TcpStream& s) {
  std::string text;
  char buf[256];
  for (;;) {
    std::size_t n = co_await s.read(std::as_writable_bytes(std::span(buf)));
    if (n == 0) co_return text;
    text.append(buf, n);
  }
}

/// One connection: reads the job, waits for the line-up, works, answers "done". A resumable
/// job works only until the drain signal, then answers that it stopped early.
weft::Task<void> handle(TcpStream s, weft::Barrier& lineup, weft::CancellationToken drain) {
  const std::string request = co_await read_to_end(s);
  const std::string name = request.substr(0, request.find(' '));
  const int seconds = std::stoi(request.substr(request.find(' ') + 1));
  const bool resumable = request.ends_with(" resumable");
  co_await lineup.wait();
  try {
    if (!resumable) {
      co_await weft::sleep(std::chrono::seconds(seconds));  // the job
    } else if (!co_await drain.run_until_cancelled(weft::sleep(std::chrono::seconds(seconds)))) {
      std::printf("%s: drain signal at %.1f s: progress saved\n", name.c_str(), elapsed());
      co_await s.write_all(std::string_view("stopped early, resume later"));
      co_return;
    }
  } catch (const weft::CancelledError&) {
    std::printf("%s: job cancelled at %.1f s\n", name.c_str(), elapsed());
    throw;  // the connection closes as the stream is destroyed
  }
  std::printf("%s: job done at %.1f s\n", name.c_str(), elapsed());
  co_await s.write_all(std::string_view("done"));
}

weft::Task<void> accept_loop(TcpListener& listener, std::vector<weft::JoinHandle<void>>& conns,
                             weft::Barrier& lineup, weft::CancellationToken drain) {
  for (;;) {
    auto [stream, peer] = co_await listener.accept();
    conns.push_back(weft::spawn(handle(std::move(stream), lineup, drain)));
  }
}

weft::Task<void> serve(TcpListener& listener, weft::signal::Listener& sigterm,
                       weft::Barrier& lineup) {
  weft::CancellationToken drain;
  std::vector<weft::JoinHandle<void>> connections;
  auto acceptor =
      weft::spawn(drain.run_until_cancelled(accept_loop(listener, connections, lineup, drain)));
  co_await sigterm.recv();

  // 1. Drain: the accept loop ends (new connections are refused from here on) and the
  //    handlers are told to wrap up.
  std::printf("server: SIGTERM at %.1f s: no longer accepting connections\n", elapsed());
  drain.cancel();
  co_await acceptor;
  listener.close();

  // 2. Let the connections finish, up to a deadline.
  std::printf("server: waiting up to 5 s for %zu connection(s) to finish\n", connections.size());
  auto sets = co_await weft::wait(std::move(connections), weft::ReturnWhen::AllCompleted, 5s);

  // 3. Cancel the ones still busy, and wait for them to end.
  if (!sets.pending.empty()) {
    std::printf("server: %zu connection(s) still busy at %.1f s: cancelling them\n",
                sets.pending.size(), elapsed());
  }
  for (auto& h : sets.pending) h.cancel();
  for (auto& h : sets.pending) {
    try {
      co_await h;
    } catch (const weft::CancelledError&) {
    }
  }
  for (auto& h : sets.done) co_await h;  // a connection that failed would throw here
  std::printf("server: stopped at %.1f s\n", elapsed());
}

/// A client: asks for a job and returns the server's answer ("" if it closed instead).
weft::Task<std::string> client(SocketAddress server, std::string job) {
  TcpStream s = co_await TcpStream::connect(server);
  co_await s.write_all(std::string_view(job));
  s.shutdown();  // the request is complete
  co_return co_await read_to_end(s);
}

void report(const char* name, const std::string& answer) {
  if (answer.empty()) {
    std::printf("main: %s's client got the end of the stream (its job was cancelled)\n", name);
  } else {
    std::printf("main: %s's client got '%s'\n", name, answer.c_str());
  }
}

weft::Task<void> main_task() {
  elapsed();
  weft::signal::Listener sigterm(SIGTERM);  // listening before anything can send it
  TcpListener listener = TcpListener::bind(SocketAddress::ip("127.0.0.1", 0));
  const SocketAddress address = listener.local_address();
  std::printf("server: listening on 127.0.0.1\n");
  weft::Barrier lineup(4);  // the three jobs and this driver
  auto server = weft::spawn(serve(listener, sigterm, lineup));
  auto short_job = weft::spawn(client(address, "report 2"));
  auto resumable_job = weft::spawn(client(address, "backup 60 resumable"));
  auto long_job = weft::spawn(client(address, "reindex 60"));
  co_await lineup.wait();
  std::printf(
      "main: three jobs are running (report: 2 s, backup: 60 s resumable, "
      "reindex: 60 s)\n");

  std::printf("main: sending SIGTERM to this process\n");
  ::kill(::getpid(), SIGTERM);
  co_await server;

  report("report", co_await short_job);
  report("backup", co_await resumable_job);
  report("reindex", co_await long_job);
  try {
    co_await TcpStream::connect(address);
    std::printf("main: a new connection after the shutdown was accepted\n");
  } catch (const std::system_error& e) {
    std::printf("main: a new connection after the shutdown: %s\n", e.code().message().c_str());
  }
}

}  // namespace

int main() {
  weft::signal::block({SIGTERM});  // before the runtime: every thread inherits the mask
  weft::run(main_task());
}
