// request_id: a request id set once per request (contextvars.ContextVar), seen by the tasks
// the handler spawns and by the function it runs on the blocking pool, never by the other
// request; `scope` sets it for one awaited task only.
//
//   request_id = contextvars.ContextVar("request_id")
//
//   def log(msg):
//       print(f"[{request_id.get('-')}] {msg}")
//
//   async def audit(action):
//       await asyncio.sleep(1)
//       log(f"audited {action}")
//
//   async def handle(rid, delay):
//       request_id.set(rid)
//       log("started")
//       await asyncio.sleep(delay)
//       audit_task = asyncio.create_task(audit("payment"))
//       await asyncio.to_thread(log, "wrote the receipt")
//       await audit_task
//       log("done")
//
//   async def main():
//       await asyncio.gather(handle("req-1", 1), handle("req-2", 3))
//       log("all requests served")
//
//   asyncio.run(main())
#include <chrono>
#include <cstdio>
#include <string>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

const weft::TaskLocal<std::string> request_id{"request_id"};

// A logger that knows nothing of requests: the id comes from the running task.
void log(const std::string& msg) {
  std::printf("[%s] %s\n", request_id.get_or("-").c_str(), msg.c_str());
}

weft::Task<> audit(std::string action) {
  co_await weft::sleep(1s);
  log("audited " + action);
}

weft::Task<> handle(std::string id, std::chrono::seconds delay) {
  request_id.set(std::move(id));  // for this task and the tasks it spawns from here on
  log("started");
  co_await weft::sleep(delay);
  auto audit_task = weft::spawn(audit("payment"));             // starts with this task's id
  co_await weft::to_thread([] { log("wrote the receipt"); });  // the pool sees it too
  co_await audit_task;
  log("done");
}

weft::Task<> warm_up() {
  log("cache warmed");
  co_return;
}

weft::Task<> main_task() {
  co_await request_id.scope("startup", warm_up());  // set for warm_up() only
  co_await weft::gather(handle("req-1", 1s), handle("req-2", 3s));
  log("all requests served");  // "[-] all requests served"
}

}  // namespace

int main() {
  weft::run(main_task());
}
