// weft::signal: waiting for Unix signals in tasks (asyncio's loop.add_signal_handler), on
// signalfd — readiness of an fd on the reactor, like a socket.
//
// ## The one rule: block the signals first, in main()
// A signalfd only sees signals that are blocked: an unblocked signal goes to its handler or
// default action (SIGTERM, SIGINT: the process dies) in whichever thread the kernel picks,
// and that may be any thread that does not block it. So the signals a program waits for
// must be blocked in every thread. Threads inherit the mask of the thread that creates them,
// so one call at the top of main(), before the runtime (or any other thread) starts, does it
// for weft's workers, its blocking pool and oneTBB's threads:
//
//   int main() {
//     weft::signal::block({SIGTERM, SIGINT});
//     return weft::run(serve());   // serve() does co_await weft::signal::wait(SIGTERM)
//   }
//
// The first Listener of a signal checks every thread of the process (/proc/self/task) and
// throws UsageError, naming the thread, if one of them does not block it — a clear error
// at once instead of a process that dies on the first SIGTERM. Child processes spawned by
// weft::process start with an empty mask, whatever the parent blocks.
//
// ## Delivery
// Every Listener of a signal sees every delivery read after it was created (a broadcast, as
// Tokio's signal streams): one SIGTERM wakes every task waiting for SIGTERM. Deliveries
// that come while nobody waits are kept for each existing Listener (its next recv returns at
// once), and a signal still pending in the kernel when a Listener is created (it was blocked
// before anybody listened) counts as new. The kernel keeps at most one pending instance of a
// standard signal, so two SIGTERMs sent before anyone reads may arrive as one; real-time
// signals are queued and counted one by one. Only process-directed signals are seen
// reliably (kill(2), the terminal, a service manager); a signal directed at one thread
// (raise() in a multi-threaded process, pthread_kill) is seen only if that thread happens to
// read. A program that reads the same signals itself (its own signalfd, sigwaitinfo) takes
// them from weft.
//
// ## Protocol
// One channel per signal number while a Listener of it exists: a signalfd, its reactor
// registration, and the count of deliveries read so far, under a SpinLock. Each Listener
// remembers the count it has seen. A recv that finds the count moved returns at once. Else
// one recv at a time is the *poller*: it reads the signalfd and waits for its readiness;
// the other recvs wait in the channel's waiter list (nodes in their frames) until the count
// moves or the poller steps down. The poller always steps down when it stops — with news,
// after a spurious wake-up, cancelled — and wakes every waiter, so one of them takes over.
// Nothing reads the signalfd without waking the waiters, so no delivery goes unnoticed.
//
// ## Cancellation
// recv() is a cancellation point. A cancelled recv consumes nothing: deliveries stay
// counted for every listener, including its own (the next recv returns them). A cancelled
// poller hands the signalfd to a waiting recv.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

#include <weft/runtime/task.hpp>

namespace weft::signal {

namespace detail {
struct Channel;
}  // namespace detail

/// Blocks `signals` in the calling thread (pthread_sigmask), so that they stay pending for
/// weft instead of being delivered. Call it in main() before the runtime or any other thread
/// starts (threads inherit the mask). Throws std::invalid_argument for a signal weft cannot
/// wait for (see Listener), UsageError on a weft worker (it would block one thread only).
void block(std::span<const int> signals);
/// block() for a braced list: `weft::signal::block({SIGTERM, SIGINT})`.
inline void block(std::initializer_list<int> signals) {
  block(std::span<const int>(signals.begin(), signals.size()));
}

/// "SIGTERM", "SIGRTMIN+2", or "signal 99" for a number that names none. Any thread.
std::string name(int signo);

/// Receives every delivery of one signal from its creation on (see the file comment).
/// Move-only. Create, recv and destroy it from any thread; one recv at a time per listener;
/// use it within one runtime (its signalfd joins the epoll of the worker where it first waits).
class Listener {
 public:
  /// Starts listening for `signo`. Throws std::invalid_argument naming the signal if weft
  /// cannot wait for it (SIGKILL, SIGSTOP, the fault signals SIGSEGV, SIGBUS, SIGILL, SIGFPE
  /// and SIGTRAP, glibc's internal signals, or no signal at all), UsageError naming the
  /// thread if some thread does not block it, std::system_error if signalfd fails.
  explicit Listener(int signo);
  /// Takes over `o`'s place among the listeners, with the deliveries it has not received.
  Listener(Listener&& o) noexcept;
  /// Stops listening as the destructor does, then takes over `o`.
  Listener& operator=(Listener&& o) noexcept;
  /// Stops listening. Must not run while a recv() of this listener is in progress.
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// `co_await l.recv()` returns once the signal has been delivered since the listener was
  /// created or its previous recv returned — at once if that already happened — with the
  /// number of deliveries it covers (at least 1). From a task; a cancellation point (a
  /// cancelled recv loses no delivery). Throws UsageError on a moved-from listener.
  Task<std::size_t> recv();

  /// The signal it listens for (0 when moved from).
  int signo() const noexcept { return signo_; }

 private:
  void release() noexcept;

  detail::Channel* ch_ = nullptr;
  std::uint64_t seen_ = 0;  // the channel's delivery count this listener has taken
  int signo_ = 0;
};

/// `co_await weft::signal::wait(SIGTERM)`: waits for the next delivery of `signo` (a signal
/// still pending counts). The same errors as Listener, raised when awaited. A cancellation
/// point. To not miss deliveries between two waits, keep a Listener instead.
Task<void> wait(int signo);

}  // namespace weft::signal
