// Task dumps on SIGUSR1 (RuntimeOptions::dump_tasks_on_sigusr1): a runtime that asks for
// them is registered here for as long as it runs; the signal makes every registered
// runtime dump its tasks to its handler (stderr by default).
//
// The rule: the signal handler only writes a byte to a pipe (async-signal-safe, and
// non-blocking, so a burst of signals never blocks whichever thread the kernel picked); a
// thread of this process, started with the first registration, reads the pipe and dumps
// each registered runtime under the registry's lock. Unregistering takes the same lock, so a
// runtime is never dumped once its shutdown has begun, and its shutdown waits for a dump in
// progress to end. The handler is installed while at least one runtime is registered, and
// the disposition it replaced is restored when the last one leaves.
#pragma once

#include <functional>

#include "weft/runtime/task_dump.hpp"

namespace weft::detail {

class Scheduler;

/// The registration of one runtime: made by its scheduler's construction, dropped at the
/// start of its shutdown.
class DumpSignalRegistration {
 public:
  DumpSignalRegistration(Scheduler& sched, TaskDumpHandler handler);
  ~DumpSignalRegistration();
  DumpSignalRegistration(const DumpSignalRegistration&) = delete;
  DumpSignalRegistration& operator=(const DumpSignalRegistration&) = delete;

 private:
  Scheduler& sched_;
};

}  // namespace weft::detail
