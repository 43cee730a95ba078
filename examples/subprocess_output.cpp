// subprocess_output: run programs and read what they write (asyncio's subprocess examples).
//
//   async def run(cmd):
//       proc = await asyncio.create_subprocess_shell(cmd, stdout=PIPE, stderr=PIPE)
//       stdout, stderr = await proc.communicate()
//       print(f"[{cmd!r} exited with {proc.returncode}]")
//       if stdout: print(f"[stdout]\n{stdout.decode()}")
//       if stderr: print(f"[stderr]\n{stderr.decode()}")
//
//   async def lines():
//       proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", "...", stdout=PIPE)
//       while line := await proc.stdout.readline():
//           print(f"got: {line.decode().rstrip()}")
//       await proc.wait()
//
// Then: input through a pipe (communicate), and the error for a program that does not exist.
// (The argument lists are named variables: GCC 12 cannot compile a braced list inside a
// co_await expression.)
#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

#include <weft/weft.hpp>

namespace {

namespace process = weft::process;

/// asyncio's run(cmd): a shell command, its status and both outputs.
weft::Task<> run_shell(std::string cmd) {
  std::vector<std::string> args{"/bin/sh", "-c", cmd};
  process::Output r = co_await process::run(args);
  std::printf("['%s' exited with %s]\n", cmd.c_str(), r.status.to_string().c_str());
  if (!r.out.empty()) std::printf("[stdout]\n%s", r.out.c_str());
  if (!r.err.empty()) std::printf("[stderr]\n%s", r.err.c_str());
}

/// Reads a child's output as it comes, line by line.
weft::Task<> read_lines() {
  process::Options options{.out = process::Stdio::pipe()};
  process::Child child = process::Child::spawn(
      {"/bin/sh", "-c", "for i in 1 2 3; do echo \"line $i\"; done"}, options);
  std::string pending;
  char buf[64];
  for (;;) {
    std::size_t n = co_await child.out->read(std::as_writable_bytes(std::span(buf)));
    if (n == 0) break;
    pending.append(buf, n);
    for (std::size_t end; (end = pending.find('\n')) != std::string::npos;) {
      std::printf("got: %s\n", pending.substr(0, end).c_str());
      pending.erase(0, end + 1);
    }
  }
  process::ExitStatus status = co_await child.wait();
  std::printf("the line writer ended with %s\n", status.to_string().c_str());
}

/// Feeds a child's stdin and collects its stdout, at the same time.
weft::Task<> shout() {
  process::Options options{.in = process::Stdio::pipe(), .out = process::Stdio::pipe()};
  process::Child tr = process::Child::spawn({"tr", "a-z", "A-Z"}, options);
  process::Output r = co_await tr.communicate("hello, weft\n");
  std::printf("tr made it: %s", r.out.c_str());
}

weft::Task<> main_task() {
  co_await run_shell("echo hello from a subprocess");
  co_await run_shell("ls /zzz");
  co_await read_lines();
  co_await shout();
  try {
    process::Child::spawn({"nosuchprog", "--help"});
  } catch (const std::system_error& e) {
    std::printf("error: %s\n", e.what());
  }
}

}  // namespace

int main() {
  weft::run(main_task());
}
